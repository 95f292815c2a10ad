"""The one place where state dicts are read, unwrapped, renamed and loaded strictly.

Every own network (RRDBNet, CAJNN, ARCNN, DnCNN) and every foreign RRDBNet checkpoint loads through
`load_weights(model, path_or_obj, what=...)`:

1. `read_checkpoint`: `torch.load(..., weights_only=True)` on the CPU; a missing or unreadable file is a
   HarnessError naming the file.
2. `unwrap_state_dict`: the tensors inside the usual wrappers, `params_ema` preferred over `params`
   (BasicSR / Real-ESRGAN), then `state_dict`, `model`, `net`; a `module.` (DataParallel) or `netG.`
   prefix shared by every key is stripped.
3. `rename`: an optional key-renaming function; `rrdbnet_keys` maps the three RRDBNet layouts of
   REFERENCE.md section 6.1 (BasicSR, old ESRGAN `RRDB_trunk.N.RDBK`, original old-arch `model.N`) to
   BasicSR names, which are our RRDBNet's names.
4. `load_state_strict`: every key must match in name and shape; otherwise a HarnessError names the
   missing, unexpected and mis-shaped keys.
"""
from __future__ import annotations

import importlib.util
import io
import pickle
import re
from pathlib import Path
from typing import Callable, Mapping

import torch
from torch import nn

from harness.errors import HarnessError
from harness.state_dicts import mismatch
from harness.store import atomic_write_bytes

# Wrapper keys, in order of preference (params_ema holds the EMA weights Real-ESRGAN releases use).
WRAPPER_KEYS = ("params_ema", "params-ema", "params", "state_dict", "model_state_dict", "model", "net")
# Prefixes added by training wrappers (DataParallel, GAN trainers) that are stripped when every key has one.
STRIP_PREFIXES = ("module.", "netG.")


def wheel_file(package: str, relative: str, what: str, distribution: str, install: str) -> Path:
    """Return the path of `relative` inside the installed package `package` (its import name), found
    with `importlib.util.find_spec`, which does not run the package's code; HarnessError with the install
    line when the package or the file is missing."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(f"{what}: the package {distribution} is not installed; run: {install}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.exists():
        raise HarnessError(f"{what}: {path} is missing from the installed {distribution}; reinstall it: {install}")
    return path


def read_checkpoint(path: str | Path, what: str = "weights"):
    """Return the object stored in the checkpoint file `path` (loaded on the CPU, tensors only)."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{what} weights {path}: file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError, TypeError,
            AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarnessError(f"{what} weights {path}: cannot read ({first})") from None
    except (KeyError, IndexError) as exc:   # torch's legacy reader on a file that is not a checkpoint (text)
        raise HarnessError(f"{what} weights {path}: cannot read (not a PyTorch checkpoint: "
                           f"{type(exc).__name__} {exc})") from None


def _is_state_dict(obj) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def unwrap_state_dict(obj, what: str = "weights") -> dict[str, torch.Tensor]:
    """Return the state dict inside `obj`: unwraps params_ema/params/state_dict/model/net, strips `module.`."""
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    for _ in range(3):  # wrappers can nest, e.g. {'model': {'params': ...}}
        if _is_state_dict(obj) or not isinstance(obj, Mapping):
            break
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not _is_state_dict(obj):
        keys = list(obj)[:8] if isinstance(obj, Mapping) else type(obj).__name__
        raise HarnessError(f"{what}: not a state dict (expected tensors, possibly under one of "
                           f"{', '.join(WRAPPER_KEYS)}; found {keys})")
    state = dict(obj)
    for prefix in STRIP_PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


# Old ESRGAN (xinntao/ESRGAN `RRDBNet_arch.py`) names -> BasicSR names.
_OLD_ESRGAN = [
    (re.compile(r"^RRDB_trunk\.(\d+)\.RDB(\d)\.(conv\d)\."), r"body.\1.rdb\2.\3."),
    (re.compile(r"^trunk_conv\."), "conv_body."),
    (re.compile(r"^upconv1\."), "conv_up1."),
    (re.compile(r"^upconv2\."), "conv_up2."),
    (re.compile(r"^HRconv\."), "conv_hr."),
]
# Original "old arch" (`RRDB_ESRGAN_x4_old_arch.pth`, a Sequential) top-level indices -> BasicSR names.
_OLD_ARCH_TOP = {"0": "conv_first", "3": "conv_up1", "6": "conv_up2", "8": "conv_hr", "10": "conv_last"}
_OLD_ARCH_BLOCK = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.(conv\d)\.0\.(weight|bias)$")
_OLD_ARCH_SUB = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")
_OLD_ARCH_TOP_KEY = re.compile(r"^model\.(\d+)\.(weight|bias)$")


def rrdbnet_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Return `state` with RRDBNet keys in BasicSR naming, whichever of the three layouts it uses.

    BasicSR keys pass unchanged; keys that match no rule are kept as they are, so the strict load that
    follows reports them as unexpected.
    """
    if any(k.startswith("model.1.sub.") for k in state):
        out = {}
        for key, value in state.items():
            if m := _OLD_ARCH_BLOCK.match(key):
                out[f"body.{m[1]}.rdb{m[2]}.{m[3]}.{m[4]}"] = value
            elif m := _OLD_ARCH_SUB.match(key):  # the conv after the last block (index nb)
                out[f"conv_body.{m[2]}"] = value
            elif (m := _OLD_ARCH_TOP_KEY.match(key)) and m[1] in _OLD_ARCH_TOP:
                out[f"{_OLD_ARCH_TOP[m[1]]}.{m[2]}"] = value
            else:
                out[key] = value
        return out
    out = {}
    for key, value in state.items():
        for pattern, replacement in _OLD_ESRGAN:
            new = pattern.sub(replacement, key)
            if new != key:
                key = new
                break
        out[key] = value
    return out


def _listed(keys: list[str], limit: int = 6) -> str:
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_state_strict(model: nn.Module, state: Mapping[str, torch.Tensor], what: str = "weights") -> None:
    """Load `state` into `model`; raise HarnessError naming missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    found = mismatch(own, state)
    shapes = sorted(f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in found.shapes)
    problems = [f"{kind}: {_listed(keys)}" for kind, keys in (
        ("missing keys", sorted(found.missing)), ("unexpected keys", sorted(found.unexpected)),
        ("shape mismatch (file vs model)", shapes)) if keys]
    if problems:
        raise HarnessError(f"{what}: does not fit {type(model).__name__}: " + "; ".join(problems))
    model.load_state_dict(dict(state), strict=True)


def load_weights(model: nn.Module, source, what: str = "weights",
                 rename: Callable[[dict], dict] | None = None) -> dict:
    """Load `source` (a path, a checkpoint object or a state dict) strictly into `model`.

    Returns the checkpoint's metadata: the top-level entries of a dict checkpoint that are not tensors
    or state dicts (e.g. `config`, `iterations`), empty for a bare state dict.
    """
    label = what
    if isinstance(source, (str, Path)):
        label = f"{what} weights {source}"
        source = read_checkpoint(source, what)
    state = unwrap_state_dict(source, label)
    if rename is not None:
        state = rename(state)
    load_state_strict(model, state, label)
    model.eval()
    return checkpoint_metadata(source)


def checkpoint_metadata(obj) -> dict:
    """Return the non-weight top-level entries of a checkpoint dict (config, iterations, ...)."""
    if not isinstance(obj, Mapping) or _is_state_dict(obj):
        return {}
    return {k: v for k, v in obj.items()
            if not isinstance(v, torch.Tensor) and not (k in WRAPPER_KEYS and isinstance(v, Mapping))}


def save_weights(path: str | Path, model: nn.Module, **metadata) -> None:
    """Write `{'params': state_dict, **metadata}` atomically (the layout `load_weights` reads)."""
    buffer = io.BytesIO()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save({"params": state, **metadata}, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def load_model(factory: Callable[..., nn.Module], source, what: str = "weights",
               rename: Callable[[dict], dict] | None = None,
               infer_config: Callable[[dict], dict] | None = None) -> tuple[nn.Module, dict]:
    """Return (model built as the checkpoint says, its metadata), weights loaded strictly.

    The constructor arguments are the checkpoint's `config` entry (written by `preproc.train`), or,
    for a checkpoint without one, `infer_config(state)` read from the tensor shapes, or the defaults.
    """
    label = f"{what} weights {source}" if isinstance(source, (str, Path)) else what
    obj = read_checkpoint(source, what) if isinstance(source, (str, Path)) else source
    config = obj.get("config") if isinstance(obj, Mapping) else None
    if not isinstance(config, Mapping):
        state = unwrap_state_dict(obj, label)
        config = infer_config(rename(state) if rename else state) if infer_config else {}
    try:
        model = factory(**config)
    except TypeError as exc:
        raise HarnessError(f"{label}: config {dict(config)} does not fit {factory.__name__} ({exc})") from None
    meta = load_weights(model, obj, what=label, rename=rename)
    return model, {**meta, "config": dict(config)}


def restorer_from_weights(name: str, loader: Callable[[object], tuple[nn.Module, dict]],
                          default_path: Path, options, scale: int | None = None):
    """Return the Preprocessor `name` running `loader(path)`'s network on `options.weights[name]` or the
    shipped `default_path`; its description records the weights file, hash, config and training length."""
    from harness.store import file_sha256
    from preproc.torch_restorer import TorchRestorer

    path = Path(options.weights.get(name, default_path))
    if name not in options.weights and not path.is_file():
        raise HarnessError(f"shipped {name} weights {path} are missing; pass --weights {name}=PATH")
    model, meta = loader(path)
    extra = {"weights": project_relative(path), "weights_sha256": file_sha256(path), "config": meta["config"]}
    for key in ("iterations", "train_config", "train_wall_s"):
        if key in meta:
            extra[key] = meta[key]
    scale = scale if scale is not None else int(getattr(model, "scale", 1))
    restorer = TorchRestorer(model, scale=scale, name=name, options=options, describe_extra=extra)
    data = _training_folders(meta)
    if data:
        restorer.about_extra = {"train_data": data}
    return restorer


def project_relative(path: Path) -> str:
    """Return `path` relative to the project root when it lies inside it (the shipped weights: the same record keys
    in every checkout of the project), else as given."""
    from harness.provenance import PROJECT_ROOT

    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT.resolve()))
    except ValueError:
        return str(path)


def _training_folders(meta: dict) -> list[str]:
    """Return the names of the training folders that a weights file's metadata records (or its config names), or []."""
    from preproc.training.config import config_of_weights

    try:
        return [Path(f).name for f in config_of_weights(meta).train_folders]
    except HarnessError:
        return []


def training_data(train_config: str | None) -> list[str]:
    """Return the names of the training folders of the config `train_config` (preproc/configs/NAME.json), or []."""
    from preproc.training.config import TrainConfig

    try:
        return [Path(f).name for f in TrainConfig.load(train_config).train_folders] if train_config else []
    except HarnessError:   # a config no longer shipped (or renamed): the report names none
        return []
