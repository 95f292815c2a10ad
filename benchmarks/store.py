"""Bookkeeping cost of the record store in a full WIDER FACE val run (3226 images, 4 conditions).

    python benchmarks/store.py [--images 3226] [--conditions 4] [--boxes 30] [--old-calls 20]

Simulates the store traffic of `python run_all.py --task widerface --preproc bicubic cajnn` on the full
val set, without any detection: per image and condition, one "is it done?" check (`RecordStore.has`)
and one durable append of a record with `--boxes` boxes (x, y, w, h, score; as the task writes them),
then, as rank 0 does when scoring, one `records()` read of every store. It prints the total and its
parts, and beside it the cost of the old check (re-reading every record file on each call,
`set(read_records(folder))`, what `RecordStore.done()` did before), timed on `--old-calls` calls against
the full stores and extrapolated to the run's calls. Target: the whole bookkeeping under 5 s.
The figures include fsync per record (the store's durability), so they depend on the disk.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.store import RecordStore, read_records  # noqa: E402

TARGET_S = 5.0


def record(image: int, boxes: int, rng: np.random.Generator) -> dict:
    rows = np.column_stack([rng.uniform(0, 1000, (boxes, 4)), rng.uniform(0, 1, boxes)])
    return {"id": f"{image % 61}--Event/{image:06d}", "boxes": rows.tolist(), "input_shape": [768, 1024, 3],
            "time_load": 0.01, "time_detect": 0.5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3226)
    parser.add_argument("--conditions", type=int, default=4)
    parser.add_argument("--boxes", type=int, default=30)
    parser.add_argument("--old-calls", type=int, default=20, help="calls of the old check to time")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    records = [record(i, args.boxes, rng) for i in range(args.images)]
    with tempfile.TemporaryDirectory(dir=ROOT / "results" if (ROOT / "results").is_dir() else None) as tmp:
        t0 = time.perf_counter()
        stores = [RecordStore(Path(tmp) / f"cond{c}", {"condition": c}) for c in range(args.conditions)]
        t_open = time.perf_counter() - t0
        t_check = t_append = 0.0
        for rec in records:
            for store in stores:
                t0 = time.perf_counter()
                pending = not store.has(rec["id"])
                t_check += time.perf_counter() - t0
                if pending:
                    t0 = time.perf_counter()
                    store.append(rec)
                    t_append += time.perf_counter() - t0
        t0 = time.perf_counter()
        read = [len(store.records()) for store in stores]
        t_read = time.perf_counter() - t0
        assert read == [args.images] * args.conditions, read
        t0 = time.perf_counter()
        reopened = [RecordStore(Path(tmp) / f"cond{c}", {"condition": c}) for c in range(args.conditions)]
        t_resume = time.perf_counter() - t0
        assert all(s.has(records[-1]["id"]) for s in reopened)
        calls = min(args.old_calls, args.images)
        t0 = time.perf_counter()
        for _ in range(calls):
            set(read_records(stores[0].folder))
        old_per_call = (time.perf_counter() - t0) / calls
        size = sum(f.stat().st_size for f in Path(tmp).rglob("records*.jsonl"))
    total = t_open + t_check + t_append + t_read
    n = args.images * args.conditions
    print(f"machine: {os.uname().nodename} {os.uname().machine}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"workload: {args.images} images x {args.conditions} conditions = {n} records of {args.boxes} boxes "
          f"({size / 1e6:.1f} MB of JSON lines)")
    print(f"open stores              {t_open * 1e3:9.1f} ms")
    print(f"done checks (has)        {t_check * 1e3:9.1f} ms   ({t_check / n * 1e6:.2f} us per check)")
    print(f"durable appends (fsync)  {t_append * 1e3:9.1f} ms   ({t_append / n * 1e3:.3f} ms per record)")
    print(f"final records() read     {t_read * 1e3:9.1f} ms")
    print(f"total bookkeeping        {total:9.2f} s    (target < {TARGET_S:.0f} s: "
          f"{'met' if total < TARGET_S else 'NOT met'})")
    print(f"resume: reopen 4 full stores {t_resume * 1e3:.1f} ms")
    print(f"old check (re-read every record file per call, as done() did; now with orjson parsing): "
          f"{old_per_call:.3f} s per call at {args.images} "
          f"records; x {n} calls = {old_per_call * n / 60:.1f} min")


if __name__ == "__main__":
    main()
