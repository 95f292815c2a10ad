"""Leaderboard rows: one per (task, data set, degradation, method), with paired intervals and shared ranks.

A task contributes rows through `Task.leaderboard_rows` (harness/task.py); `tasks/leaderboard/` runs the
tasks over a degradation sweep and writes the page. A row holds the method's headline `score` (higher is
better), the paired difference from `none` (no restoration) and from `bicubic` with 95% intervals, the
seconds its restorer took per output megapixel and its parameters, and the paired difference from the method
ranked just above it (`vs_above`) and the methods it is not told apart from (`ties`): `rank_rows` orders the
methods of each (task, set, degradation) by score, and methods share a rank when the 95% interval of their
paired difference contains 0, directly or through a chain of such pairs (competition ranking: 1, 1, 3).
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
    items, in the same order), with its paired bootstrap comparisons (`add_comparisons`)."""
    rows = [{"method": m, "metric": metric, "score": float(np.mean(v)) if len(v) else float("nan"),
             "n_items": int(len(v)), **extra.get(m, {})} for m, v in values.items()]
    if all(len(v) for v in values.values()):
        add_comparisons(rows, lambda method: paired_bootstrap(values, method, RESAMPLES, SEED))
    return rows


def add_comparisons(rows: list[dict], differences_from: Callable[[str], dict[str, Difference]]) -> None:
    """Add the paired comparisons of the rows, each method's computed once: `vs_none` / `vs_bicubic` (from each
    baseline that ran); `above` (the method just above by score) and `vs_above`; `ties`: the methods whose
    paired difference has a 95% interval containing 0 (';'-joined), which `rank_rows` ranks together.
    `differences_from(name)` returns every method's paired difference from `name` (the task's own bootstrap,
    the same resamples for every pair)."""
    cache: dict[str, dict[str, Difference]] = {}

    def against(method: str) -> dict[str, Difference]:
        if method not in cache:
            cache[method] = {**differences_from(method), method: Difference(0.0, 0.0, 0.0)}
        return cache[method]

    methods = {r["method"] for r in rows}
    for baseline in BASELINES:
        if baseline in methods:
            for row in rows:
                row.update(difference_fields(against(baseline), baseline, row["method"]))
    ordered = sorted((r for r in rows if not pd.isna(r["score"])), key=lambda r: -r["score"])
    for upper, row in zip(ordered, ordered[1:]):
        d = against(upper["method"]).get(row["method"])
        if d is not None:
            row.update({"above": upper["method"], "vs_above": d.value, "vs_above_low": d.low,
                        "vs_above_high": d.high})
    for row in ordered:
        ties = [r["method"] for r in ordered if r is not row and row["method"] in against(r["method"])
                and against(r["method"])[row["method"]].low <= 0 <= against(r["method"])[row["method"]].high]
        row["ties"] = ";".join(sorted(ties))


def seconds_per_megapixel(records: list[dict], shape_field: str) -> float | None:
    """Return the restorer's seconds per output megapixel over `records` (None when it did not run)."""
    seconds = sum(r.get("time_restore") or 0.0 for r in records)
    pixels = sum(r[shape_field][0] * r[shape_field][1] for r in records if r.get(shape_field))
    if not pixels or not any("time_restore" in r for r in records):
        return None
    return seconds / (pixels / 1e6)


def rank_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` best score first with a `rank` per (task, set, degradation): methods whose paired
    difference has a 95% interval containing 0 (`ties`) share a rank, also through a chain of such pairs, so no
    two methods are ranked apart unless the interval between them excludes 0. Competition ranking: 1, 1, 3;
    a row without `ties` is compared with none."""
    out = []
    for _, group in frame.groupby(["task", "set", "degradation"], sort=False):
        group = group.sort_values("score", ascending=False, kind="stable").copy()
        methods = list(group["method"])
        root = {m: m for m in methods}

        def find(m):
            while root[m] != m:
                m = root[m]
            return m

        ties = group["ties"] if "ties" in group else pd.Series([None] * len(group), index=group.index)
        for method, tied in zip(methods, ties):
            for other in (tied.split(";") if isinstance(tied, str) and tied else []):
                if other in root:
                    root[find(other)] = find(method)
        first = {}   # each tie group's place: that of its best member
        for place, method in enumerate(methods, start=1):
            first.setdefault(find(method), place)
        group["rank"] = [first[find(m)] for m in methods]
        out.append(group.sort_values(["rank", "score"], ascending=[True, False], kind="stable"))
    return pd.concat(out, ignore_index=True) if out else frame
