"""Scoring: DTRB's case-insensitive alphanumeric match, accuracy counts, paired fixed / broken."""
import pytest

from tasks.icdar13.scoring import accuracy, is_correct, normalize, paired


def test_normalize_keeps_lowercase_alphanumerics():
    assert normalize("Hello, World!") == "helloworld"
    assert normalize('(412")') == "412"
    assert normalize("Straße") == "strae"  # non-ASCII letters are dropped, as in DTRB's regex


def test_is_correct():
    assert is_correct("PROPER", "proper")
    assert is_correct("it's", "ITS")
    assert not is_correct("PR0PER", "PROPER")
    assert not is_correct("", "A")


def test_accuracy_counts():
    acc = accuracy({"a": True, "b": False, "c": True, "d": False}, failed=1)
    assert (acc.correct, acc.total, acc.failed) == (2, 4, 1)
    assert acc.value == 50.0


def test_paired_fixed_broken_and_p():
    base = {"1": True, "2": False, "3": False, "4": True, "5": False, "6": False, "7": False, "8": True}
    new = {"1": True, "2": True, "3": True, "4": False, "5": True, "6": True, "7": True, "9": True}
    result = paired(base, new)  # word 8 and 9 are not in both: left out
    assert (result.n, result.fixed, result.broken) == (7, 5, 1)
    assert result.delta_words == 4
    # 2 * P(X <= 1), X ~ Bin(6, 1/2) = 2 * 7 / 64
    assert result.p_value == pytest.approx(14 / 64)
