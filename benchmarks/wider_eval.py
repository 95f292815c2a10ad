"""Speed of the WIDER FACE evaluation: the vectorised evaluator vs the plain per-image loop oracle.

    python benchmarks/wider_eval.py [--reps 3] [--data ../shared/data/widerface]

Writes the full-val synthetic submission (`../shared/tools/wider_synth_submission.py --seed 1
--no-missing`, 3226 files) to a temporary folder, then times, end to end (reading the four `.mat` files
and the 3226 prediction files, evaluation, 1000-threshold accumulation, AP):
  fast   = tasks/widerface/evaluation.py (load_ground_truth + evaluate_folder)
  oracle = oracles/wider_eval_reference.py (wider_eval: loop over images and predictions)
Both must give the golden APs of REFERENCE.md 5.9 (1e-9). Prints the best and median of `--reps` runs,
the ratio, and the load average (other processes share this CPU: figures are measured as they are).
Orientation (REFERENCE.md 5.9, not run here): the official Python port takes 31-32 s on machines here.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.widerface import evaluation as ev  # noqa: E402
from tasks.widerface.groundtruth import load_ground_truth  # noqa: E402
from oracles import wider_eval_reference as ref  # noqa: E402

GOLDEN = {"easy": 0.6529755195610036, "medium": 0.6569376574995581, "hard": 0.5435119226182992}
PYTHON_PORT_SECONDS = (31.0, 32.0)   # REFERENCE.md 5.9, the wondervictor port on machines here


def timed(fn, reps: int) -> tuple[list[float], dict]:
    times, result = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "widerface"))
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    data = Path(args.data)
    gt_dir = data / "eval_tools" / "ground_truth"
    tool = ROOT.parent / "shared" / "tools" / "wider_synth_submission.py"
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "synth_seed1"
        subprocess.run([sys.executable, str(tool), str(data), str(sub), "--seed", "1", "--no-missing"],
                       check=True, capture_output=True)

        def fast():
            return ev.evaluate_folder(sub, load_ground_truth(gt_dir))[0]

        def oracle():
            return ref.wider_eval(str(sub), str(gt_dir))

        fast()  # warm the file cache and imports once for both
        load0 = os.getloadavg()
        t_fast, ap_fast = timed(fast, args.reps)
        t_oracle, ap_oracle = timed(oracle, args.reps)
        load1 = os.getloadavg()
    for name, aps in (("fast", ap_fast), ("oracle", ap_oracle)):
        ok = all(abs(aps[s] - GOLDEN[s]) <= 1e-9 for s in GOLDEN)
        print(f"{name:6s} APs " + " ".join(f"{s} {aps[s]:.16f}" for s in GOLDEN) + f"  golden (1e-9): {ok}")
    print(f"fast   evaluator : best {min(t_fast):.3f} s, median {statistics.median(t_fast):.3f} s "
          f"({args.reps} runs; target <= ~1.5 s = 1/20 of the Python port's {PYTHON_PORT_SECONDS[0]:.0f}-"
          f"{PYTHON_PORT_SECONDS[1]:.0f} s)")
    print(f"plain loop oracle: best {min(t_oracle):.3f} s, median {statistics.median(t_oracle):.3f} s")
    print(f"ratio oracle / fast: best {min(t_oracle) / min(t_fast):.1f}x, median "
          f"{statistics.median(t_oracle) / statistics.median(t_fast):.1f}x (target >= 2.5x)")
    print(f"vs the official Python port (REFERENCE.md, not run here): ~{PYTHON_PORT_SECONDS[0] / min(t_fast):.0f}x")
    print(f"load average (1 min) before / after: {load0[0]:.2f} / {load1[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
