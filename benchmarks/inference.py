"""CPU inference speed of CAJNN (paper and shipped) and RRDBNet beside this CPU's measured conv rate.

    python benchmarks/inference.py [--threads 2] [--size 96] [--no-pause] [--skip-rss]

1. Reference conv rate: 10 layers of 3x3 conv 64 -> 64 on a 1x64x128x128 float32 tensor under
   `torch.inference_mode` (FLOPs = 2 per multiply-add), contiguous and channels_last; the faster counts.
2. For each network: seconds per LR megapixel on a `--size` px square LR input, FLOPs per LR pixel
   (counted with hooks on every Conv2d), effective GFLOP/s and its fraction of the reference rate; the
   memory format (channels_last or contiguous) is chosen per network by speed.
3. The paper-configuration CAJNN's time for the whole Set5 (LR-JPEG QF 40 inputs), one image at a time.
4. Peak RSS of tiled inference of the shipped CAJNN (the `cajnn` preprocessor, default tiling, bf16) on a
   1024x768 LR input, in a fresh subprocess (`benchmarks/restore_memory.py`, which measures any restorer, size,
   tiling and precision).

Background CAJNN training jobs (benchmarks/background.py) are paused while this runs and resumed
in a `finally` block (`--no-pause` leaves it alone). Speed figures are not compared in tests.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks.background import paused_training  # noqa: E402

SET5 = ROOT.parent / "shared" / "data" / "sr" / "Set5"


def best_time(fn, reps: int = 3) -> float:
    """Return the fastest of `reps` timed calls of `fn` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def conv_flops(model: nn.Module, x: torch.Tensor) -> float:
    """Return the FLOPs (2 per multiply-add) of every Conv2d in one forward pass of `model` on `x`."""
    total = [0.0]

    def hook(module, inputs, output):
        kh, kw = module.kernel_size
        total[0] += 2.0 * output.numel() * (module.in_channels // module.groups) * kh * kw

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.inference_mode():
        model(x)
    for h in handles:
        h.remove()
    return total[0]


def reference_rate() -> dict:
    """Return GFLOP/s of the 10-layer 64->64 3x3 conv stack, contiguous and channels_last."""
    stack = nn.Sequential(*(nn.Conv2d(64, 64, 3, 1, 1) for _ in range(10))).eval()
    x = torch.rand(1, 64, 128, 128)
    flops = 10 * 2.0 * 64 * 64 * 9 * 128 * 128
    out = {}
    for fmt_name, fmt in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
        m = stack.to(memory_format=fmt)
        xx = x.contiguous(memory_format=fmt)
        with torch.inference_mode():
            t = best_time(lambda: m(xx), reps=5)
        out[fmt_name] = flops / t / 1e9
    return out


def measure(model: nn.Module, size: int) -> dict:
    """Return timing of `model` on a size x size LR input in both memory formats; keeps the faster."""
    model = model.eval()
    x = torch.rand(1, 3, size, size)
    flops = conv_flops(model, torch.rand(1, 3, 32, 32)) / (32 * 32)  # per LR pixel (convs only)
    result = {"flops_per_lr_px": flops}
    for fmt_name, fmt in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
        m = model.to(memory_format=fmt)
        xx = x.contiguous(memory_format=fmt)
        with torch.inference_mode():
            result[fmt_name] = best_time(lambda: m(xx), reps=2)
    fmt_name = min(("contiguous", "channels_last"), key=lambda k: result[k])
    t = result[fmt_name]
    result.update(format=fmt_name, seconds=t, s_per_lr_mpx=t / (size * size / 1e6),
                  gflops=flops * size * size / t / 1e9)
    return result


def set5_time(model: nn.Module) -> tuple[float, int]:
    """Return (seconds, images) of `model` on Set5 LR-JPEG QF 40 inputs, one image at a time."""
    from harness.degrade import degrade
    from harness.image import list_images, load_image

    if not SET5.is_dir():
        return float("nan"), 0
    inputs = []
    for path in list_images(SET5):
        _, lr = degrade(load_image(path), 4, 40)
        inputs.append(torch.from_numpy(lr.transpose(2, 0, 1).copy()).float().div(255)[None])
    model = model.eval().to(memory_format=torch.channels_last)
    with torch.inference_mode():
        model(inputs[0].contiguous(memory_format=torch.channels_last))  # warm-up
        t = time.perf_counter()
        for x in inputs:
            model(x.contiguous(memory_format=torch.channels_last))
    return time.perf_counter() - t, len(inputs)


def run(args) -> None:
    from preproc.cajnn import CAJNN, DEFAULT_WEIGHTS, load_cajnn, num_parameters

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print(f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs")
    ref = reference_rate()
    rate = max(ref.values())
    print(f"reference conv stack (10 x 3x3 conv 64->64, 1x64x128x128): "
          f"contiguous {ref['contiguous']:.1f} GFLOP/s, channels_last {ref['channels_last']:.1f} GFLOP/s")

    torch.manual_seed(0)
    models = {"CAJNN paper (nf64 gc32 nb20)": CAJNN(64, 32, 20)}
    if DEFAULT_WEIGHTS.is_file():
        shipped, meta = load_cajnn(DEFAULT_WEIGHTS)
        c = meta["config"]
        models[f"CAJNN shipped (nf{c['nf']} gc{c['gc']} nb{c['nb']})"] = shipped
    else:
        models["CAJNN small (nf32 gc16 nb3, random)"] = CAJNN(32, 16, 3)
    if (ROOT / "preproc" / "rrdbnet.py").is_file():
        from preproc.rrdbnet import RRDBNet
        models["RRDBNet ESRGAN (nf64 gc32 nb23)"] = RRDBNet()
    print(f"\n{'network':38s} {'params':>11s} {'GFLOP/LRpx':>11s} {'format':>14s} "
          f"{'s/LR-Mpx':>9s} {'GFLOP/s':>8s} {'of ref':>7s}")
    for name, model in models.items():
        r = measure(model, args.size)
        print(f"{name:38s} {num_parameters(model):>11,d} {r['flops_per_lr_px'] / 1e9:>11.4f} "
              f"{r['format']:>14s} {r['s_per_lr_mpx']:>9.2f} {r['gflops']:>8.1f} {r['gflops'] / rate:>7.2f}"
              f"   (contiguous {r['contiguous']:.2f} s, channels_last {r['channels_last']:.2f} s "
              f"on {args.size}x{args.size})")

    seconds, n = set5_time(models["CAJNN paper (nf64 gc32 nb20)"])
    print(f"\nCAJNN paper configuration, Set5 ({n} images, LR-JPEG QF40, one at a time): {seconds:.1f} s "
          f"(paper: 0.48 s on a Titan Xp)")

    if not args.skip_rss:
        from benchmarks.restore_memory import measure

        r = measure("cajnn", (768, 1024), None, "bf16", {}, args.threads)
        line = r.get("error") or (f"shipped weights, bf16; output {r['out']}; tile {r['tile']}; {r['seconds']:.1f} s; "
                                  f"peak RSS {r['peak_mib']:.0f} MiB (after building {r['built_mib']:.0f} MiB)")
        print(f"tiled inference, 1024x768 LR input -> 4096x3072: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=96, help="LR side of the timed square input")
    parser.add_argument("--no-pause", action="store_true", help="do not pause the training job")
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args()
    with paused_training(not args.no_pause):
        run(args)


if __name__ == "__main__":
    main()
