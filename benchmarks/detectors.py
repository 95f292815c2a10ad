"""Face detector speed: CenterFace (the default) vs MTCNN, images per second on the same images.

    python benchmarks/detectors.py [--data ../shared/data/widerface] [--images 16] [--threads 2]

Runs both detectors, interleaved image by image (so that other load on this shared CPU hits both alike),
on the first `--images` images of the WIDER FACE subset in the run order of the task (one image per
event first), at their original size (GT condition, about 1024x700) and at the LR size (x1/4). One
warm-up image each first. Prints images/s per detector and size and the ratio (target: CenterFace at
least 5x MTCNN at the original size). Background CAJNN training jobs (benchmarks/background.py)
are paused while timing, as in the other benchmarks (`--no-pause` leaves it alone).
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

from harness.image import load_image  # noqa: E402
from harness.resize import imresize  # noqa: E402
from tasks.widerface.dataset import load_dataset  # noqa: E402
from tasks.widerface.detectors import DetectorOptions, build_detector  # noqa: E402
from tasks.widerface.task import run_order  # noqa: E402

from benchmarks.background import paused_training  # noqa: E402

TARGET_RATIO = 5.0
DETECTORS = ("centerface", "mtcnn")


def run(args) -> None:
    torch.set_num_threads(args.threads)
    dataset = load_dataset(args.data)
    images = [load_image(im.path) for im in run_order(dataset.images)[: args.images + 1]]
    sizes = {"original": images, "LR x1/4": [imresize(im, 0.25) for im in images]}
    detectors = {name: build_detector(name, DetectorOptions(threads=args.threads)) for name in DETECTORS}
    print(f"machine: {os.uname().nodename} {os.uname().machine}, {os.cpu_count()} CPUs, {args.threads} threads, "
          f"torch {torch.__version__}; load average {os.getloadavg()[0]:.1f} at start")
    for name, det in detectors.items():
        print(f"  {name}: {det.describe()}")
    for label, batch in sizes.items():
        seconds = {name: 0.0 for name in DETECTORS}
        faces = {name: 0 for name in DETECTORS}
        for name, det in detectors.items():
            det.detect(batch[0])   # warm-up
        for image in batch[1:]:
            for name, det in detectors.items():
                t0 = time.perf_counter()
                dets = det.detect(image)
                seconds[name] += time.perf_counter() - t0
                faces[name] += int((dets.scores >= 0.5).sum())
        n = len(batch) - 1
        mean_size = sum(im.shape[0] * im.shape[1] for im in batch[1:]) / n / 1e6
        print(f"{label} ({n} images, mean {mean_size:.2f} MP):")
        for name in DETECTORS:
            print(f"  {name:11s} {n / seconds[name]:7.2f} images/s  ({seconds[name] / n:.3f} s/image; "
                  f"{faces[name]} boxes with score >= 0.5)")
        ratio = seconds["mtcnn"] / seconds["centerface"]
        target = f" (target >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'})" \
            if label == "original" else ""
        print(f"  centerface / mtcnn speed: {ratio:.1f}x{target}")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "widerface"))
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-pause", action="store_true", help="do not pause the training job")
    args = parser.parse_args()
    with paused_training(not args.no_pause):
        run(args)

if __name__ == "__main__":
    main()
