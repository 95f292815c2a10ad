"""Train a restoration network on HR image folders with pairs degraded on the fly (one trainer for all).

    python -m preproc.train --config cpu_small --out /work/cajnn_train --threads 2
    python -m preproc.train --config paper --out runs/cajnn_paper --device cuda --workers 8
    torchrun --nproc_per_node 4 -m preproc.train --config paper --out runs/cajnn_paper --device cuda

A config (`preproc/configs/NAME.json`, or a path) names the model (`model.name` in MODELS, or
`module:Class`, plus its constructor arguments), the pair mode, the data and the schedule:

- pair mode `joint`: LR-JPEG -> HR (CAJNN); `car`: LR-JPEG -> clean LR (ARCNN, DnCNN); `sr`: clean
  LR -> HR (RRDBNet). LR = MATLAB bicubic x1/scale of the HR patch (`harness.degrade`), JPEG at a QF
  drawn uniformly from `qf` per patch.
- Patches: an `hr_patch` px HR crop at a position that is a multiple of `scale`, one of the 8 dihedral
  transforms, then degraded **as a patch** (the JPEG 8x8 grid is aligned to the patch, not the image;
  cheaper than degrading whole images, and it varies the grid phase). With `context: C` (HR px) the
  crop is degraded inside up to C px of its surrounding image and then cut out, so its LR pixels are
  those of a degraded whole image, as in evaluation, instead of being resized from mirrored patch
  borders. Training images are held in RAM; images smaller than the patch are skipped.
- L1 loss, Adam(0.9, 0.99), cosine annealing from `lr` to `eta_min` restarted after each of `periods`
  (the last period repeats), validation Y-PSNR on the first `val_images` images of `val_folder`
  (excluded from training) at the QFs `val_qf`.

Batch i is drawn from a generator seeded by (seed, rank, i), so it is the same whether the training
process makes it or `--workers N` loader processes do (use them on a GPU, where one process cannot
degrade patches as fast as the GPU trains), and the same after a resume.

The output folder holds `last.pth` (model, optimizer, iteration: an interrupted run resumes exactly),
`best.pth` (weights with the best validation PSNR, in the shippable format
`{"params", "config", "iterations", ...}`) and `log.jsonl` (the curve). Without `last.pth`, `--init`
(or the config's `init`) starts from existing weights, or from a pretrained model by name:
`realesrgan-x4plus` loads Real-ESRGAN x4plus into an RRDBNet as it is, or maps it into CAJNN
(`preproc.transfer.cajnn_from_rrdbnet`; the mapped, unmapped and new tensors go to the log). With
`init_fit: N` the CAJNN glue (conv_up1, conv_last) is then refitted by least squares on N training batches
(`preproc.transfer.fit_cajnn_glue`). A config's `val_at` lists extra validation iterations (0: the starting weights). `--max-minutes M` ends a run cleanly after M
minutes (for a lease on a borrowed GPU); SIGTERM or Ctrl-C does the same at once. Under torchrun
(WORLD_SIZE > 1) the model is wrapped in DistributedDataParallel; each rank draws `batch / world_size`
patches with its own seed, and rank 0 validates, logs and checkpoints.
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.degrade import jpeg, modcrop
from harness.errors import HarnessError
from harness.image import ImageLoadError, list_images, load_image
from harness.metrics import psnr_y
from harness.resize import imresize
from preproc.transfer import PRETRAINED

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Model factories by name ("module:attribute", imported on use) for `model.name` in a config.
MODELS = {
    "cajnn": "preproc.cajnn:CAJNN",
    "rrdbnet": "preproc.rrdbnet:RRDBNet",
    "arcnn": "preproc.arcnn:ARCNN",
    "dncnn": "preproc.dncnn:DnCNN",
}
PAIR_MODES = ("joint", "car", "sr")


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
    val_qf: list = field(default_factory=lambda: [10, 40])
    hr_patch: int = 128
    context: int = 0  # HR px of image around each patch that is degraded with it and then cut away
    qf: list = field(default_factory=lambda: [10, 100])
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

    @classmethod
    def load(cls, name_or_path: str) -> "TrainConfig":
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
        if not self.periods or min(self.periods) <= 0:
            raise HarnessError(f"{where}: periods must be positive, got {self.periods}")
        if "name" not in self.model:
            raise HarnessError(f"{where}: model needs a 'name'")


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


def lr_at(iteration: int, config: TrainConfig) -> float:
    """Return the learning rate at `iteration` (0-based): cosine from lr to eta_min within each period."""
    start = 0
    periods = list(config.periods)
    i = 0
    while True:
        period = periods[min(i, len(periods) - 1)]
        if iteration < start + period:
            t = (iteration - start) / period
            return config.eta_min + 0.5 * (config.lr - config.eta_min) * (1 + math.cos(math.pi * t))
        start += period
        i += 1


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """Return `img` (HxWxC) under dihedral transform k in 0..7: k % 4 quarter turns, flipped if k >= 4."""
    out = np.rot90(img, k % 4, axes=(0, 1))
    if k >= 4:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def make_pair(hr: np.ndarray, pair: str, scale: int, quality: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (network input, target) uint8 arrays for one HR image or patch and a JPEG quality."""
    hr = modcrop(hr, scale)
    lr = imresize(hr, 1.0 / scale)
    if pair == "joint":
        return jpeg(lr, quality), hr
    if pair == "car":
        return jpeg(lr, quality), lr
    return lr, hr


def load_folder_images(folders: list[str], skip: set[str] = frozenset()) -> list[tuple[str, np.ndarray]]:
    """Return (path, image) for every readable image in `folders` whose path is not in `skip`."""
    images = []
    for folder in folders:
        folder = _resolve_path(folder)
        for path in list_images(folder):
            if str(path) in skip:
                continue
            try:
                images.append((str(path), load_image(path)))
            except ImageLoadError as exc:
                print(f"skipping unreadable training image: {exc}", file=sys.stderr)
    return images


def _resolve_path(path: str) -> Path:
    """Return `path`, relative to the project root when relative and missing from the cwd."""
    p = Path(path)
    if not p.is_absolute() and not p.exists() and (PROJECT_ROOT / p).exists():
        return PROJECT_ROOT / p
    return p


class PatchSampler(torch.utils.data.Dataset):
    """Training batches (input, target float tensors in [0, 1]) from images held in RAM.

    Item i is batch i of the run, drawn from its own generator seeded by (seed, rank, i): a batch does
    not depend on how many loader workers made it, and a resumed run draws the same batches as one
    that never stopped.
    """

    def __init__(self, images: list[np.ndarray], config: TrainConfig, seed: int, batch: int):
        self.config = config
        self.images = [img for img in images if min(img.shape[:2]) >= config.hr_patch]
        if not self.images:
            raise HarnessError(f"no training image is at least {config.hr_patch} px on each side")
        self.skipped = len(images) - len(self.images)
        self.seed = seed
        self.batch = batch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return batch `index` as (input, target) NCHW float32 tensors."""
        cfg, patch = self.config, self.config.hr_patch
        rng = np.random.default_rng([self.seed, index])
        inputs, targets = [], []
        for _ in range(self.batch):
            img = self.images[rng.integers(len(self.images))]
            h, w = img.shape[:2]
            y = int(rng.integers((h - patch) // cfg.scale + 1)) * cfg.scale
            x = int(rng.integers((w - patch) // cfg.scale + 1)) * cfg.scale
            k, quality = int(rng.integers(8)), int(rng.integers(cfg.qf[0], cfg.qf[1] + 1))
            if cfg.context:
                inp, tgt = pair_in_context(img, y, x, patch, cfg, k, quality)
            else:
                inp, tgt = make_pair(dihedral(img[y:y + patch, x:x + patch], k), cfg.pair, cfg.scale, quality)
            inputs.append(inp)
            targets.append(tgt)
        return to_tensor(np.stack(inputs)), to_tensor(np.stack(targets))


def pair_in_context(img: np.ndarray, y: int, x: int, patch: int, cfg: TrainConfig, k: int,
                    quality: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the pair of the `patch` px HR crop at (y, x), degraded within up to `cfg.context` px of
    the image around it (cut to the image), then cut out: its LR pixels are those of a degraded whole
    image (no mirrored patch borders in the resize), as in evaluation.
    """
    s = cfg.scale
    h, w = (img.shape[0] // s) * s, (img.shape[1] // s) * s
    y0, x0 = max(0, y - cfg.context), max(0, x - cfg.context)
    y1, x1 = min(h, y + patch + cfg.context), min(w, x + patch + cfg.context)
    window = dihedral(img[y0:y1, x0:x1], k)
    # Where the patch sits in the transformed window (rot90 counter-clockwise k % 4 times, then a flip).
    top, left, bottom, right = y - y0, x - x0, y1 - y - patch, x1 - x - patch
    for _ in range(k % 4):
        top, left, bottom, right = right, top, left, bottom
    if k >= 4:
        left, right = right, left
    inp, tgt = make_pair(window, cfg.pair, cfg.scale, quality)
    lr_top, lr_left, lr_patch = top // s, left // s, patch // s
    inp = inp[lr_top:lr_top + lr_patch, lr_left:lr_left + lr_patch]
    if cfg.pair == "car":  # the target is LR too
        return inp, tgt[lr_top:lr_top + lr_patch, lr_left:lr_left + lr_patch]
    return inp, tgt[top:top + patch, left:left + patch]


def batch_loader(sampler: PatchSampler, start: int, stop: int, workers: int,
                 pin_memory: bool) -> torch.utils.data.DataLoader:
    """Return a loader of batches start..stop-1 of `sampler`, made by `workers` processes (0: in this one)."""
    return torch.utils.data.DataLoader(
        sampler, batch_size=None, sampler=range(start, stop), num_workers=workers,
        pin_memory=pin_memory, prefetch_factor=4 if workers else None, persistent_workers=False)


def to_tensor(batch: np.ndarray) -> torch.Tensor:
    """Return NHWC uint8 (or HWC) as NCHW float32 in [0, 1]."""
    if batch.ndim == 3:
        batch = batch[None]
    return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))).float().div_(255.0)


def to_image(x: torch.Tensor) -> np.ndarray:
    """Return a 1x3xHxW float tensor in [0, 1] as HxWx3 uint8 (rounded, clamped)."""
    return x[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


class Validator:
    """Y-PSNR of the model on held-out images at fixed QFs, beside the bicubic baseline."""

    def __init__(self, images: list[tuple[str, np.ndarray]], config: TrainConfig):
        self.pairs = {}  # qf -> list of (input uint8, target uint8)
        self.baseline = {}
        for quality in config.val_qf:
            pairs = [make_pair(img, config.pair, config.scale, quality) for _, img in images]
            self.pairs[quality] = pairs
            up = config.scale if config.pair != "car" else 1
            self.baseline[quality] = float(np.mean(
                [psnr_y(imresize(i, up) if up > 1 else i, t) for i, t in pairs])) if pairs else None

    @torch.inference_mode()
    def __call__(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Return {"q10": mean Y-PSNR, ..., "mean": mean over QFs} of `model` (set to eval, then back)."""
        was_training = model.training
        model.eval()
        result = {}
        for quality, pairs in self.pairs.items():
            scores = [psnr_y(to_image(model(to_tensor(i).to(device))), t) for i, t in pairs]
            result[f"q{quality}"] = float(np.mean(scores))
        model.train(was_training)
        result["mean"] = float(np.mean(list(result.values())))
        return result


def atomic_torch_save(obj, path: Path) -> None:
    """torch.save to a temporary file in the same folder, then os.replace."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def weights_file(model: nn.Module, config: TrainConfig, iteration: int, extra: dict) -> dict:
    """Return the shippable weights dict {"params", "config", "model", "iterations", ...} of `model`."""
    model_config = {k: v for k, v in config.model.items() if k != "name"}
    return {"params": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "config": model_config, "model_name": config.model["name"], "pair": config.pair,
            "iterations": iteration, "train_config": config.name, **extra}


def _truncate_log(path: Path, iteration: int) -> None:
    """Drop log lines written after `iteration` (from a run that stopped after its last checkpoint)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("iter", 0) <= iteration:
                kept.append(line)
        except json.JSONDecodeError:
            continue  # a torn last line
    path.write_text("".join(k + "\n" for k in kept))


def train(config: TrainConfig, out_dir: str | Path, device: str = "cpu", threads: int | None = None,
          iterations: int | None = None, init: str | None = None, quiet: bool = False,
          workers: int = 0, max_minutes: float | None = None) -> dict:
    """Train (or resume) as `config` says, writing to `out_dir`; return a summary dict.

    `workers` processes make the batches (0: this process); `max_minutes` stops the run cleanly, with a
    checkpoint, after that much wall time of this call.
    """
    started = time.time()
    out_dir = Path(out_dir)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
        if device.startswith("cuda"):
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
            torch.cuda.set_device(device)
    dev = torch.device(device)
    if dev.type == "cpu":
        torch.set_flush_denormal(True)  # denormal activations are ~6x slower on this CPU
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True  # fixed patch size: pick the fastest conv algorithms
    if threads:
        torch.set_num_threads(threads)
    total = iterations if iterations is not None else config.iterations
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(config.seed)  # the same initial weights on every rank and every run
    model = build_model(config.model).to(dev)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=tuple(config.betas))
    iteration, best, elapsed = 0, -float("inf"), 0.0
    torch_rng = None
    init_report = None
    last = out_dir / "last.pth"
    if last.exists():
        ckpt = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        iteration, best, elapsed = ckpt["iteration"], ckpt["best"], ckpt.get("elapsed_s", 0.0)
        torch_rng = ckpt["rng"]["torch"]
        source = f"resumed {last} at iteration {iteration}"
    elif (init or config.init) in PRETRAINED:
        from preproc.transfer import init_from_pretrained, summarise_keys
        init_report = init_from_pretrained(model, init or config.init)
        model.train()
        source = (f"initialised from {init_report['init']} ({PRETRAINED[init_report['init']]}): "
                  f"{len(init_report['mapped'])} tensors mapped ({', '.join(summarise_keys(init_report['mapped']))}); "
                  f"unmapped pretrained tensors: {', '.join(summarise_keys(init_report['unmapped'])) or 'none'}; "
                  f"newly initialised: {', '.join(summarise_keys(init_report['new'])) or 'none'}")
    elif (init or config.init) and not _resolve_path(init or config.init).is_file():
        known = ", ".join(PRETRAINED)
        raise HarnessError(f"initial weights {init or config.init!r}: no such file (or a pretrained name: {known})")
    elif init or config.init:
        from preproc.checkpoints import load_weights, read_checkpoint
        path = _resolve_path(init or config.init)
        obj = read_checkpoint(path, "initial")
        load_weights(model, obj, what=f"initial weights {path}")
        model.train()
        iteration = int(obj.get("iterations", 0)) if isinstance(obj, dict) else 0
        elapsed = float(obj.get("train_wall_s", 0.0)) if isinstance(obj, dict) else 0.0
        source = f"initialised from {path} (iteration {iteration}; fresh optimizer)"
    else:
        source = "from scratch"

    val_skip = set()
    val_images = []
    if config.val_images > 0:
        val_paths = list_images(_resolve_path(config.val_folder))[:config.val_images]
        val_skip = {str(p) for p in val_paths}
        val_images = [(str(p), load_image(p)) for p in val_paths]
    train_images = load_folder_images(config.train_folders, skip=val_skip)
    batch = max(1, config.batch // world)
    sampler = PatchSampler([img for _, img in train_images], config, seed=config.seed + 1000 * rank,
                           batch=batch)
    torch.manual_seed(config.seed + 1000 * rank)
    if torch_rng is not None and rank == 0:
        torch.set_rng_state(torch_rng)
    validator = Validator(val_images, config) if rank == 0 and val_images else None
    if init_report is not None and config.init_fit:
        from preproc.cajnn import CAJNN
        from preproc.transfer import fit_glue_from_pretrained
        if not isinstance(model, CAJNN):
            raise HarnessError(f"init_fit refits CAJNN's glue; model {config.model['name']!r} is not CAJNN")
        # Batches far beyond any run's range, so the fit never sees a batch the training will draw.
        fit_batches = [sampler[10 ** 9 + i] for i in range(config.init_fit)]
        init_report["fit"] = fit_glue_from_pretrained(model, init or config.init, fit_batches)
        init_report["fit"]["batches"] = config.init_fit
        _say(quiet, f"refitted conv_up1 and conv_last by least squares on {config.init_fit} batches: "
                    + ", ".join(f"{k} {v:.4f}" for k, v in init_report["fit"].items() if k != "batches"))

    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    log_path = out_dir / "log.jsonl"
    if rank == 0:
        _truncate_log(log_path, iteration)
        _say(quiet, f"{config.name}: {sum(p.numel() for p in model.parameters()):,d} parameters, "
                    f"{source}; {len(sampler.images)} training images ({sampler.skipped} smaller than "
                    f"{config.hr_patch} px skipped), {len(val_images)} validation images, "
                    f"batch {batch} x {world}, device {dev}, threads {torch.get_num_threads()}, "
                    f"loader workers {workers}")
        if validator:
            _say(quiet, f"validation bicubic Y-PSNR: " +
                 ", ".join(f"q{q} {v:.3f}" for q, v in validator.baseline.items()))

    stop = {"flag": False}

    def _stop(signum, frame):  # finish the current iteration, checkpoint, exit
        stop["flag"] = True

    old_handlers = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)} \
        if rank == 0 and _is_main_thread() else {}

    def save_checkpoint():
        atomic_torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                           "iteration": iteration, "best": best, "elapsed_s": elapsed,
                           "config": asdict(config),
                           "rng": {"torch": torch.get_rng_state()}}, last)

    def validate():  # log the validation PSNR; keep the weights when they are the best so far
        nonlocal best
        scores = validator(model, dev)
        entry = {"iter": iteration, "val_psnr": scores,
                 "val_gain": {k: scores[k] - validator.baseline[int(k[1:])]
                              for k in scores if k != "mean"}}
        log.write(json.dumps(entry) + "\n")
        log.flush()
        _say(quiet, f"it {iteration} validation Y-PSNR " +
             ", ".join(f"{k} {v:.3f} ({entry['val_gain'][k]:+.3f} dB)"
                       for k, v in scores.items() if k != "mean"))
        if scores["mean"] > best:
            best = scores["mean"]
            atomic_torch_save(weights_file(model, config, iteration,
                                           {"val_psnr": scores, "train_wall_s": round(elapsed)}),
                              out_dir / "best.pth")

    net.train()
    running, count, t_mark, it_mark = 0.0, 0, time.time(), iteration
    t_last = time.time()
    log = open(log_path, "a") if rank == 0 else None
    try:
        if log and init_report:
            log.write(json.dumps({"iter": iteration, **init_report}) + "\n")
            log.flush()
        if validator and iteration in config.val_at and not last.exists():
            validate()  # e.g. iteration 0: the starting point of a fine-tune (not again on a resume)
            t_last = time.time()
        for inp, tgt in batch_loader(sampler, iteration, total, workers, dev.type == "cuda"):
            if stop["flag"]:
                break
            if max_minutes is not None and time.time() - started > 60 * max_minutes:
                _say(quiet, f"stopping at iteration {iteration}: --max-minutes {max_minutes} reached")
                break
            lr = lr_at(iteration, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            inp = inp.to(dev, non_blocking=True).contiguous(memory_format=fmt)
            tgt = tgt.to(dev, non_blocking=True)
            loss = F.l1_loss(net(inp), tgt)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            iteration += 1
            running += loss.item()
            count += 1
            now = time.time()
            elapsed += now - t_last
            t_last = now
            if rank != 0:
                continue
            if iteration % config.log_every == 0:
                speed = (iteration - it_mark) / max(now - t_mark, 1e-9)
                entry = {"iter": iteration, "loss": running / count, "lr": lr, "it_per_s": speed,
                         "elapsed_s": round(elapsed, 1)}
                log.write(json.dumps(entry) + "\n")
                log.flush()
                _say(quiet, f"it {iteration}/{total} loss {entry['loss']:.5f} lr {lr:.2e} "
                            f"{speed:.2f} it/s elapsed {elapsed / 60:.1f} min")
                running, count, t_mark, it_mark = 0.0, 0, now, iteration
            if validator and (iteration % config.val_every == 0 or iteration in config.val_at):
                validate()
                t_last = time.time()  # validation time is not training time
            if iteration % config.checkpoint_every == 0:
                save_checkpoint()
        if rank == 0:
            if validator and iteration % config.val_every and iteration not in config.val_at:
                validate()  # the final weights, when the last validation came earlier
            save_checkpoint()
            if not validator:
                atomic_torch_save(weights_file(model, config, iteration, {"train_wall_s": round(elapsed)}),
                                  out_dir / "best.pth")
    finally:
        if log:
            log.close()
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
        if world > 1:
            import torch.distributed as dist
            dist.destroy_process_group()
    return {"iteration": iteration, "best": best, "elapsed_s": elapsed, "stopped": stop["flag"]}


def export_weights(out_dir: str | Path, destination: str | Path) -> dict:
    """Copy OUT/best.pth (or, before the first validation, OUT/last.pth's weights) to `destination`.

    The shippable weights file records the machine and the export time.

    Returns the file's metadata (everything but the tensors).
    """
    import platform

    from harness.store import atomic_write_bytes

    source = Path(out_dir) / "best.pth"
    if source.is_file():
        obj = torch.load(source, map_location="cpu", weights_only=True)
    elif (Path(out_dir) / "last.pth").is_file():  # before the first validation: the latest weights
        ckpt = torch.load(Path(out_dir) / "last.pth", map_location="cpu", weights_only=False)
        config = TrainConfig(**ckpt["config"])
        obj = {"params": ckpt["model"], "config": {k: v for k, v in config.model.items() if k != "name"},
               "model_name": config.model["name"], "pair": config.pair, "iterations": ckpt["iteration"],
               "train_config": config.name, "train_wall_s": round(ckpt.get("elapsed_s", 0.0))}
    else:
        raise HarnessError(f"{source}: no best weights yet, and no last.pth checkpoint either")
    obj["params"] = {k: v.float().contiguous() for k, v in obj["params"].items()}
    obj["machine"] = f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, " \
                     f"torch {torch.__version__}".replace("  ", " ")
    obj["exported"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    import io
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(Path(destination), buffer.getvalue())
    return {k: v for k, v in obj.items() if k != "params"}


ACCEPTANCE_GAIN_DB = {10: 0.5, 20: 0.8, 40: 1.0}  # issue 8: required Y-PSNR gain over bicubic per QF


def model_card(weights: str | Path, table_csv: str | Path, out_dir: str | Path, command: str,
               note: str = "", continue_config: str | None = None) -> str:
    """Return a Markdown model card for `weights`: config, training, the quality table and the curve.

    `table_csv` is the quality task's `table1.csv` of a run with `bicubic` and the network; `out_dir`
    the training folder (its `log.jsonl` gives the validation curve); `continue_config` the config that
    the card's "continue" commands name (default: the one the weights were trained with).
    """
    import pandas as pd

    from harness.store import file_sha256

    weights = Path(weights)
    meta = torch.load(weights, map_location="cpu", weights_only=True)
    n_params = sum(v.numel() for v in meta["params"].values())
    table = pd.read_csv(table_csv)
    methods = [m for m in table["method"].unique() if m != "bicubic"]
    method = methods[0] if methods else "bicubic"
    lines = [f"# Model card: `{weights.name}`", "",
             f"- File: `{weights.as_posix()}`, {weights.stat().st_size / 1e6:.2f} MB, sha256 "
             f"`{file_sha256(weights)}`",
             f"- Network: {meta.get('model_name', '?')} {meta.get('config')}, {n_params:,d} parameters "
             f"(paper configuration nf 64 / gc 32 / nb 20: 14,847,491)",
             f"- Pair mode: {meta.get('pair')} (LR-JPEG -> HR x4); training config `{meta.get('train_config')}` "
             f"(`preproc/configs/{meta.get('train_config')}.json`)",
             f"- Iterations: {meta.get('iterations')}; training wall time {meta.get('train_wall_s', 0) / 3600:.2f} h "
             f"on {meta.get('machine')}",
             f"- Data: `../shared/data/train/T91` + `BSD200` minus the first 10 BSD200 images (held out for "
             f"validation); 128 px HR patches degraded on the fly (MATLAB bicubic x1/4 + JPEG QF uniform "
             f"10..100), 8 dihedral transforms, L1, Adam(0.9, 0.99), cosine annealing with restarts",
             f"- Validation Y-PSNR at export (10 held-out BSD200 images): " +
             ", ".join(f"{k} {v:.3f} dB" for k, v in (meta.get("val_psnr") or {}).items()),
             f"- Exported {meta.get('exported')}"] + ([f"- Note: {note}"] if note else []) + ["",
             "## Quality (Y-PSNR / Y-SSIM, x4, the paper's recipe; gain over bicubic)", "",
             f"Measured with `{command}`.", "",
             "| set | QF | bicubic | " + method + " | gain dB | target dB | met |", "|---|---|---|---|---|---|---|"]
    all_met = True
    for (set_name, qf), group in table.groupby(["set", "qf"], sort=True):
        rows = {r.method: r for r in group.itertuples()}
        if "bicubic" not in rows or method not in rows:
            continue
        b, m = rows["bicubic"], rows[method]
        gain = m.psnr - b.psnr
        target = ACCEPTANCE_GAIN_DB.get(int(qf))
        met = target is not None and gain >= target
        all_met &= bool(met)
        lines.append(f"| {set_name} | {qf} | {b.psnr:.2f} / {b.ssim:.4f} | {m.psnr:.2f} / {m.ssim:.4f} | "
                     f"{gain:+.2f} | {target} | {'yes' if met else 'no'} |")
    lines += ["", f"Acceptance (gain >= 0.5 / 0.8 / 1.0 dB at QF 10 / 20 / 40 on Set5 and Set14): "
                  f"**{'met' if all_met else 'not met yet'}**.", "",
              "## Validation curve (mean Y-PSNR gain over bicubic on the held-out images)", "",
              "| iteration | QF gains (dB) | train L1 (last logged) |", "|---|---|---|"]
    log_path = Path(out_dir) / "log.jsonl"
    last_loss = None
    if log_path.exists():
        entries = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
        vals = [e for e in entries if "val_gain" in e]
        step = max(1, len(vals) // 20)
        for e in entries:
            if "loss" in e:
                last_loss = e["loss"]
            if "val_gain" in e and (vals.index(e) % step == 0 or e is vals[-1]):
                gains = ", ".join(f"{k} {v:+.3f}" for k, v in e["val_gain"].items())
                lines.append(f"| {e['iter']} | {gains} | {last_loss:.5f} |" if last_loss else
                             f"| {e['iter']} | {gains} | - |")
    continue_config = continue_config or meta.get("train_config")
    lines += ["", "## Reproduce / continue", "",
              "```", f"nohup nice -n 10 python -m preproc.train --config {continue_config} "
              f"--out /work/cajnn_train --threads 2 &   # resumes /work/cajnn_train/last.pth, or starts "
              f"from this file", f"python -m preproc.train --config {continue_config} "
              f"--out /work/cajnn_train --export {weights.as_posix()}", command, "```", ""]
    return "\n".join(lines)


def _is_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, flush=True)


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m preproc.train", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="config name in preproc/configs/ or a JSON path")
    parser.add_argument("--out", required=True, help="output folder (checkpoint, best weights, log)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--iterations", type=int, default=None, help="override the config's total")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes that make training batches (0: the training process; try 8 on a GPU)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop cleanly (checkpoint written) after this many minutes of this run")
    parser.add_argument("--init", default=None, help="weights to start from when OUT has no checkpoint")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--export", metavar="DEST", default=None,
                        help="do not train: copy OUT/best.pth to DEST (e.g. preproc/weights/cajnn_small.pth)")
    parser.add_argument("--card-table", metavar="CSV", default=None,
                        help="with --export DEST: write DEST's model card (.md) from this quality table1.csv "
                             "instead of exporting (--config: the config its 'continue' commands name)")
    parser.add_argument("--card-command", default="python run_all.py --task quality --preproc bicubic cajnn "
                        "--data ../shared/data/sr/Set5 ../shared/data/sr/Set14 --qf 10 20 40 --out /tmp/cajnn_eval")
    parser.add_argument("--card-note", default="", help="an extra line for the model card")
    args = parser.parse_args(argv)
    try:
        if args.export and args.card_table:
            from harness.store import atomic_write_text
            card = Path(args.export).with_suffix(".md")
            atomic_write_text(card, model_card(args.export, args.card_table, args.out, args.card_command,
                                              args.card_note, continue_config=args.config))
            print(f"wrote {card}")
            return
        if args.export:
            print(json.dumps(export_weights(args.out, args.export), default=str))
            return
        config = TrainConfig.load(args.config)
        if args.device.startswith("cuda") and not torch.cuda.is_available():
            raise HarnessError("--device cuda: no CUDA device is available")
        summary = train(config, args.out, device=args.device, threads=args.threads,
                        iterations=args.iterations, init=args.init, quiet=args.quiet,
                        workers=args.workers, max_minutes=args.max_minutes)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
