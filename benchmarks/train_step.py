"""Training-step speed of the CAJNN paper configuration on this CPU: fp32 / channels_last / bf16.

    python benchmarks/train_step.py                 # batch 8, LR patches 24 and 40 px, one thread
    python benchmarks/train_step.py --threads 2 --repeats 5

One iteration is what `preproc.train` does per batch: forward (under bf16 autocast for `bf16`), L1 loss in
fp32, backward, Adam step on fp32 master weights. The settings are timed in interleaved rounds (A, B, C, A,
B, C, ...) so that a change in the machine's load hits them alike; the figure is the median round. FLOPs
of one iteration are counted by `torch.utils.flop_counter` (forward + backward; the optimizer's few
element-wise FLOPs are left out), so GFLOP/s is comparable between patch sizes. Background training jobs
are paused while timing (`benchmarks/background.py`).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.background import paused_training  # noqa: E402
from preproc.cajnn import CAJNN  # noqa: E402

SETTINGS = {  # name: (memory format, autocast dtype or None)
    "fp32 contiguous": (torch.contiguous_format, None),
    "fp32 channels_last": (torch.channels_last, None),
    "bf16 channels_last": (torch.channels_last, torch.bfloat16),
}


def make_step(setting: str, lr_px: int, batch: int):
    """Return (step function, GFLOP per iteration) for one setting on fresh paper-configuration weights."""
    fmt, dtype = SETTINGS[setting]
    torch.manual_seed(0)
    model = CAJNN(nf=64, gc=32, nb=20).to(memory_format=fmt).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
    inp = torch.rand(batch, 3, lr_px, lr_px).contiguous(memory_format=fmt)
    tgt = torch.rand(batch, 3, 4 * lr_px, 4 * lr_px)

    def step() -> float:
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            out = model(inp)
        loss = F.l1_loss(out.float(), tgt)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    counter = FlopCounterMode(display=False)
    with counter:
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            out = model(inp)
        F.l1_loss(out.float(), tgt).backward()
    optimizer.zero_grad(set_to_none=True)
    return step, counter.get_total_flops() / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[24, 40], help="LR patch sizes (px)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per setting (after one warm-up)")
    parser.add_argument("--no-pause", action="store_true", help="do not pause background training jobs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, CAJNN paper configuration "
          f"(14,847,491 parameters); median of {args.repeats} interleaved rounds after one warm-up")
    with paused_training(not args.no_pause):
        for lr_px in args.sizes:
            steps = {name: make_step(name, lr_px, args.batch) for name in SETTINGS}
            times = {name: [] for name in SETTINGS}
            for round_ in range(args.repeats + 1):
                for name, (step, _) in steps.items():
                    start = time.perf_counter()
                    step()
                    if round_:  # round 0 warms up the allocator and oneDNN's kernel cache
                        times[name].append(time.perf_counter() - start)
            base = statistics.median(times["fp32 channels_last"])
            print(f"\nLR patch {lr_px} px (HR {4 * lr_px} px), {steps['fp32 contiguous'][1]:.0f} GFLOP per iteration")
            print(f"{'setting':<22}{'s / iteration':>15}{'GFLOP/s':>10}{'vs fp32 channels_last':>24}")
            for name, (_, gflop) in steps.items():
                median = statistics.median(times[name])
                print(f"{name:<22}{median:>15.2f}{gflop / median:>10.0f}{base / median:>23.2f}x")


if __name__ == "__main__":
    main()
