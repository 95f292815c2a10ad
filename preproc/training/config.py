"""Training configurations: the named configs in preproc/configs/, their loading and validation, and the
model a config names (see `preproc.train` for what the fields mean)."""
from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from torch import nn

from harness.errors import HarnessError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Model factories by name ("module:attribute", imported on use) for `model.name` in a config.
MODELS = {
    "cajnn": "preproc.cajnn:CAJNN",
    "rrdbnet": "preproc.rrdbnet:RRDBNet",
    "arcnn": "preproc.arcnn:ARCNN",
    "dncnn": "preproc.dncnn:DnCNN",
}
PAIR_MODES = ("joint", "car", "sr")
PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainConfig:
    """A training configuration (the fields of a `preproc/configs/*.json` file)."""

    name: str = "custom"
    model: dict = field(default_factory=lambda: {"name": "cajnn", "nf": 64, "gc": 32, "nb": 20})
    pair: str = "joint"
    scale: int = 4
    train_folders: list = field(default_factory=lambda: ["../shared/data/train/T91",
                                                          "../shared/data/train/BSD200"])
    val_folder: str = "../shared/data/train/BSD200"
    val_images: int = 10
    val_qf: list = field(default_factory=lambda: [10, 40])  # null: a condition without JPEG ("clean")
    hr_patch: int = 128
    context: int = 0  # HR px of image around each patch that is degraded with it and then cut away
    qf: list = field(default_factory=lambda: [10, 100])
    clean: float = 0.0  # share of training patches left without JPEG (the rest: QF uniform in `qf`)
    text: float = 0.0  # share of training patches with a random word drawn on them (preproc.training.text)
    batch: int = 16
    iterations: int = 100000
    lr: float = 2e-4
    eta_min: float = 1e-7
    periods: list = field(default_factory=lambda: [250000])
    betas: list = field(default_factory=lambda: [0.9, 0.99])
    log_every: int = 50
    val_every: int = 1000
    val_at: list = field(default_factory=list)  # extra validation iterations; 0: before the first step
    checkpoint_every: int = 200
    seed: int = 0
    init_fit: int = 0  # with a pretrained `init` for CAJNN: batches for the least-squares glue fit
    init: str | None = None  # weights file, or a pretrained model name in preproc.transfer.PRETRAINED
    channels_last: bool = True  # measured 1.5x faster for CAJNN training on this CPU
    precision: str = "fp32"  # "bf16": forward under autocast (fp32 master weights and loss; fp32 validation)
    ema: float = 0.0  # decay of an exponential moving average of the weights (0: off); validated and exported
    warmup: int = 0  # iterations of linear lr warm-up whenever the optimizer starts fresh
    snapshots: bool = False  # also keep each validation's weights as val_<iteration>.pth (for `preproc.soup`)

    @classmethod
    def load(cls, name_or_path: str, _chain: tuple = ()) -> "TrainConfig":
        """Return the config named `name_or_path` (in preproc/configs/) or stored at that path."""
        path = Path(name_or_path)
        if not path.suffix:
            path = CONFIG_DIR / f"{name_or_path}.json"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.json")))
            raise HarnessError(f"training config {name_or_path!r} not found (known: {known})")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{path}: bad JSON ({exc})") from None
        if "base" in data:  # {"base": "other_config", ...}: that config's fields, these ones replacing them
            base = data.pop("base")
            if str(path.resolve()) in _chain:
                raise HarnessError(f"{path}: its chain of 'base' configs comes back to itself")
            data = {**asdict(cls.load(base, _chain + (str(path.resolve()),))), **data}
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise HarnessError(f"{path}: unknown config keys {unknown}")
        config = cls(**data)
        config.validate(str(path))
        return config

    def validate(self, where: str = "config") -> None:
        """Raise HarnessError naming the first bad field."""
        if self.pair not in PAIR_MODES:
            raise HarnessError(f"{where}: pair must be one of {PAIR_MODES}, got {self.pair!r}")
        if self.hr_patch % self.scale:
            raise HarnessError(f"{where}: hr_patch {self.hr_patch} is not a multiple of scale {self.scale}")
        if self.context < 0 or self.context % self.scale:
            raise HarnessError(f"{where}: context {self.context} is not a non-negative multiple of scale "
                               f"{self.scale}")
        if not (1 <= self.qf[0] <= self.qf[1] <= 100):
            raise HarnessError(f"{where}: qf must be [low, high] within 1..100, got {self.qf}")
        for share in ("clean", "text"):
            if not 0.0 <= getattr(self, share) <= 1.0:
                raise HarnessError(f"{where}: {share} must be a share in [0, 1], got {getattr(self, share)}")
        if any(q is not None and not (isinstance(q, int) and 1 <= q <= 100) for q in self.val_qf):
            raise HarnessError(f"{where}: val_qf entries must be QFs in 1..100 or null (no JPEG), "
                               f"got {self.val_qf}")
        if not self.periods or min(self.periods) <= 0:
            raise HarnessError(f"{where}: periods must be positive, got {self.periods}")
        if self.precision not in PRECISIONS:
            raise HarnessError(f"{where}: precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 0.0 <= self.ema < 1.0:
            raise HarnessError(f"{where}: ema must be a decay in [0, 1), got {self.ema}")
        if self.warmup < 0:
            raise HarnessError(f"{where}: warmup must be >= 0 iterations, got {self.warmup}")
        if "name" not in self.model:
            raise HarnessError(f"{where}: model needs a 'name'")



def config_of_weights(meta: dict) -> TrainConfig:
    """Return the training config of a weights file's metadata: the `recipe` it records (every field), or for
    files written before weights recorded it, the shipped config it names; HarnessError when neither is there."""
    if "recipe" in meta:
        try:
            return TrainConfig(**meta["recipe"])
        except TypeError as exc:  # a recipe with fields this version does not know
            raise HarnessError(f"the weights' recipe does not fit this trainer ({exc})") from None
    if not meta.get("train_config"):
        raise HarnessError("the weights name no training config")
    return TrainConfig.load(str(meta["train_config"]))


def build_model(model_config: dict) -> nn.Module:
    """Return the network named by `model_config['name']` built with the remaining keys."""
    kwargs = dict(model_config)
    name = kwargs.pop("name")
    target = MODELS.get(name, name)
    if ":" not in target:
        raise HarnessError(f"unknown model {name!r}; known: {', '.join(MODELS)} or module:Class")
    module_name, _, attr = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise HarnessError(f"model {name!r}: cannot import {target} ({exc})") from None
    return factory(**kwargs)



def _resolve_path(path: str) -> Path:
    """Return `path`, relative to the project root when relative and missing from the cwd."""
    p = Path(path)
    if not p.is_absolute() and not p.exists() and (PROJECT_ROOT / p).exists():
        return PROJECT_ROOT / p
    return p

