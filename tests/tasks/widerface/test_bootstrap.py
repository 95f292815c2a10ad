"""Paired bootstrap of AP differences (REFERENCE.md section 7)."""
from __future__ import annotations

import numpy as np
import pytest

from tasks.widerface import evaluation as ev

from tasks.widerface.groundtruth import ground_truth_from_boxes

from tasks.widerface.submission import submission_from_arrays
from tasks.widerface.bootstrap import batched_voc_ap, bootstrap_differences, resample_weights, resampled_aps


def _evaluation(seed: int, n_images: int = 30) -> ev.Evaluation:
    rng = np.random.default_rng(seed)
    boxes, per_image = [], {}
    for i in range(n_images):
        faces = rng.uniform(0, 200, (rng.integers(1, 5), 2))
        faces = np.column_stack([faces, rng.uniform(8, 40, (len(faces), 2))])
        boxes.append(faces)
        dets = faces + rng.normal(0, 2 + 4 * seed, faces.shape)
        per_image[f"1--E/img_{i}"] = (dets, rng.normal(0, 1, len(dets)))
    gt = ground_truth_from_boxes([f"1--E/img_{i}" for i in range(n_images)], boxes)
    return ev.evaluate(gt, submission_from_arrays(gt, per_image))


def test_resample_weights():
    w = resample_weights(7, 5, seed=0)
    assert w.shape == (5, 7) and (w.sum(axis=1) == 7).all()
    assert np.array_equal(w, resample_weights(7, 5, seed=0))


def test_batched_voc_ap_equals_voc_ap():
    evaluation = _evaluation(0)
    curves = ev.accumulate(evaluation)
    rec, prec = curves.recall["hard"], curves.precision["hard"]
    assert batched_voc_ap(rec[None], prec[None])[0] == pytest.approx(ev.voc_ap(rec, prec), abs=1e-12)


def test_unit_weights_reproduce_the_ap():
    evaluation = _evaluation(1)
    aps = resampled_aps(evaluation, np.ones((1, evaluation.num_images)))
    full = ev.summarize(ev.accumulate(evaluation))
    assert {s: float(v[0]) for s, v in aps.items()} == pytest.approx(full, abs=1e-12)


def test_weighted_resample_equals_accumulate_with_weights():
    evaluation = _evaluation(2)
    w = resample_weights(evaluation.num_images, 3, seed=4)
    aps = resampled_aps(evaluation, w)
    for k in range(3):
        direct = ev.summarize(ev.accumulate(evaluation, w[k]))
        assert {s: float(v[k]) for s, v in aps.items()} == pytest.approx(direct, abs=1e-12)


def test_paired_differences():
    good, bad = _evaluation(0), _evaluation(3)
    table = bootstrap_differences({"LR": bad, "GT": good, "same": bad}, "LR", resamples=200, seed=0)
    same = table[table.condition == "same"]
    assert (same.difference == 0).all() and (same.ci_low == 0).all() and (same.ci_high == 0).all()
    gt = table[table.condition == "GT"]
    assert (gt.difference > 0).all() and (gt.ci_low <= gt.difference).all() and (gt.difference <= gt.ci_high).all()
    again = bootstrap_differences({"LR": bad, "GT": good}, "LR", resamples=200, seed=0)
    assert np.array_equal(again.ci_low.values, gt.ci_low.values)


def test_share_of_the_lr_to_gt_gap_recovered():
    """Issue 25.16: (LR+x - LR) / (GT - LR) per setting, with its paired interval; the same ratio resampled."""
    from tasks.widerface.bootstrap import bootstrap_gap_share

    evaluations = {"GT": _evaluation(0), "LR": _evaluation(3), "LR+x": _evaluation(1)}
    gap = bootstrap_gap_share(evaluations, resamples=200, seed=0)
    full = {n: ev.summarize(ev.accumulate(e)) for n, e in evaluations.items()}
    assert list(gap.condition) == ["LR+x"] * 3
    for r in gap.itertuples():
        want = (full["LR+x"][r.setting] - full["LR"][r.setting]) / (full["GT"][r.setting] - full["LR"][r.setting])
        assert r.share == pytest.approx(want, abs=1e-12)
        assert r.ci_low <= r.share <= r.ci_high
    same = bootstrap_gap_share({"GT": evaluations["GT"], "LR": evaluations["LR"], "LR+gt": evaluations["GT"]},
                               resamples=50)
    assert np.allclose(same.share, 1.0) and np.allclose(same.ci_low, 1.0) and np.allclose(same.ci_high, 1.0)


def test_the_face_leaderboard_shows_the_gap_recovered():
    """Issue 25.16: the leaderboard gains the column, for the rows that have it."""
    import pandas as pd

    from tasks.leaderboard.run import display

    frame = pd.DataFrame([{"task": "widerface", "set": "w", "degradation": "x4", "rank": 1, "method": "cajnn",
                           "score": 0.68, "gap_recovered": 0.764, "gap_recovered_low": 0.7, "gap_recovered_high": 0.8},
                          {"task": "quality", "set": "Set5", "degradation": "x4", "rank": 1, "method": "cajnn",
                           "score": 30.1, "gap_recovered": float("nan")}])
    shown = display(frame)
    assert list(shown["LR-to-GT gap recovered [95%]"]) == ["76.4% [70.0%, 80.0%]", "-"]
