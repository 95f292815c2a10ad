"""Leaderboard rows: one per (task, data set, degradation, method), with paired intervals and shared ranks.

A task contributes rows through `Task.leaderboard_rows` (harness/task.py); `tasks/leaderboard/` runs the
tasks over a degradation sweep and writes the page. A row holds the method's headline `score` (higher is
better), the paired difference from `none` (no restoration) and from `bicubic` with 95% intervals, the
seconds its restorer took per output megapixel and its parameters, and the paired difference from the method
ranked just above it (`vs_above`), which decides its rank: `rank_rows` orders the methods of each (task, set,
degradation) by score, and a method shares the rank of the one above it when the 95% interval of their paired
difference contains 0 (competition ranking: 1, 1, 3).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from collections.abc import Callable

from harness.stats import Difference, paired_bootstrap

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
    rows = list(rows.values())
    if all(len(v) for v in values.values()):
        add_vs_above(rows, lambda upper: paired_bootstrap(values, upper, RESAMPLES, SEED))
    return rows


def add_vs_above(rows: list[dict], differences_from: Callable[[str], dict[str, Difference]]) -> None:
    """Add to each row but the best the paired difference from the method ranked just above it by score:
    `above` (its name) and `vs_above` with its interval; `differences_from(name)` returns every method's
    paired difference from `name` (the task's own bootstrap, on the same resamples as its other intervals)."""
    ordered = sorted((r for r in rows if not pd.isna(r["score"])), key=lambda r: -r["score"])
    for upper, row in zip(ordered, ordered[1:]):
        d = differences_from(upper["method"]).get(row["method"])
        if d is not None:
            row.update({"above": upper["method"], "vs_above": d.value, "vs_above_low": d.low,
                        "vs_above_high": d.high})


def seconds_per_megapixel(records: list[dict], shape_field: str) -> float | None:
    """Return the restorer's seconds per output megapixel over `records` (None when it did not run)."""
    seconds = sum(r.get("time_restore") or 0.0 for r in records)
    pixels = sum(r[shape_field][0] * r[shape_field][1] for r in records if r.get(shape_field))
    if not pixels or not any("time_restore" in r for r in records):
        return None
    return seconds / (pixels / 1e6)


def rank_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with a `rank` per (task, set, degradation), best score first: a method shares the rank of
    the method just above it when the interval of their paired difference (`vs_above`) contains 0, and takes
    its own place otherwise (also when that interval is missing). Competition ranking: 1, 1, 3."""
    out = []
    for _, group in frame.groupby(["task", "set", "degradation"], sort=False):
        group = group.sort_values("score", ascending=False, kind="stable").copy()
        ranks = []
        for place, row in enumerate(group.to_dict("records"), start=1):
            low, high = row.get("vs_above_low"), row.get("vs_above_high")
            tied = ranks and low is not None and high is not None and not pd.isna(low) and low <= 0 <= high
            ranks.append(ranks[-1] if tied else place)
        group["rank"] = ranks
        out.append(group)
    return pd.concat(out, ignore_index=True) if out else frame
