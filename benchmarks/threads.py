"""Restorer time per call with 1 and 2 torch threads, on an idle CPU and beside one busy core.

    python benchmarks/threads.py [--restorers cajnn arcnn+rrdb dat] [--repeats 3]

Inputs: a word crop as the text task sees it (an SVT-sized word, 96 x 256 px, degraded x4 + JPEG q20: 24 x 64
LR px) and a WIDER FACE image's LR input (1024 x 768 -> 256 x 192 LR px). For each restorer, input and thread
count the script prints the fastest of `--repeats` calls (after a warm-up), first with the CPU idle (background
training jobs paused, benchmarks/background.py) and then beside a competitor: one process spinning on one core,
started like a background job (its own session, nice 19; /proc/sys/kernel/sched_autogroup_enabled = 1 gives
each session a fair share whatever its nice value). On this project's 2-core machine a 2-thread run beside a
busy core slows down far more than the lost half of the CPU: at every operator one of its two threads waits for
the core it shares.
This is why long runs here use `--threads 1` per process (and `torchrun` for the second core) whenever anything
else runs. No test asserts a timing.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.background import paused_training  # noqa: E402
from benchmarks.inference import best_time  # noqa: E402
from harness.degrade import degrade  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from harness.registry import BuildOptions, build  # noqa: E402

INPUTS = {"word 24x64": (96, 256, 20), "WIDER 256x192": (768, 1024, None)}


def spin(stop) -> None:
    """Keep one core busy until `stop` is set, as a background job does: in a session of its own (as
    `setsid nohup` starts one) at nice 19. With the kernel's autogroup scheduling, nice only orders the
    processes within one session; between sessions each gets a fair share, whatever its nice value."""
    os.setsid()
    os.nice(19)
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def lr_input(height: int, width: int, quality: int | None) -> np.ndarray:
    """Return the LR input of a smooth synthetic `height` x `width` HR image, degraded x4 (+ JPEG)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    base = 128 + 60 * np.sin(x / 9.0)[..., None] * np.cos(y / 13.0)[..., None] + rng.normal(0, 12, (height, width, 3))
    return degrade(base.clip(0, 255).astype(np.uint8), scale=4, quality=quality)[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--restorers", nargs="+", default=["cajnn", "arcnn+rrdb", "dat"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)
    restorers = {}
    for spec in args.restorers:
        try:
            restorers[spec] = build(spec, BuildOptions(tile=0))
        except HarnessError as exc:
            print(f"{spec}: left out ({exc})")
    inputs = {name: lr_input(*shape) for name, shape in INPUTS.items()}
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    print(f"{'restorer':<12} {'input':<14} {'idle 1 thr':>11} {'idle 2 thr':>11} {'busy 1 thr':>11} {'busy 2 thr':>11}")
    rows = {}
    with paused_training():
        for busy in (False, True):
            stop = mp.Event()
            competitor = mp.Process(target=spin, args=(stop,), daemon=True) if busy else None
            if competitor:
                competitor.start()
                time.sleep(0.5)
            try:
                for spec, restorer in restorers.items():
                    for name, image in inputs.items():
                        for threads in (1, 2):
                            torch.set_num_threads(threads)
                            rows[spec, name, busy, threads] = best_time(lambda: restorer(image), args.repeats)
            finally:
                if competitor:
                    stop.set()
                    competitor.join()
    for spec in restorers:
        for name in inputs:
            cells = [rows[spec, name, busy, threads] for busy in (False, True) for threads in (1, 2)]
            print(f"{spec:<12} {name:<14} " + " ".join(f"{c:>10.3f}s" for c in cells))
    print("fastest of", args.repeats, "calls after a warm-up; busy: one process in its own session (nice 19) "
          "spinning on one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
