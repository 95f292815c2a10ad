"""Exact McNemar p-values against hand computation (binomial sums written out)."""
from math import comb

import pytest

from harness.stats import mcnemar_exact


def test_no_discordant_pairs_is_one():
    assert mcnemar_exact(0, 0) == 1.0


def test_five_fixed_none_broken():
    # b=5, c=0: 2 * P(X <= 0), X ~ Bin(5, 1/2) = 2 / 32 = 0.0625
    assert mcnemar_exact(5, 0) == pytest.approx(0.0625, abs=1e-15)
    assert mcnemar_exact(0, 5) == pytest.approx(0.0625, abs=1e-15)


def test_hand_computed_values():
    # b=8, c=3: 2 * (1 + 11 + 55 + 165) / 2048 = 464 / 2048 = 0.2265625
    assert mcnemar_exact(8, 3) == pytest.approx(464 / 2048, abs=1e-15)
    # b=10, c=0: 2 / 1024
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024, abs=1e-15)
    # b=12, c=2: 2 * (1 + 14 + 91) / 16384 = 212 / 16384
    assert mcnemar_exact(12, 2) == pytest.approx(212 / 16384, abs=1e-15)


def test_equal_counts_capped_at_one():
    # b=c=3: 2 * P(X <= 3), X ~ Bin(6, 1/2) = 2 * 42/64 > 1 -> 1
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(1, 0) == 1.0  # 2 * 1/2


def test_matches_explicit_sum_for_many_pairs():
    for b in range(0, 25):
        for c in range(0, 25):
            n = b + c
            if n == 0:
                continue
            tail = sum(comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n
            assert mcnemar_exact(b, c) == pytest.approx(min(1.0, 2 * tail), rel=1e-12, abs=1e-300)


def test_rejects_negative_or_fractional():
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)
    with pytest.raises(ValueError):
        mcnemar_exact(1.5, 2)


def test_paired_bootstrap_by_hand():
    import numpy as np

    from harness.stats import paired_bootstrap

    values = {"base": np.array([1.0, 2.0, 3.0, 4.0]), "plus": np.array([2.0, 3.0, 4.0, 5.0]),
              "mixed": np.array([1.0, 4.0, 3.0, 4.0])}
    diffs = paired_bootstrap(values, "base", resamples=200, seed=1)
    assert (diffs["base"].value, diffs["base"].low, diffs["base"].high) == (0.0, 0.0, 0.0)
    # every item +1: every resample's mean difference is exactly 1, whatever the items drawn
    assert diffs["plus"].value == 1.0 and diffs["plus"].low == diffs["plus"].high == 1.0
    # differences (0, 2, 0, 0): mean 0.5; a resample's mean lies in [0, 2]
    assert diffs["mixed"].value == 0.5 and 0.0 <= diffs["mixed"].low < 0.5 < diffs["mixed"].high <= 2.0
