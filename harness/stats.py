"""Paired statistics for comparing two methods on the same items."""
from __future__ import annotations

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
