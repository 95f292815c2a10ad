"""Plug-in restorers: `spandrel:PATH` (any checkpoint spandrel recognises) and `MODULE:CALLABLE`.

`spandrel:PATH` loads a checkpoint with spandrel (ESRGAN, SwinIR, HAT, FBCNN, DnCNN, SCUNet, ... ;
REFERENCE.md section 6.4); the scale comes from the checkpoint. `MODULE:CALLABLE` imports
`CALLABLE` from the Python module `MODULE` (importable: on `sys.path` / `PYTHONPATH`). It may be

- a **function** `restore(image) -> image` on HxWx3 uint8 RGB arrays; its scale is its `scale`
  attribute (`restore.scale = 4`), 1 when absent;
- a **factory** whose one parameter is named `options` (`make(options) -> Preprocessor`; `options` is a
  `harness.registry.BuildOptions`: device, weights, tile, self_ensemble);
- a **Preprocessor subclass** (constructed with `options=` when its constructor takes `options`, else
  with no arguments) or a Preprocessor instance.

Every error names the plug-in spec, on one line. See docs/compare_your_restorer.md.
"""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import numpy as np
import torch
from torch import nn

from harness.errors import HarnessError, one_line
from harness.registry import BuildOptions, Preprocessor

SPANDREL_INSTALL = "pip install spandrel==0.4.2"


# -- spandrel:PATH ---------------------------------------------------------------------------------

class _DescriptorModule(nn.Module):
    """An nn.Module calling a spandrel ImageModelDescriptor (which pads to its size requirements,
    clamps to [0, 1] and crops back), so TorchRestorer can tile, batch and self-ensemble it."""

    def __init__(self, descriptor):
        super().__init__()
        self.net = descriptor.model  # registered, so .to() / .parameters() reach the weights
        self.descriptor = descriptor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.descriptor(x)


def load_spandrel_descriptor(file: Path, label: str):
    """Return spandrel's ImageModelDescriptor for the RGB image-to-image checkpoint `file`; every error
    is one line that starts with `label`."""
    try:
        import spandrel
    except ImportError:
        raise HarnessError(f"{label}: the spandrel package is not installed; "
                           f"run: {SPANDREL_INSTALL}") from None
    try:
        descriptor = spandrel.ModelLoader(device="cpu").load_from_file(file)
    except spandrel.UnsupportedModelError:
        raise HarnessError(f"{label}: unsupported architecture (spandrel "
                           f"{spandrel.__version__} recognises no model in this checkpoint)") from None
    except Exception as exc:  # a third-party loader on a user's file: report any failure on one line
        raise HarnessError(f"{label}: cannot load ({one_line(exc)})") from None
    arch = descriptor.architecture.name
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise HarnessError(f"{label}: {arch} is a {type(descriptor).__name__} (inpainting or "
                           f"masked model), not an image-to-image restorer")
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise HarnessError(f"{label}: {arch} takes {descriptor.input_channels} input and gives "
                           f"{descriptor.output_channels} output channels; the harness needs RGB (3 and 3)")
    return descriptor


def spandrel_restorer(descriptor, file: Path, name: str, options: BuildOptions,
                      extra: dict | None = None) -> Preprocessor:
    """Return a TorchRestorer named `name` running a spandrel `descriptor` loaded from `file`; its
    description adds the architecture, the weights file and its hash, and spandrel's version to `extra`."""
    import spandrel

    from harness.store import file_sha256
    from preproc.torch_restorer import TorchRestorer

    extra = {**(extra or {}), "architecture": descriptor.architecture.id, "purpose": descriptor.purpose,
             "weights": str(file), "weights_sha256": file_sha256(file),
             "spandrel_version": spandrel.__version__}
    restorer = TorchRestorer(_DescriptorModule(descriptor), scale=descriptor.scale, name=name,
                             options=options, describe_extra=extra)
    if options.tile is None and descriptor.tiling != spandrel.ModelTiling.SUPPORTED:
        restorer.tile = 0  # the model says tiling is discouraged or done internally: run whole images
    return restorer


def spandrel_stage(path: str, options: BuildOptions) -> Preprocessor:
    """Return the Preprocessor for `spandrel:PATH`: the checkpoint at PATH loaded by spandrel."""
    spec = f"spandrel:{path}"
    file = Path(path).expanduser()
    if not path:
        raise HarnessError(f"plug-in {spec!r}: give a checkpoint path after 'spandrel:'")
    if not file.is_file():
        raise HarnessError(f"plug-in {spec!r}: file not found")
    descriptor = load_spandrel_descriptor(file, f"plug-in {spec!r}")
    return spandrel_restorer(descriptor, file, spec, options, extra={"plugin": "spandrel"})


# -- MODULE:CALLABLE -------------------------------------------------------------------------------

class CallableRestorer(Preprocessor):
    """A user's function `image -> image` as a Preprocessor; its failures name the plug-in."""

    def __init__(self, fn, name: str, scale: int):
        self.fn, self.name, self.scale = fn, name, scale

    def __call__(self, image: np.ndarray) -> np.ndarray:
        try:
            out = self.fn(image)
        except HarnessError:
            raise
        except (Exception, SystemExit) as exc:  # the user's code: report which plug-in failed, on one line
            raise HarnessError(f"plug-in {self.name!r} failed on a {image.shape[0]}x{image.shape[1]} "
                               f"image ({one_line(exc)})") from None
        if not isinstance(out, np.ndarray):
            raise HarnessError(f"plug-in {self.name!r} returned {type(out).__name__}, not a numpy array "
                               f"(HxWx3 uint8)")
        return out

    def describe(self) -> dict:
        return {"name": self.name, "scale": self.scale, "plugin": "callable",
                "callable": f"{getattr(self.fn, '__module__', '?')}.{getattr(self.fn, '__qualname__', '?')}"}


def _import(spec: str):
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise HarnessError(f"plug-in {spec!r}: expected MODULE:CALLABLE, e.g. my_restorers:sharpen")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        hint = " (is its folder on PYTHONPATH?)" if exc.name == module_name.split(".")[0] else ""
        raise HarnessError(f"plug-in {spec!r}: cannot import module {module_name!r}{hint} "
                           f"({one_line(exc)})") from None
    except (Exception, SystemExit) as exc:  # the user's module failed while importing: name it, on one line
        raise HarnessError(f"plug-in {spec!r}: importing module {module_name!r} failed "
                           f"({one_line(exc)})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise HarnessError(f"plug-in {spec!r}: module {module_name!r} has no attribute {attr!r}") from None


def _positional(fn) -> list[inspect.Parameter] | None:
    """Return the parameters of `fn` that can be passed positionally, or None if it has no signature."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]


def _required_positional(params: list[inspect.Parameter]) -> int:
    return sum(1 for p in params if p.kind != p.VAR_POSITIONAL and p.default is p.empty)


def _declared_scale(spec: str, fn) -> int:
    scale = getattr(fn, "scale", 1)
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise HarnessError(f"plug-in {spec!r}: its 'scale' attribute must be a positive integer, "
                           f"got {scale!r}")
    return int(scale)


def callable_stage(spec: str, options: BuildOptions) -> Preprocessor:
    """Return the Preprocessor for `MODULE:CALLABLE` (see the module docstring for what it may be)."""
    target = _import(spec)
    if isinstance(target, Preprocessor):
        return target
    if inspect.isclass(target):
        if not issubclass(target, Preprocessor):
            raise HarnessError(f"plug-in {spec!r}: class {target.__name__} is not a "
                               f"harness.registry.Preprocessor subclass (give a function or a subclass)")
        takes_options = "options" in (_signature_names(target) or ())
        try:
            stage = target(options=options) if takes_options else target()
        except HarnessError:
            raise
        except (Exception, SystemExit) as exc:  # the user's constructor
            raise HarnessError(f"plug-in {spec!r}: constructing {target.__name__} failed "
                               f"({one_line(exc)})") from None
        if getattr(stage, "name", None) in (None, Preprocessor.name):
            stage.name = spec
        return stage
    if not callable(target):
        raise HarnessError(f"plug-in {spec!r}: {type(target).__name__} object is not callable")
    params = _positional(target)
    if params is not None and [p.name for p in params] == ["options"]:
        try:
            stage = target(options)
        except HarnessError:
            raise
        except (Exception, SystemExit) as exc:  # the user's factory
            raise HarnessError(f"plug-in {spec!r}: the factory failed ({one_line(exc)})") from None
        if not isinstance(stage, Preprocessor):
            raise HarnessError(f"plug-in {spec!r}: a factory taking 'options' must return a Preprocessor, "
                               f"got {type(stage).__name__}")
        return stage
    if params is not None:
        required = _required_positional(params)
        if required > 1 or not params:
            got = ", ".join(p.name for p in params)
            raise HarnessError(f"plug-in {spec!r}: a restorer function takes one argument, the HxWx3 uint8 "
                               f"image, but {getattr(target, '__name__', 'it')}({got}) cannot be called "
                               f"with one")
    return CallableRestorer(target, name=spec, scale=_declared_scale(spec, target))


def _signature_names(cls) -> list[str] | None:
    try:
        return list(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        return None
