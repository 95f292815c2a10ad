"""Leaderboard ranks: methods share a rank exactly when the 95% interval of their paired difference contains 0,
directly or through a chain of such pairs (hand-made rows and hand-computed paired differences)."""
import numpy as np
import pandas as pd

from harness.leaderboard import mean_rows, rank_rows


def ranks(rows: list[dict]) -> dict[str, int]:
    frame = rank_rows(pd.DataFrame([{"task": "t", "set": "s", "degradation": "d", **r} for r in rows]))
    return dict(zip(frame.method, frame["rank"]))


def test_methods_not_told_apart_share_a_rank():
    rows = [{"method": "a", "score": 3.0, "ties": "b"},
            {"method": "b", "score": 2.0, "ties": "a"},
            {"method": "c", "score": 1.0, "ties": "d"},
            {"method": "d", "score": 0.5, "ties": "c"},
            {"method": "e", "score": -4.0, "ties": ""}]
    assert ranks(rows) == {"a": 1, "b": 1, "c": 3, "d": 3, "e": 5}


def test_a_chain_of_ties_is_one_rank_and_a_clear_gap_is_not():
    # a ~ b and b ~ c (a and c told apart): a, b and c are never ranked apart from a method they tie with,
    # so all three share rank 1; d ties with nobody
    rows = [{"method": "a", "score": 3.0, "ties": "b"}, {"method": "b", "score": 2.0, "ties": "a;c"},
            {"method": "c", "score": 1.0, "ties": "b"}, {"method": "d", "score": -1.0, "ties": ""}]
    assert ranks(rows) == {"a": 1, "b": 1, "c": 1, "d": 4}


def test_rows_without_ties_are_ranked_by_score_best_first():
    rows = [{"method": "low", "score": 1.0}, {"method": "high", "score": 2.0}]
    frame = rank_rows(pd.DataFrame([{"task": "t", "set": "s", "degradation": "d", **r} for r in rows]))
    assert list(frame.method) == ["high", "low"] and list(frame["rank"]) == [1, 2]


def test_mean_rows_compare_every_pair_on_the_same_items():
    # per-item scores on 4 items; by hand: means a 2.0, b 1.75, c 0.5.
    # b - a per item (0, 0, -1, 0): -0.25; a resample's mean is 0 whenever item 3 is not drawn, which happens
    # in (3/4)^4 = 32% of resamples, so the 97.5th percentile is 0 and the interval contains 0: a ~ b.
    # c - b per item (-1, -1, -1, -2) and c - a (-1, -1, -2, -2): every resample's mean is <= -1: told apart.
    values = {"a": np.array([1.0, 2.0, 3.0, 2.0]), "b": np.array([1.0, 2.0, 2.0, 2.0]),
              "c": np.array([0.0, 1.0, 1.0, 0.0])}
    rows = {r["method"]: r for r in mean_rows("m", values, {})}
    assert "vs_above" not in rows["a"]
    assert rows["b"]["above"] == "a" and rows["b"]["vs_above"] == -0.25
    assert rows["b"]["vs_above_low"] >= -1.0 and rows["b"]["vs_above_high"] == 0.0
    assert rows["c"]["above"] == "b" and rows["c"]["vs_above"] == -1.25
    assert -2.0 <= rows["c"]["vs_above_low"] <= rows["c"]["vs_above_high"] <= -1.0
    assert (rows["a"]["ties"], rows["b"]["ties"], rows["c"]["ties"]) == ("b", "a", "")
    assert ranks(list(rows.values())) == {"a": 1, "b": 1, "c": 3}
