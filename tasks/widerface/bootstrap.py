"""Paired bootstrap over images for AP differences between conditions (REFERENCE.md section 7).

The same resampled image list is used for every condition; score normalisation stays the one done
once per submission; the face count is recomputed for each resample (a duplicated image counts twice).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from harness.stats import resample_weights
from tasks.widerface import evaluation as ev
from tasks.widerface.groundtruth import SETTINGS


def batched_voc_ap(recall: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Return VOC all-point AP of each row of (R, 1000) recall / precision (as `ev.voc_ap`)."""
    rows = len(recall)
    mrec = np.hstack([np.zeros((rows, 1)), recall, np.ones((rows, 1))])
    mpre = np.hstack([np.zeros((rows, 1)), precision, np.zeros((rows, 1))])
    mpre = np.fmax.accumulate(mpre[:, ::-1], axis=1)[:, ::-1]
    step = mrec[:, 1:] - mrec[:, :-1]
    return np.where(step != 0, step * mpre[:, 1:], 0.0).sum(axis=1)


def resampled_aps(evaluation: ev.Evaluation, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Return setting -> (R,) AP of each weighted resample."""
    counts = ev.threshold_counts(evaluation)
    out = {}
    for setting, (proposals, tps) in counts.items():
        prop = weights @ proposals
        tp = weights @ tps
        faces = weights @ evaluation.faces[setting]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[setting] = batched_voc_ap(tp / faces[:, None], tp / prop)
    return out


def bootstrap_differences(evaluations: dict[str, ev.Evaluation], baseline: str, resamples: int = 1000,
                          seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Return one row per (condition != baseline, setting): AP difference and its percentile interval."""
    base = evaluations[baseline]
    weights = resample_weights(base.num_images, resamples, seed)
    base_full = ev.summarize(ev.accumulate(base))
    base_boot = resampled_aps(base, weights)
    rows = []
    for name, evaluation in evaluations.items():
        if name == baseline:
            continue
        if evaluation.num_images != base.num_images:
            raise ValueError(f"{name} and {baseline} cover different image lists")
        full = ev.summarize(ev.accumulate(evaluation))
        boot = resampled_aps(evaluation, weights)
        for setting in SETTINGS:
            delta = boot[setting] - base_boot[setting]
            low, high = _interval(delta, level)
            rows.append({"condition": name, "baseline": baseline, "setting": setting,
                         "ap": full[setting], "ap_baseline": base_full[setting],
                         "difference": full[setting] - base_full[setting], "ci_low": float(low),
                         "ci_high": float(high), "resamples": resamples, "seed": seed})
    return pd.DataFrame(rows)


def bootstrap_gap_share(evaluations: dict[str, ev.Evaluation], gt: str = "GT", lr: str = "LR",
                        resamples: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Return one row per (condition other than `gt` and `lr`, setting): the share of the LR-to-GT AP gap
    that the condition recovers, (AP - AP_LR) / (AP_GT - AP_LR), and its paired percentile interval (the
    same resampled image lists for the three; a resample without a gap counts as undefined). The share is
    undefined (NaN) when GT is not above LR."""
    weights = resample_weights(evaluations[lr].num_images, resamples, seed)
    full = {n: ev.summarize(ev.accumulate(e)) for n, e in evaluations.items()}
    boot = {n: resampled_aps(e, weights) for n, e in evaluations.items()}
    rows = []
    for name in evaluations:
        if name in (gt, lr):
            continue
        for setting in SETTINGS:
            gap = full[gt][setting] - full[lr][setting]
            share = (full[name][setting] - full[lr][setting]) / gap if gap > 0 else float("nan")
            gaps = boot[gt][setting] - boot[lr][setting]
            with np.errstate(invalid="ignore", divide="ignore"):
                shares = np.where(gaps > 0, (boot[name][setting] - boot[lr][setting]) / gaps, np.nan)
            low, high = _interval(shares, level) if gap > 0 else (float("nan"), float("nan"))
            rows.append({"condition": name, "setting": setting, "share": share, "ci_low": low, "ci_high": high,
                         "ap": full[name][setting], "ap_lr": full[lr][setting], "ap_gt": full[gt][setting],
                         "resamples": resamples, "seed": seed})
    return pd.DataFrame(rows)


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Return the percentile interval of the finite resampled values; (nan, nan) when there are none (a
    setting with no face in the images: AP undefined, which the tables say)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [100 * (1 - level) / 2, 100 * (1 + level) / 2])
    return float(low), float(high)
