"""Preprocessors (restorers) and the explicit table that names them.

A preprocessor maps an HxWx3 uint8 RGB image to another and declares its `scale` (output size / input
size: 1 or 4), so tasks can map coordinates back. A spec names one preprocessor or a pipeline of stages
joined by `+`, applied left to right (REFERENCE.md section 7):

    none | bicubic | cajnn | arcnn+rrdb | cajnn+down | spandrel:PATH | my_module:my_restorer

`down` resizes back to the size of the pipeline's input (MATLAB bicubic). Names resolve through
`REGISTRY`, an explicit table of `module:factory` strings imported on first use (so the harness does not
import heavy restorers it does not need). `register()` adds a restorer from Python (a notebook).
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from harness.errors import HarnessError, one_line
from harness.image import check_image
from harness.resize import imresize


@dataclass
class BuildOptions:
    """Options every factory receives: the device, weights overrides by stage name, tiling, and the
    arithmetic precision of network restorers (fp32, or bf16 / fp16 autocast: preproc/torch_restorer.py)."""

    device: str = "cpu"
    weights: dict[str, str] = field(default_factory=dict)
    tile: int | None = None
    self_ensemble: bool = False
    precision: str = "fp32"


class Preprocessor:
    """Base class: a restorer from HxWx3 uint8 RGB to HxWx3 uint8 RGB with a fixed `scale`."""

    name: str = "preprocessor"
    scale: int = 1

    def __call__(self, image: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def process_batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Return the outputs for a list of images (override to batch same-size inputs)."""
        return [self(img) for img in images]

    def describe(self) -> dict:
        """Return what identifies this restorer in results (name, scale, weights and their hash)."""
        return {"name": self.name, "scale": self.scale}

    def about(self) -> dict:
        """Return what a report may say of this restorer beyond `describe()` (e.g. `train_data`, the names of
        the folders its weights were trained on). Not part of its identity: it never changes a record key."""
        return dict(getattr(self, "about_extra", None) or {})

    @property
    def num_parameters(self) -> int | None:
        """Return the number of learned parameters, or None for a non-learned method."""
        return None


def training_data(train_config: str | None) -> list[str]:
    """Return the training folder names of a shipped training config (preproc/configs/NAME.json), or []: what the
    report names for results written before restorers gave their `train_data` in `about()`."""
    return _resolve("preproc.checkpoints:training_data")(train_config)


def report_description(pre: Preprocessor) -> dict:
    """Return `pre.describe()` with each stage's `about()` added: what a task writes beside its tables for the
    report (the records stay keyed by `describe()` alone)."""
    described = pre.describe()
    stages = getattr(pre, "stages", None)
    if stages and "stages" in described:
        return {**described, "stages": [{**d, **s.about()} for d, s in zip(described["stages"], stages)]}
    return {**described, **(stages[0].about() if stages and len(stages) == 1 else pre.about())}


class Identity(Preprocessor):
    """The `none` preprocessor: returns its input unchanged."""

    name = "none"

    def __call__(self, image):
        return image


class FunctionPreprocessor(Preprocessor):
    """Wraps a plain function `image -> image` with a declared scale."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], name: str, scale: int = 1):
        self.fn, self.name, self.scale = fn, name, scale

    def __call__(self, image):
        try:
            return self.fn(image)
        except HarnessError:
            raise
        except (Exception, SystemExit) as exc:  # the user's code: an item failure that names the restorer, on one line
            raise HarnessError(f"restorer {self.name!r} failed on a {image.shape[0]}x{image.shape[1]} image "
                               f"({one_line(exc)})") from None


class Bicubic(Preprocessor):
    """MATLAB bicubic upscaling by `scale` (the paper's Bicubic baseline)."""

    def __init__(self, scale: int = 4):
        self.scale = scale
        self.name = "bicubic" if scale == 4 else f"bicubic_x{scale}"

    def __call__(self, image):
        return imresize(image, self.scale)


class DownToInput(Preprocessor):
    """The `down` stage: MATLAB bicubic back to the size of the pipeline's input."""

    name = "down"
    scale = 1

    def __call__(self, image):  # only meaningful inside a Pipeline, which passes the target size
        raise HarnessError("'down' must follow another stage, e.g. 'cajnn+down'")

    @staticmethod
    def resize_to(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        if image.shape[:2] == tuple(shape):
            return image
        return imresize(image, output_shape=tuple(shape))


def check_output(stage: Preprocessor, image: np.ndarray, out) -> np.ndarray:
    """Return `out` if it is a valid output of `stage` for `image` (HxWx3 uint8, `stage.scale` times the
    size); raise HarnessError naming the stage otherwise."""
    try:
        check_image(out, what=f"output of {stage.name!r}")
    except HarnessError as exc:
        raise HarnessError(f"preprocessor {stage.name!r} returned a bad image: {exc}") from None
    want = (image.shape[0] * stage.scale, image.shape[1] * stage.scale)
    if out.shape[:2] != want:
        raise HarnessError(f"preprocessor {stage.name!r} returned size {out.shape[:2]} for input "
                           f"{image.shape[:2]}; expected {want} (scale {stage.scale})")
    return out


def run_stages(stages: list[Preprocessor], images: list[np.ndarray], start: int = 0,
               outs: list[np.ndarray] | None = None, after_stage=None) -> list[np.ndarray]:
    """Return `images` through `stages[start:]` in one batch per stage, each stage's outputs checked; `outs`:
    the outputs of `stages[:start]` (default: the images); a `down` stage resizes back to the image's size.
    `after_stage(i, outs)` is called after stage i (the runner times and caches the prefixes with it)."""
    outs = list(images) if outs is None else list(outs)
    for i in range(start, len(stages)):
        stage = stages[i]
        if isinstance(stage, DownToInput):
            outs = [stage.resize_to(o, x.shape[:2]) for o, x in zip(outs, images)]
        else:
            new = stage.process_batch(outs)
            if len(new) != len(outs):
                raise HarnessError(f"preprocessor {stage.name!r} returned {len(new)} images for {len(outs)}")
            outs = [check_output(stage, o, n) for o, n in zip(outs, new)]
        if after_stage is not None:
            after_stage(i, outs)
    return outs


class Pipeline(Preprocessor):
    """Stages applied left to right; `down` stages resize back to the pipeline's input size."""

    def __init__(self, stages: list[Preprocessor], name: str):
        self.stages, self.name = stages, name
        scale = 1
        for stage in stages:
            scale = 1 if isinstance(stage, DownToInput) else scale * stage.scale
        self.scale = scale

    def __call__(self, image):
        check_image(image, what="preprocessor input")
        out = image
        for stage in self.stages:
            if isinstance(stage, DownToInput):
                out = stage.resize_to(out, image.shape[:2])
            else:
                out = check_output(stage, out, stage(out))
        return out

    def process_batch(self, images):
        return run_stages(self.stages, images) if images else []

    def describe(self):
        if len(self.stages) == 1:
            return {**_stage_identity(self.stages[0]), "name": self.name}
        return {"name": self.name, "scale": self.scale, "stages": [_stage_identity(s) for s in self.stages]}

    @property
    def num_parameters(self):
        counts = [s.num_parameters for s in self.stages]
        known = [c for c in counts if c is not None]
        return sum(known) if known else None


OWN_PACKAGES = ("harness", "preproc", "tasks")   # code of this project: identified by the git commit


def _stage_identity(stage: Preprocessor) -> dict:
    """Return `stage.describe()`, plus the SHA-256 of the source file of a plug-in's code (a function
    or class outside this project), so that editing a plug-in changes the keys of its records."""
    described = stage.describe()
    if getattr(stage, "weights_given", None):
        described = {**described, "weights_given": stage.weights_given}
    target = getattr(stage, "fn", None) or type(stage)
    module = getattr(target, "__module__", "") or ""
    if module.split(".")[0] in OWN_PACKAGES:
        return described
    try:
        source = inspect.getsourcefile(target)
    except TypeError:   # a built-in or C function: nothing to hash
        source = None
    if source and os.path.isfile(source):
        from harness.store import file_sha256

        described = {**described, "source": os.path.basename(source), "source_sha256": file_sha256(source)}
        helpers = _helper_sources(module, source)
        if helpers:
            described["helpers_sha256"] = {name: file_sha256(path) for name, path in helpers.items()}
    return described


def _helper_sources(module: str, source: str) -> dict[str, str]:
    """Return {module name: source file} of the modules a plug-in brought with it: every imported module
    whose file lies in the folder the plug-in's top-level package (or module) was imported from (in this
    project's own folder: in the plug-in's top-level package), but the plug-in's own file. Installed
    packages are identified by their versions (provenance); a helper imported only inside a function,
    after the run starts, is not seen."""
    roots = []
    for path in dict.fromkeys([os.path.abspath(source), os.path.realpath(source)]):   # as imported; behind links
        for _ in range(module.count(".") + 1):
            path = os.path.dirname(path)
        roots.append(path + os.sep)
    roots = tuple(roots)
    own = os.path.realpath(source)
    in_project = Path(roots[0]) == Path(__file__).resolve().parent.parent
    top = module.split(".")[0]
    out = {}
    for name, loaded in list(sys.modules.items()):
        path = getattr(loaded, "__file__", None)
        if (not path or name == module or not path.endswith(".py") or not path.startswith(roots)
                or (in_project and name.split(".")[0] != top) or "-packages" in path):
            continue
        resolved = os.path.realpath(path)
        if resolved != own and os.path.isfile(resolved):
            out[name] = resolved
    return dict(sorted(out.items()))


# The name table. Values are factories or "module:attribute" strings resolved on first use; every
# factory is called as factory(options: BuildOptions) and returns a Preprocessor.
REGISTRY: dict[str, Callable[[BuildOptions], Preprocessor] | str] = {
    "none": lambda options: Identity(),
    "bicubic": lambda options: Bicubic(4),
    "down": lambda options: DownToInput(),
    "cajnn": "preproc.cajnn:build_preprocessor",
    "cajnn_small": "preproc.cajnn:build_small_preprocessor",
    "rrdb": "preproc.rrdbnet:build_preprocessor",
    "arcnn": "preproc.arcnn:build_preprocessor",
    "dncnn": "preproc.dncnn:build_preprocessor",
    "realesrgan": "preproc.realesrgan:build_preprocessor",
    "dat": "preproc.dat:build_preprocessor",
    "waifu2x": "preproc.waifu2x:build_preprocessor",
}

# Stage prefixes handled by plug-in loaders: "prefix:REST" -> factory(rest, options). The key
# "module:callable" handles every other "a.b:c" stage (a user's Python function or class).
PLUGIN_PREFIXES: dict[str, str] = {
    "spandrel": "preproc.plugins:spandrel_stage",
    "waifu2x": "preproc.waifu2x:waifu2x_stage",   # waifu2x:noise=N
    "module:callable": "preproc.plugins:callable_stage",
}


BUILT_IN = frozenset(REGISTRY)   # names whose results the report sets beside the paper's: never replaced


def register(name: str, factory: Callable[[BuildOptions], Preprocessor] | Callable[[np.ndarray], np.ndarray] |
             Preprocessor, scale: int | None = None) -> None:
    """Register a restorer under `name` for this process (e.g. from a notebook).

    `factory` is a Preprocessor instance, a factory taking BuildOptions, or (with `scale` given) a
    plain function image -> image. A built-in name (`bicubic`, `cajnn`, ...) cannot be replaced: its
    rows stand beside the paper's numbers; a name registered earlier in the process can.
    """
    if not name or "+" in name or ":" in name:
        raise HarnessError(f"bad preprocessor name {name!r}: no '+' or ':' allowed")
    if name in BUILT_IN:
        raise HarnessError(f"register({name!r}): {name!r} is a built-in restorer; register yours under "
                           f"another name (its results would be labelled as the built-in's)")
    if isinstance(factory, Preprocessor):
        REGISTRY[name] = lambda options, _p=factory: _p
    elif scale is not None:
        REGISTRY[name] = lambda options, _f=factory: FunctionPreprocessor(_f, name, scale)
    else:
        REGISTRY[name] = factory


def known_names() -> list[str]:
    """Return the registered preprocessor names, sorted."""
    return sorted(REGISTRY)


def _resolve(target: str | Callable) -> Callable:
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


# Registered stages that have no weights and cost less to recompute than to read back (harness/cache.py).
PLAIN_STAGES = ("none", "bicubic", "down")


def stage_names(spec: str) -> list[str]:
    """Return the stage names of a restorer spec (`arcnn+rrdb` -> [arcnn, rrdb]): the one place `+` is split."""
    return [p.strip() for p in spec.split("+")]


def plugin_weight_names(spec: str) -> list[str]:
    """Return the names under which `--weights NAME=PATH` reaches the `MODULE:CALLABLE` stages of `spec`
    (in `options.weights`): the module (`my_net` of `my_net:make`), the last part of a dotted module, and
    the callable. Other stages have none."""
    names = []
    for stage in stage_names(spec):
        module, sep, attr = stage.rpartition(":")
        if sep and module and module not in PLUGIN_PREFIXES:
            names += [module, module.rpartition(".")[2], attr]
    return list(dict.fromkeys(names))


def build_stage(spec: str, options: BuildOptions) -> Preprocessor:
    """Return the Preprocessor for one stage: a registered name, `prefix:ARG`, or `module:callable`."""
    if spec in REGISTRY:
        stage = _resolve(REGISTRY[spec])(options)
    elif ":" in spec:
        prefix, _, rest = spec.partition(":")
        if prefix in PLUGIN_PREFIXES:
            stage = _resolve(PLUGIN_PREFIXES[prefix])(rest, options)
        elif "module:callable" in PLUGIN_PREFIXES:
            stage = _resolve(PLUGIN_PREFIXES["module:callable"])(spec, options)
            given = {n: options.weights[n] for n in plugin_weight_names(spec) if n in options.weights}
            if given:   # part of the stage's identity: other weights, other records
                from harness.store import file_sha256

                stage.weights_given = {n: {"path": str(path), "sha256": file_sha256(path)} for n, path in given.items()}
        else:
            raise HarnessError(f"plug-in {spec!r}: plug-in loading is not available")
    else:
        raise HarnessError(f"unknown preprocessor {spec!r}; known: {', '.join(known_names())}, "
                           f"or spandrel:PATH, or MODULE:CALLABLE")
    if not isinstance(stage, Preprocessor):
        raise HarnessError(f"preprocessor {spec!r}: factory returned {type(stage).__name__}, "
                           f"not a Preprocessor")
    return stage


def build(spec: str, options: BuildOptions | None = None) -> Preprocessor:
    """Return the Preprocessor named by `spec` (stages joined by '+', applied left to right)."""
    options = options or BuildOptions()
    parts = stage_names(spec)
    if not spec.strip() or any(not p for p in parts):
        raise HarnessError(f"bad preprocessor spec {spec!r}: empty stage")
    if parts[0] == "down":
        raise HarnessError(f"bad preprocessor spec {spec!r}: 'down' must follow another stage")
    # Even one stage goes in a Pipeline: it checks every stage's output size and dtype.
    return Pipeline([build_stage(p, options) for p in parts], name=spec)
