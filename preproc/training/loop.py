"""The training loop: the learning-rate schedule, validation, checkpoints (`last.pth`, `best.pth`,
`log.jsonl`), resume and initialisation (see `preproc.train`)."""
from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.errors import HarnessError
from harness.image import list_images, load_image
from harness.metrics import psnr_y
from harness.resize import imresize
from preproc.training.config import TrainConfig, _resolve_path, build_model
from preproc.training.data import (PatchSampler, batch_loader, load_folder_images, make_pair, qf_label,
                                   to_image, to_tensor)
from preproc.transfer import PRETRAINED


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



def warmup_factor(iteration: int, warmup_from: int | None, config: TrainConfig) -> float:
    """Return the lr factor of the linear warm-up over `config.warmup` iterations from `warmup_from`
    (the iteration at which the optimizer started fresh; None: no warm-up), 1.0 outside it."""
    if not config.warmup or warmup_from is None or iteration >= warmup_from + config.warmup:
        return 1.0
    return (iteration - warmup_from + 1) / config.warmup



class Validator:
    """Y-PSNR of the model on held-out images at fixed QFs, beside the bicubic baseline."""

    def __init__(self, images: list[tuple[str, np.ndarray]], config: TrainConfig):
        self.pairs = {}  # label ("q10", or "clean" for no JPEG) -> list of (input uint8, target uint8)
        self.baseline = {}
        for quality in config.val_qf:
            label = qf_label(quality)
            pairs = [make_pair(img, config.pair, config.scale, quality) for _, img in images]
            self.pairs[label] = pairs
            up = config.scale if config.pair != "car" else 1
            self.baseline[label] = float(np.mean(
                [psnr_y(imresize(i, up) if up > 1 else i, t) for i, t in pairs])) if pairs else None

    @torch.inference_mode()
    def __call__(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Return {"q10": mean Y-PSNR, ..., "mean": mean over the conditions} of `model` (set to eval, then
        back); a `val_qf` entry of null is the condition without JPEG, "clean"."""
        was_training = model.training
        model.eval()
        result = {}
        for label, pairs in self.pairs.items():
            scores = [psnr_y(to_image(model(to_tensor(i).to(device))), t) for i, t in pairs]
            result[label] = float(np.mean(scores))
        model.train(was_training)
        result["mean"] = float(np.mean(list(result.values())))
        return result



def validation_images(config: TrainConfig) -> list[tuple[str, np.ndarray]]:
    """The (path, image) pairs `config` validates on: the first `val_images` images of `val_folder`."""
    if config.val_images <= 0:
        return []
    paths = list_images(_resolve_path(config.val_folder))[:config.val_images]
    return [(str(p), load_image(p)) for p in paths]



def atomic_torch_save(obj, path: Path) -> None:
    """torch.save to a temporary file in the same folder, then os.replace."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)



def weights_file(state: dict, config: TrainConfig, iteration: int, extra: dict) -> dict:
    """Return the shippable weights dict {"params", "config", "model", "iterations", ...} of the state dict
    `state` ("recipe": every field of the training config, so a model card can say how it was trained)."""
    model_config = {k: v for k, v in config.model.items() if k != "name"}
    return {"params": {k: v.detach().cpu().clone() for k, v in state.items()},
            "config": model_config, "model_name": config.model["name"], "pair": config.pair,
            "iterations": iteration, "train_config": config.name, "recipe": asdict(config), **extra}



def _ema_update(decay: float):
    """Return an AveragedModel `multi_avg_fn`: an EMA whose decay ramps up as min(decay, (1 + n) / (10 + n))
    over the n updates so far, so that the average soon forgets the weights it started from."""
    def update(averaged: list, current: list, n_averaged: torch.Tensor) -> None:
        n = int(n_averaged)
        rate = min(decay, (1 + n) / (10 + n))
        torch._foreach_lerp_(averaged, current, 1.0 - rate)
    return update



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
    if threads is None and dev.type == "cpu":
        threads = 1  # beside any other busy process a 2-thread run goes at ~0.2x (docs/leaderboard.md)
        thread_note = " (the CPU default: pass --threads 2 only when nothing else runs)"
    else:
        thread_note = ""
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
    ema_state = None
    warmup_from = None  # the iteration at which the optimizer started fresh (lr warm-up from there)
    init_report = None
    last = out_dir / "last.pth"
    if last.exists():
        ckpt = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        iteration, best, elapsed = ckpt["iteration"], ckpt["best"], ckpt.get("elapsed_s", 0.0)
        torch_rng = ckpt["rng"]["torch"]
        ema_state = ckpt.get("ema")
        warmup_from = ckpt.get("warmup_from")
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

    if not last.exists():
        warmup_from = iteration

    val_images = validation_images(config)
    val_skip = {path for path, _ in val_images}
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

    ema = None
    if config.ema:
        from torch.optim.swa_utils import AveragedModel
        ema = AveragedModel(model, multi_avg_fn=_ema_update(config.ema), use_buffers=True)
        if ema_state is not None:
            ema.load_state_dict(ema_state)
    val_model = ema.module if ema is not None else model  # what is validated, kept as best.pth and exported
    autocast = {"device_type": dev.type, "dtype": torch.bfloat16, "enabled": config.precision == "bf16"}

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
                    f"batch {batch} x {world}, device {dev}, threads {torch.get_num_threads()}{thread_note}, "
                    f"loader workers {workers}, precision {config.precision}"
                    + (f", EMA of the weights (decay {config.ema}) validated and exported" if ema else "")
                    + (f", lr warm-up over {config.warmup} iterations from {warmup_from}"
                       if warmup_factor(iteration, warmup_from, config) < 1
                       else ""))
        if validator:
            _say(quiet, "validation bicubic Y-PSNR: " +
                 ", ".join(f"{label} {v:.3f}" for label, v in validator.baseline.items()))

    stop = {"flag": False}

    def _stop(signum, frame):  # finish the current iteration, checkpoint, exit
        stop["flag"] = True

    old_handlers = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)} \
        if rank == 0 and _is_main_thread() else {}

    def save_checkpoint():
        atomic_torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                           "iteration": iteration, "best": best, "elapsed_s": elapsed,
                           "config": asdict(config), "warmup_from": warmup_from,
                           "ema": ema.state_dict() if ema is not None else None,
                           "rng": {"torch": torch.get_rng_state()}}, last)

    def validate():  # log the validation PSNR; keep the weights when they are the best so far
        nonlocal best
        scores = validator(val_model, dev)
        entry = {"iter": iteration, "weights": "ema" if ema is not None else "model", "val_psnr": scores,
                 "val_gain": {k: scores[k] - validator.baseline[k]
                              for k in scores if k != "mean"}}
        log.write(json.dumps(entry) + "\n")
        log.flush()
        _say(quiet, f"it {iteration} validation Y-PSNR " +
             ", ".join(f"{k} {v:.3f} ({entry['val_gain'][k]:+.3f} dB)"
                       for k, v in scores.items() if k != "mean"))
        weights = weights_file(val_model.state_dict(), config, iteration, {"val_psnr": scores, "train_wall_s": round(elapsed)})
        if config.snapshots:
            atomic_torch_save(weights, out_dir / f"val_{iteration:06d}.pth")
        if scores["mean"] > best:
            best = scores["mean"]
            atomic_torch_save(weights, out_dir / "best.pth")

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
            lr = lr_at(iteration, config) * warmup_factor(iteration, warmup_from, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            inp = inp.to(dev, non_blocking=True).contiguous(memory_format=fmt)
            tgt = tgt.to(dev, non_blocking=True)
            with torch.autocast(**autocast):
                out = net(inp)
            loss = F.l1_loss(out.float(), tgt)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update_parameters(model)
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
                atomic_torch_save(weights_file(val_model.state_dict(), config, iteration, {"train_wall_s": round(elapsed)}),
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



def _is_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()



def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, flush=True)

