"""Restore time and GFLOP/s of every restorer in fp32 / channels_last / bf16, beside this CPU's conv rate.

    python benchmarks/restorers.py [--restorers cajnn rrdb arcnn dncnn waifu2x] [--word-only dat realesrgan]
                                   [--threads 1 2] [--repeats 3] [--weights NAME=PATH ...] [--tile N]

For each restorer (as the harness runs it: uint8 image in, uint8 image out, untiled unless `--tile N` gives
the tile size in LR pixels; `--weights` as in run_all.py), each input and each thread count, four variants of
the same network:

    fp32        contiguous (NCHW) memory format, fp32: what inference did before channels_last
    cl          channels_last (NHWC), fp32: the default on the CPU (`--precision fp32`)
    bf16        contiguous, bf16 autocast
    bf16+cl     channels_last, bf16 autocast: what `--precision bf16` runs

Inputs as in benchmarks/threads.py: a word crop's LR input (24 x 64) and a WIDER FACE image's (256 x 192),
both degraded from a smooth synthetic image. Each time is the fastest of `--repeats` calls after a warm-up.
GFLOP/s counts the multiply-adds (x2) of every Conv2d, ConvTranspose2d and Linear layer of one call
(attention products are not counted, so transformers' rates are low estimates). The ceiling is the rate
of a reference conv stack (10 x 3x3 conv 64 -> 64 on 1 x 64 x 128 x 128) measured in the same run, in the
same variant and thread count. `max diff` is the largest difference of a variant's output from fp32's, in
uint8 levels. Background training jobs are paused while timing (benchmarks/background.py). The last
lines check the acceptance of issue 27 (channels_last >= 1.3x, bf16 >= 2x faster than fp32 contiguous
for cajnn_small and rrdb on the WIDER input with one thread; `cajnn`, the 14.8 M paper configuration, is
timed on the word crop by default: docs/scaling.md has its WIDER figures). No test asserts a timing.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks.background import paused_training  # noqa: E402
from benchmarks.inference import best_time  # noqa: E402
from benchmarks.threads import INPUTS, lr_input  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from harness.registry import BuildOptions, build  # noqa: E402
from preproc.torch_restorer import TorchRestorer  # noqa: E402
from run_all import parse_weights  # noqa: E402

VARIANTS = {"fp32": (False, "fp32"), "cl": (True, "fp32"), "bf16": (False, "bf16"), "bf16+cl": (True, "bf16")}
# Issue 27's targets, on what the options run: `--precision fp32` (channels_last) and `--precision bf16` (bf16 +
# channels_last). Contiguous bf16 is printed beside them for information; no option runs it.
ACCEPT = {"cl": 1.3, "bf16+cl": 2.0}


def torch_stages(pre) -> list[TorchRestorer]:
    """Return the TorchRestorer stages of a built spec."""
    return [s for s in getattr(pre, "stages", [pre]) if isinstance(s, TorchRestorer)]


def build_variant(spec: str, channels_last: bool, precision: str, weights: dict | None = None, tile: int = 0):
    """Return `spec` built with `tile` (0: untiled) in `precision`, every network stage in the given memory format."""
    pre = build(spec, BuildOptions(tile=tile, precision=precision, weights=weights or {}))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for stage in torch_stages(pre):
        stage.channels_last, stage.memory_format = channels_last, fmt
        stage.model.to(memory_format=fmt)
    return pre


def call_flops(pre, image: np.ndarray) -> float:
    """Return the FLOPs (2 per multiply-add) of the Conv2d, ConvTranspose2d and Linear layers in one call."""
    total = [0.0]

    def hook(module, inputs, output):
        if isinstance(module, nn.ConvTranspose2d):
            kh, kw = module.kernel_size
            total[0] += 2.0 * inputs[0].numel() * (module.out_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total[0] += 2.0 * output.numel() * (module.in_channels // module.groups) * kh * kw
        else:
            total[0] += 2.0 * output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for stage in torch_stages(pre) for m in stage.model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        pre(image)
    finally:
        for h in handles:
            h.remove()
    return total[0]


def ceiling(repeats: int) -> dict[str, float]:
    """Return GFLOP/s of the reference conv stack in each variant (at the current thread count)."""
    stack = nn.Sequential(*(nn.Conv2d(64, 64, 3, 1, 1) for _ in range(10))).eval()
    x = torch.rand(1, 64, 128, 128)
    flops = 10 * 2.0 * 64 * 64 * 9 * 128 * 128
    out = {}
    for name, (channels_last, precision) in VARIANTS.items():
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        m, xx = stack.to(memory_format=fmt), x.contiguous(memory_format=fmt)

        def run():
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                m(xx)

        out[name] = flops / best_time(run, repeats) / 1e9
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--restorers", nargs="+", default=["cajnn_small", "rrdb", "arcnn", "dncnn", "waifu2x"])
    parser.add_argument("--word-only", nargs="*", default=["dat", "realesrgan", "cajnn"],
                        help="restorers timed on the word crop only (seconds to tens of seconds per WIDER call)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pause", action="store_true", help="do not pause background training jobs")
    parser.add_argument("--weights", nargs="+", default=[], metavar="NAME=PATH",
                        help="weights for a named stage, e.g. cajnn=preproc/weights/cajnn_paper_ft.pth")
    parser.add_argument("--tile", type=int, default=0, help="tile size in LR pixels (default 0: untiled)")
    args = parser.parse_args(argv)
    try:
        weights = parse_weights(args.weights, args.restorers + args.word_only)   # as run_all.py reads it
    except HarnessError as exc:
        parser.error(str(exc))
    torch.set_flush_denormal(True)
    inputs = {name: lr_input(*shape) for name, shape in INPUTS.items()}
    specs = {spec: list(inputs) for spec in args.restorers}
    specs.update({spec: [n for n in inputs if n.startswith("word")] for spec in args.word_only})
    built = {}
    for spec in specs:
        try:
            built[spec] = {v: build_variant(spec, *cfg, weights=weights, tile=args.tile) for v, cfg in VARIANTS.items()}
        except HarnessError as exc:
            print(f"{spec}: left out ({exc})")
    flags = [f for f in ("avx512_bf16", "amx_bf16", "avx512f") if f in Path("/proc/cpuinfo").read_text()]
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs ({' '.join(flags)}), "
          f"torch {torch.__version__}; load average {os.getloadavg()[0]:.1f}")
    rows, ceilings = {}, {}
    start = time.perf_counter()
    with paused_training(not args.no_pause):
        for threads in args.threads:
            torch.set_num_threads(threads)
            ceilings[threads] = ceiling(args.repeats)
            for spec, variants in built.items():
                for name in specs[spec]:
                    image = inputs[name]
                    flops = call_flops(variants["fp32"], image)
                    reference = variants["fp32"](image).astype(int)
                    for v, pre in variants.items():
                        seconds = best_time(lambda: pre(image), args.repeats)
                        diff = int(np.abs(pre(image).astype(int) - reference).max())
                        rows[spec, name, threads, v] = (seconds, flops / seconds / 1e9, diff)
    paused = time.perf_counter() - start
    print(f"timed for {paused:.0f} s (background training paused meanwhile)")
    for threads, c in ceilings.items():
        print(f"ceiling, {threads} thread(s), conv stack GFLOP/s: " + ", ".join(f"{v} {r:.0f}" for v, r in c.items()))
    print(f"\n{'restorer':<11} {'input':<14} {'thr':>3} " +
          " ".join(f"{v + ' s (x)':>16}" for v in VARIANTS) + "   GFLOP/s (of ceiling) per variant; max diff")
    for (spec, name, threads, v), _ in rows.items():
        if v != "fp32":
            continue
        base = rows[spec, name, threads, "fp32"][0]
        cells = [rows[spec, name, threads, w] for w in VARIANTS]
        times = " ".join(f"{s:>8.3f} ({base / s:>4.2f}x)" for s, _, _ in cells)
        rates = ", ".join(f"{r:.0f} ({r / ceilings[threads][w]:.2f})" for w, (_, r, _) in zip(VARIANTS, cells))
        diffs = "/".join(str(d) for _, _, d in cells[1:])
        print(f"{spec:<11} {name:<14} {threads:>3} {times}   {rates}; {diffs}")
    print("\nacceptance (issue 27), WIDER 256x192, 1 thread, speed-up over fp32 contiguous:")
    for spec in ("cajnn_small", "rrdb"):
        wider = [n for n in inputs if n.startswith("WIDER")][0]
        if (spec, wider, 1, "fp32") not in rows:
            print(f"  {spec}: not measured")
            continue
        base = rows[spec, wider, 1, "fp32"][0]
        for v, target in ACCEPT.items():
            x = base / rows[spec, wider, 1, v][0]
            print(f"  {spec:<11} {v:<8} {x:.2f}x (target >= {target}x: {'met' if x >= target else 'NOT met'})")
        contiguous = base / rows[spec, wider, 1, "bf16"][0]
        print(f"  {spec:<11} {'bf16':<8} {contiguous:.2f}x (contiguous bf16, information only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
