"""Leaderboard ranks: a method shares the rank of the one above it exactly when the interval of their paired
difference contains 0 (hand-made rows and hand-computed paired differences)."""
import numpy as np
import pandas as pd

from harness.leaderboard import mean_rows, rank_rows


def ranks(rows: list[dict]) -> dict[str, int]:
    frame = rank_rows(pd.DataFrame([{"task": "t", "set": "s", "degradation": "d", **r} for r in rows]))
    return dict(zip(frame.method, frame["rank"]))


def test_rank_follows_the_interval_to_the_method_above():
    rows = [{"method": "a", "score": 3.0},
            {"method": "b", "score": 2.0, "vs_above_low": -1.5, "vs_above_high": 0.2},    # contains 0: tied with a
            {"method": "c", "score": 1.0, "vs_above_low": -1.6, "vs_above_high": -0.4},   # apart: place 3
            {"method": "d", "score": 0.5, "vs_above_low": -0.9, "vs_above_high": 0.0},    # 0 is in [-0.9, 0]: tied
            {"method": "e", "score": -4.0, "vs_above_low": -5.0, "vs_above_high": -4.0}]
    assert ranks(rows) == {"a": 1, "b": 1, "c": 3, "d": 3, "e": 5}


def test_a_long_chain_of_close_methods_does_not_tie_the_last_with_the_first():
    # each step is small against its neighbour's interval, but e is far below a: it is not ranked with a
    # unless every step between them is a tie
    rows = [{"method": "a", "score": 10.0}]
    rows += [{"method": m, "score": 10.0 - 3 * i, "vs_above_low": -4.0, "vs_above_high": -2.0}
             for i, m in enumerate("bcde", start=1)]
    assert ranks(rows) == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}


def test_missing_interval_ranks_apart_and_rows_come_out_best_first():
    rows = [{"method": "low", "score": 1.0}, {"method": "high", "score": 2.0}]
    frame = rank_rows(pd.DataFrame([{"task": "t", "set": "s", "degradation": "d", **r} for r in rows]))
    assert list(frame.method) == ["high", "low"] and list(frame["rank"]) == [1, 2]


def test_mean_rows_compare_each_method_with_the_one_above_on_the_same_items():
    # per-item scores on 4 items; by hand: means a 2.0, b 1.75, c 0.5; b - a per item (0, 0, -1, 0): -0.25,
    # every resample's mean of it lies in [-1, 0]; c - b per item (-1, -1, -1, -2): -1.25, resamples in [-2, -1]
    values = {"a": np.array([1.0, 2.0, 3.0, 2.0]), "b": np.array([1.0, 2.0, 2.0, 2.0]),
              "c": np.array([0.0, 1.0, 1.0, 0.0])}
    rows = {r["method"]: r for r in mean_rows("m", values, {})}
    assert "vs_above" not in rows["a"]
    assert rows["b"]["above"] == "a" and rows["b"]["vs_above"] == -0.25
    assert -1.0 <= rows["b"]["vs_above_low"] and rows["b"]["vs_above_high"] <= 0.0
    assert rows["c"]["above"] == "b" and rows["c"]["vs_above"] == -1.25
    assert -2.0 <= rows["c"]["vs_above_low"] <= rows["c"]["vs_above_high"] <= -1.0
    assert ranks(list(rows.values()))["c"] == 3   # c's interval lies below 0: ranked apart from b
