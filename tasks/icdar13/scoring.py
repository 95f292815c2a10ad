"""Word-recognition scoring: normalisation, accuracy with counts, paired comparison (fixed / broken).

Split as pycocotools splits COCOeval: `is_correct` per word, `accuracy` over a set, `paired` between two
methods on the same words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.stats import mcnemar_exact

_NOT_ALPHANUMERIC = re.compile(r"[^0-9a-z]")


def normalize(text: str) -> str:
    """Return `text` lower-cased with every character outside [0-9a-z] removed (DTRB's protocol)."""
    return _NOT_ALPHANUMERIC.sub("", text.lower())


def is_correct(prediction: str, label: str) -> bool:
    """Return True if prediction and label are equal after `normalize` (case-insensitive alphanumeric)."""
    return normalize(prediction) == normalize(label)


@dataclass(frozen=True)
class Accuracy:
    """Correct words out of all words scored; `failed` words (unreadable, too small) count as wrong."""

    correct: int
    total: int
    failed: int = 0

    @property
    def value(self) -> float:
        """Return the accuracy in percent (nan for an empty set)."""
        return 100.0 * self.correct / self.total if self.total else float("nan")


def accuracy(outcomes: dict[str, bool], failed: int = 0) -> Accuracy:
    """Return the Accuracy of {word id: correct?} (failures are already in `outcomes` as False)."""
    return Accuracy(sum(bool(v) for v in outcomes.values()), len(outcomes), failed)


@dataclass(frozen=True)
class PairedComparison:
    """A method against a baseline on the same words: fixed (wrong -> right), broken (right -> wrong)."""

    n: int
    baseline_correct: int
    method_correct: int
    fixed: int
    broken: int

    @property
    def delta_words(self) -> int:
        return self.method_correct - self.baseline_correct

    @property
    def delta_points(self) -> float:
        """Return the accuracy change in percentage points on the paired words."""
        return 100.0 * self.delta_words / self.n if self.n else float("nan")

    @property
    def p_value(self) -> float:
        """Return the exact two-sided McNemar p-value of fixed vs broken."""
        return mcnemar_exact(self.fixed, self.broken)


def paired(baseline: dict[str, bool], method: dict[str, bool]) -> PairedComparison:
    """Return the paired comparison over the word ids scored by both (baseline, method)."""
    ids = sorted(set(baseline) & set(method))
    fixed = sum(1 for i in ids if method[i] and not baseline[i])
    broken = sum(1 for i in ids if baseline[i] and not method[i])
    return PairedComparison(n=len(ids), baseline_correct=sum(bool(baseline[i]) for i in ids),
                            method_correct=sum(bool(method[i]) for i in ids), fixed=fixed, broken=broken)
