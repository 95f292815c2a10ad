"""Leaderboard rows: one per (task, data set, degradation, method), with paired intervals and shared ranks.

A task contributes rows through `Task.leaderboard_rows` (harness/task.py); `tasks/leaderboard/` runs the
tasks over a degradation sweep and writes the page. A row holds the method's headline `score` (higher is
better), the paired difference from `none` (no restoration) and from `bicubic` with 95% intervals, the
seconds its restorer took per output megapixel and its parameters. `rank_rows` ranks the methods of each
(task, set, degradation) by score; methods whose intervals against bicubic overlap share a rank.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from harness.stats import Difference, paired_bootstrap, shared_ranks

BASELINES = ("none", "bicubic")   # every method is compared with these where the task ran them
RESAMPLES, SEED = 1000, 0


def difference_fields(differences: dict[str, Difference], baseline: str, method: str) -> dict:
    """Return the `vs_<baseline>` fields of a row (empty when the baseline did not run)."""
    d = differences.get(method)
    if d is None:
        return {}
    return {f"vs_{baseline}": d.value, f"vs_{baseline}_low": d.low, f"vs_{baseline}_high": d.high}


def mean_rows(metric: str, values: dict[str, np.ndarray], extra: dict[str, dict]) -> list[dict]:
    """Return one row per method whose score is the mean of its per-item `values` (all methods on the same
    items, in the same order), with paired bootstrap differences from each baseline that ran."""
    rows = {m: {"method": m, "metric": metric, "score": float(np.mean(v)) if len(v) else float("nan"),
                "n_items": int(len(v)), **extra.get(m, {})} for m, v in values.items()}
    for baseline in BASELINES:
        if baseline in values and len(values[baseline]):
            diffs = paired_bootstrap(values, baseline, RESAMPLES, SEED)
            for m, row in rows.items():
                row.update(difference_fields(diffs, baseline, m))
    return list(rows.values())


def seconds_per_megapixel(records: list[dict], shape_field: str) -> float | None:
    """Return the restorer's seconds per output megapixel over `records` (None when it did not run)."""
    seconds = sum(r.get("time_restore") or 0.0 for r in records)
    pixels = sum(r[shape_field][0] * r[shape_field][1] for r in records if r.get(shape_field))
    if not pixels or not any("time_restore" in r for r in records):
        return None
    return seconds / (pixels / 1e6)


def rank_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with a `rank` per (task, set, degradation): by score, shared while the intervals
    against bicubic (bicubic itself: [0, 0]) overlap; without bicubic, against none."""
    out = []
    for _, group in frame.groupby(["task", "set", "degradation"], sort=False):
        group = group.copy()
        for baseline in ("bicubic", "none"):
            low, high = f"vs_{baseline}_low", f"vs_{baseline}_high"
            if low in group and group[low].notna().all():
                break
        else:
            group["rank"] = group["score"].rank(ascending=False, method="min").astype(int)
            out.append(group)
            continue
        scores = dict(zip(group["method"], group["score"]))
        intervals = {m: (lo, hi) for m, lo, hi in zip(group["method"], group[low], group[high])}
        ranks = shared_ranks(scores, intervals)
        group["rank"] = group["method"].map(ranks)
        group["ranked_against"] = baseline
        out.append(group.sort_values(["rank", "score"], ascending=[True, False]))
    return pd.concat(out, ignore_index=True) if out else frame
