"""Time and peak memory of one restore call as the harness runs it (tiling, precision), each in a fresh process.

    python benchmarks/restore_memory.py [--spec cajnn] [--weights cajnn=PATH] [--precision fp32 bf16]
                                        [--sizes 192x256 342x256 768x1024] [--tile auto 128] [--threads 1]

For every (input size, tile, precision) a new Python process builds the restorer (`harness.registry.build`,
as `run_all.py` does), restores one LR image of that size (H x W: the LR-JPEG input of a smooth synthetic 768 x 1024 image,
repeated), and reports the
call's seconds and two peak resident-set sizes (`resource.getrusage`, MiB): after building the restorer
(model weights, libraries) and after the call. Their difference is what the restore itself needed: with
tiling (`auto`: inputs above 256 x 256 LR pixels in tiles of 256 plus a 16 px overlap, the default) it
stays that of one tile however large the image is. 192x256 is a WIDER FACE val image's LR size (1024 x 768
at x1/4); 342x256 the tallest val image's (1365 px). Background training jobs are paused meanwhile
(benchmarks/background.py). No test asserts these figures.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.background import paused_training  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from run_all import parse_weights  # noqa: E402

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np, torch
args = json.loads(sys.argv[2])
torch.set_num_threads(args["threads"])
torch.set_flush_denormal(True)
from harness.registry import BuildOptions, build
from benchmarks.threads import lr_input
pre = build(args["spec"], BuildOptions(tile=args["tile"], precision=args["precision"], weights=args["weights"]))
h, w = args["size"]
# the LR-JPEG (QF 20) input of a 768 x 1024 image, repeated to h x w (a large synthetic HR image would set the
# peak RSS before the call)
base = lr_input(768, 1024, 20)
image = np.ascontiguousarray(np.tile(base, (-(-h // base.shape[0]), -(-w // base.shape[1]), 1))[:h, :w])
pre(lr_input(96, 96, 20))   # warm-up: first-call allocations are not the restore's
built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
out = pre(image)
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
stage = getattr(pre, "stages", [pre])[0]
tile = stage.tile_for(h, w) if hasattr(stage, "tile_for") else None
print(json.dumps({"seconds": seconds, "built_mib": built, "peak_mib": peak, "out": list(out.shape), "tile": tile}))
"""


def measure(spec: str, size: tuple[int, int], tile: int | None, precision: str, weights: dict, threads: int) -> dict:
    """Return the child's figures for one restore call."""
    args = {"spec": spec, "size": size, "tile": tile, "precision": precision, "weights": weights, "threads": threads}
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), json.dumps(args)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="cajnn")
    parser.add_argument("--weights", nargs="+", default=[], metavar="NAME=PATH")
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--sizes", nargs="+", default=["192x256", "342x256", "768x1024"], metavar="HxW")
    parser.add_argument("--tile", nargs="+", default=["auto"], help="tile sizes in LR px; auto: the default")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-pause", action="store_true", help="do not pause background training jobs")
    args = parser.parse_args(argv)
    try:
        weights = parse_weights(args.weights, [args.spec])   # as run_all.py reads it
    except HarnessError as exc:
        parser.error(str(exc))
    try:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
        tiles = [None if t == "auto" else int(t) for t in args.tile]
        if any(len(s) != 2 or min(s) < 1 for s in sizes):
            raise ValueError
    except ValueError:
        parser.error("--sizes takes HxW items, --tile integers or auto")
    print(f"{args.spec} ({', '.join(f'{k}={v}' for k, v in weights.items()) or 'shipped weights'}), "
          f"{args.threads} thread(s)")
    print(f"{'LR input':>10} {'tile':>6} {'precision':>9} {'seconds':>8} {'RSS built':>10} {'RSS peak':>9} "
          f"{'restore needs':>13}")
    with paused_training(not args.no_pause):
        for size in sizes:
            for tile in tiles:
                for precision in args.precision:
                    r = measure(args.spec, size, tile, precision, weights, args.threads)
                    label = f"{size[0]}x{size[1]}"
                    if "error" in r:
                        print(f"{label:>10} {str(tile or 'auto'):>6} {precision:>9}  failed: {r['error']}")
                        continue
                    used = f"{r['tile'] or 'none'}"
                    print(f"{label:>10} {used:>6} {precision:>9} {r['seconds']:>8.2f} {r['built_mib']:>8.0f} M "
                          f"{r['peak_mib']:>7.0f} M {r['peak_mib'] - r['built_mib']:>11.0f} M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
