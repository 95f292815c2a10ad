"""Paired statistics for comparing methods on the same items: exact McNemar for right/wrong outcomes,
and the paired bootstrap for means (ranks from these intervals: harness/leaderboard.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom


def mcnemar_exact(fixed: int, broken: int) -> float:
    """Return the exact two-sided McNemar p-value for `fixed` / `broken` discordant pairs.

    Binomial test on the discordant pairs (REFERENCE.md section 7):
    p = min(1, 2 * P(X <= min(b, c))) with X ~ Bin(b + c, 1/2); p = 1 when there are none.
    """
    for name, value in (("fixed", fixed), ("broken", broken)):
        if int(value) != value or value < 0:
            raise ValueError(f"McNemar: {name} must be a non-negative integer, got {value!r}")
    b, c = int(fixed), int(broken)
    n = b + c
    if n == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(b, c), n, 0.5)))


def resample_weights(num_items: int, resamples: int, seed: int) -> np.ndarray:
    """Return (resamples, num_items) multiplicities of items drawn with replacement (one bootstrap
    resample per row; the same rows serve every method, which makes the differences paired)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, num_items, size=(resamples, num_items))
    weights = np.zeros((resamples, num_items))
    np.add.at(weights, (np.repeat(np.arange(resamples), num_items), draws.ravel()), 1.0)
    return weights


@dataclass(frozen=True)
class Difference:
    """A paired difference of means (method - baseline) and its bootstrap percentile interval."""

    value: float
    low: float
    high: float


def paired_bootstrap(values: dict[str, np.ndarray], baseline: str, resamples: int = 1000, seed: int = 0,
                     level: float = 0.95) -> dict[str, Difference]:
    """Return method -> difference of its mean from `baseline`'s, with a percentile interval from
    `resamples` paired bootstrap resamples of the items (`values[m][i]` is method m's score on item i;
    every array covers the same items in the same order). The baseline's own difference is 0 [0, 0]."""
    base = np.asarray(values[baseline], dtype=float)
    if not len(base):
        raise ValueError("paired bootstrap over no items")
    weights = resample_weights(len(base), resamples, seed)
    out = {}
    for name, scores in values.items():
        scores = np.asarray(scores, dtype=float)
        if scores.shape != base.shape:
            raise ValueError(f"{name} and {baseline} cover different items")
        delta = scores - base
        boot = weights @ delta / len(delta)
        low, high = np.percentile(boot, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
        out[name] = Difference(float(delta.mean()), float(low), float(high))
    return out
