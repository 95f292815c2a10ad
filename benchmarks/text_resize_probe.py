"""Word accuracy of one recogniser on the same degraded words fed through different resize paths.

    python benchmarks/text_resize_probe.py [--limit 200] [--degrade x4,q20] [--threads 1]
    python benchmarks/text_resize_probe.py --restorer cajnn [--weights PATH]

Why can x4 restoration of LR-JPEG word crops read fewer words than the LR crop itself (docs/icdar13.md,
"Why enlarging word crops can lose words")? Each row feeds the recogniser the same words prepared
differently; R is the x4 restorer (--restorer, default bicubic). The recogniser then applies its own
resize to its input height (rapidocr: cv2.resize INTER_LINEAR, no antialiasing, to 48 px). Rows marked
"@48" are already 48 px high, so that resize is (almost) the identity and the row measures the image
handed to it. An accuracy probe, not a timing: it does not pause the training job. All rows on SVT-647
take about 10 minutes on 2 shared cores with --threads 1 (--variants NAME ... for fewer).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.degrade import degrade, parse_degradation  # noqa: E402
from harness.registry import BuildOptions  # noqa: E402
from harness.stats import mcnemar_exact  # noqa: E402
from harness.registry import build as build_preprocessor  # noqa: E402
from harness.resize import imresize  # noqa: E402
from tasks.icdar13.datasets import load_word, open_word_set  # noqa: E402
from tasks.icdar13.recognizers import RecognizerOptions, build_recognizer  # noqa: E402
from tasks.icdar13.scoring import is_correct  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "text" / "svt_test"
HEIGHT = 48


def to_height(img: np.ndarray, how: str, height: int = HEIGHT) -> np.ndarray:
    """Return `img` resized to `height` rows keeping its aspect ratio, by `how`."""
    h, w = img.shape[:2]
    width = max(1, int(round(w * height / h)))
    if how == "matlab":
        return imresize(img, output_shape=(height, width))
    flags = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA, "cubic": cv2.INTER_CUBIC}
    return cv2.resize(img, (width, height), interpolation=flags[how])


def bilinear_x4(img: np.ndarray) -> np.ndarray:
    return cv2.resize(img, (img.shape[1] * 4, img.shape[0] * 4), interpolation=cv2.INTER_LINEAR)


# name -> f(hr, lr, sr) -> the image handed to the recogniser; sr = the restorer's x4 output of lr
# (--restorer, default bicubic: MATLAB bicubic x4, what `--preproc bicubic` does)
VARIANTS = {
    "none (LR)": lambda hr, lr, sr: lr,
    "R x4": lambda hr, lr, sr: sr,
    "R x4 + down (to LR size)": lambda hr, lr, sr: imresize(sr, output_shape=lr.shape[:2]),
    "R x4 -> @48 cv2 linear": lambda hr, lr, sr: to_height(sr, "linear"),
    "R x4 -> @48 MATLAB (antialiased)": lambda hr, lr, sr: to_height(sr, "matlab"),
    "R x4 -> @48 cv2 area": lambda hr, lr, sr: to_height(sr, "area"),
    "bilinear x4 (cv2)": lambda hr, lr, sr: bilinear_x4(lr),
    "LR -> @48 cv2 linear": lambda hr, lr, sr: to_height(lr, "linear"),
    "LR -> @48 MATLAB bicubic": lambda hr, lr, sr: to_height(lr, "matlab"),
    "LR -> @48 cv2 cubic": lambda hr, lr, sr: to_height(lr, "cubic"),
    "HR": lambda hr, lr, sr: hr,
    "HR -> @48 MATLAB (antialiased)": lambda hr, lr, sr: to_height(hr, "matlab"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--degrade", default="x4,q20")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--recognizer", default="rapidocr")
    parser.add_argument("--recognizer-option", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--restorer", default="bicubic", help="x4 preprocessor spec for the R rows (default bicubic)")
    parser.add_argument("--weights", default=None, metavar="PATH", help="its checkpoint (default: the shipped one)")
    parser.add_argument("--variants", nargs="*", default=None, help="subset of the row names (default all)")
    args = parser.parse_args(argv)
    extra = dict(o.split("=", 1) for o in args.recognizer_option)
    recognizer = build_recognizer(args.recognizer, RecognizerOptions(threads=args.threads, extra=extra))
    d = parse_degradation(args.degrade)
    words = open_word_set(args.data, None, "all").items[: args.limit]
    pairs = [degrade(load_word(w), d.scale, d.quality) for w in words]
    labels = [w.label for w in words]
    if args.restorer != "bicubic":  # a network: keep torch to --threads on this shared machine
        import torch

        torch.set_num_threads(args.threads)
    options = BuildOptions(weights={args.restorer: args.weights} if args.weights else {})
    restorer = build_preprocessor(args.restorer, options)
    if restorer.scale != d.scale:
        raise SystemExit(f"--restorer {args.restorer} has scale {restorer.scale}, the degradation {d.scale}")
    t0 = time.perf_counter()
    restored = restorer.process_batch([lr for _, lr in pairs])
    print(f"R = {args.restorer}: {time.perf_counter() - t0:.1f} s for {len(pairs)} words")
    print(f"{args.recognizer} {extra or ''} on the first {len(words)} words of {Path(args.data).name}, "
          f"--degrade {d.tag}; LR height median {int(np.median([lr.shape[0] for _, lr in pairs]))} px, "
          f"HR median {int(np.median([hr.shape[0] for hr, _ in pairs]))} px")
    bins = [(0, 8), (9, 15), (16, 10**6)]
    lr_h = [lr.shape[0] for _, lr in pairs]
    in_bin = [[lo <= h <= hi for h in lr_h] for lo, hi in bins]
    print("columns: correct/N; correct in LR-height bins " + ", ".join(
        f"{lo}-{hi if hi < 10**6 else ''} px (n={sum(b)})" for (lo, hi), b in zip(bins, in_bin)))
    results = {}
    for name, make in VARIANTS.items():
        if args.variants and name not in args.variants:
            continue
        images = [make(hr, lr, sr) for (hr, lr), sr in zip(pairs, restored)]
        t0 = time.perf_counter()
        texts, _ = recognizer.recognize(images)
        ok = [is_correct(t, l) for t, l in zip(texts, labels)]
        results[name] = ok
        median_h = int(np.median([im.shape[0] for im in images]))
        per_bin = " ".join(f"{sum(o for o, i in zip(ok, b) if i):4d}" for b in in_bin)
        print(f"{name:36s} {sum(ok):4d}/{len(ok)} {100 * sum(ok) / len(ok):6.2f}%  bins {per_bin}  "
              f"median input height {median_h:4d}  {time.perf_counter() - t0:5.1f} s", flush=True)
    base = results.get("none (LR)")
    if base:
        print("\nfixed/broken vs none (LR):")
        for name, ok in results.items():
            if name != "none (LR)":
                fixed = sum(o and not b for o, b in zip(ok, base))
                broken = sum(b and not o for o, b in zip(ok, base))
                print(f"  {name:36s} +{fixed} / -{broken}  (McNemar p {mcnemar_exact(fixed, broken):.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
