"""Benchmark: MATLAB-exact bicubic resize against Pillow's C bicubic and the plain NumPy port.

    python benchmarks/resize.py [--repeats 30] [--image PATH]

The workload (issue 10): a 1024x768 RGB uint8 image x1/4, then its 256x192 result x4. Prints the median
time of ours (harness.resize.imresize), of Pillow BICUBIC on the same input, and of the plain port
(oracles/resize_oracle.py: one dot per output pixel as BasicSR's imresize; also the test
oracle's tap-by-tap variant), with the ratios. Targets: ours <= 2x Pillow, ours >= 4x faster than the
plain port. Also checks that ours equals the test oracle on this input (bit for bit).

Running background training jobs (benchmarks/background.py) are paused (SIGSTOP) while timing and always
resumed (SIGCONT) afterwards; each pause is a few seconds.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.resize import imresize  # noqa: E402
from oracles import resize_oracle  # noqa: E402

from benchmarks.background import paused_training  # noqa: E402

def interleaved_medians(fns: dict, repeats: int, every: dict | None = None) -> dict:
    """Return {name: median seconds}, timing the functions in turn in each round, so that load from
    other processes falls on all of them alike. `every[name] = k` times that one only every k-th round."""
    every = every or {}
    for fn in fns.values():
        fn()  # warm-up (weight tables, caches)
    times = {name: [] for name in fns}
    for i in range(repeats):
        for name, fn in fns.items():
            if i % every.get(name, 1):
                continue
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def test_image(path: str | None) -> np.ndarray:
    if path:
        from harness.image import load_image

        img = load_image(path)
        return np.ascontiguousarray(np.asarray(Image.fromarray(img).resize((1024, 768), Image.LANCZOS)))
    # A smooth image with texture: random noise alone would be an unusual input, but timing does not
    # depend on the content.
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:768, 0:1024]
    base = 128 + 60 * np.sin(x / 37.0)[..., None] * np.cos(y / 23.0)[..., None] * np.array([1, 0.7, 0.4])
    return np.clip(base + rng.normal(0, 20, (768, 1024, 3)), 0, 255).astype(np.uint8)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--oracle-repeats", type=int, default=5)
    parser.add_argument("--image", default=None, help="an image to resize to 1024x768 first (default: synthetic)")
    args = parser.parse_args(argv)

    img = test_image(args.image)
    small = imresize(img, 0.25)
    assert small.shape == (192, 256, 3)

    def ours():
        imresize(imresize(img, 0.25), 4)

    def ours_down():
        imresize(img, 0.25)

    def ours_up():
        imresize(small, 4)

    pil_img = Image.fromarray(img)

    def pillow():
        down = pil_img.resize((256, 192), Image.BICUBIC)
        down.resize((1024, 768), Image.BICUBIC)

    def plain():  # BasicSR's formulation: one dot per output pixel
        resize_oracle.imresize(resize_oracle.imresize(img, 0.25, tap_by_tap=False), 4, tap_by_tap=False)

    def oracle():  # the test oracle: the same, adding tap by tap as MATLAB's loop does
        resize_oracle.imresize(resize_oracle.imresize(img, 0.25), 4)

    exact_down = np.array_equal(imresize(img, 0.25), resize_oracle.imresize(img, 0.25))
    exact_up = np.array_equal(imresize(small, 4), resize_oracle.imresize(small, 4))

    fns = {"ours": ours, "pillow": pillow, "down": ours_down, "up": ours_up, "plain": plain, "oracle": oracle}
    slow_every = max(1, args.repeats // args.oracle_repeats)
    with paused_training() as paused:
        t = interleaved_medians(fns, args.repeats, every={"plain": slow_every, "oracle": slow_every})
    t_ours, t_pil, t_plain, t_down, t_up = (t[k] for k in ("ours", "pillow", "plain", "down", "up"))

    import PIL
    import scipy

    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"numpy {np.__version__}, scipy {scipy.__version__}, Pillow {PIL.__version__}"
          + (f"; background pid {paused} paused while timing" if paused else ""))
    print("workload: 1024x768 RGB uint8 x1/4, then the 256x192 result x4 (median of "
          f"{args.repeats} interleaved rounds; plain port every {max(1, args.repeats // args.oracle_repeats)}th)")
    print(f"ours (harness.resize)      {t_ours * 1e3:8.2f} ms   (x1/4 {t_down * 1e3:.2f} ms, x4 {t_up * 1e3:.2f} ms)")
    print(f"Pillow BICUBIC (C)         {t_pil * 1e3:8.2f} ms")
    print(f"plain NumPy port (BasicSR) {t_plain * 1e3:8.2f} ms   (test oracle, tap by tap: {t['oracle'] * 1e3:.2f} ms)")
    print(f"ours / Pillow              {t_ours / t_pil:8.2f}x   (target <= 2x: {'met' if t_ours <= 2 * t_pil else 'NOT met'})")
    print(f"plain port / ours          {t_plain / t_ours:8.2f}x   (target >= 4x: {'met' if t_plain >= 4 * t_ours else 'NOT met'})")
    print(f"bit-exact vs test oracle   x1/4 {'yes' if exact_down else 'NO'}, x4 {'yes' if exact_up else 'NO'}")
    return 0 if exact_down and exact_up else 1


if __name__ == "__main__":
    sys.exit(main())
