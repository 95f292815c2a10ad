"""The official WIDER FACE evaluation (MATLAB `wider_eval.m`, "setting_int"), vectorised.

Split like pycocotools' COCOeval (REFERENCE.md section 5); the file formats are in `groundtruth.py`
(`load_ground_truth(DIR)`: the `.mat` files) and `submission.py` (`read_submission(PRED_DIR, gt)`:
`<event>/<name>.txt` files, a missing file = an empty prediction), imported from there;
- `evaluate(gt, submission)` normalises the scores over the whole submission (min-max, once), matches
  each image's predictions to its faces (+1 IoU convention, IoU >= 0.5, argmax over all faces, kept /
  ignored via `gt_list`) and returns every prediction's proposal / true-positive flags per setting;
- `accumulate(evaluation)` sums proposals and true positives over the 1000 thresholds (optionally with
  per-image weights, for the bootstrap) and returns precision / recall curves;
- `summarize(curves)` returns the VOC all-point AP per setting (`voc_ap`, as `VOCap.m`).

The per-image loop of the MATLAB tool is replaced by array operations over all images at once; this is
exact because, with each image's predictions in descending score order, "the last prediction with score
>= threshold" is the count of predictions with score >= threshold, and the k-th prediction of an image is
a true positive iff its best face is kept, its IoU >= 0.5 and no earlier prediction of the image had the
same best face with IoU >= 0.5. `oracles/wider_eval_reference.py` is the plain loop, used as the test oracle.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from harness.errors import HarnessError
from tasks.widerface.groundtruth import GroundTruth, _ranges
from tasks.widerface.submission import Submission, read_submission

IOU_THRESHOLD = 0.5
NUM_THRESHOLDS = 1000
# thresh_t = 1 - t/1000, t = 1..1000, computed as the tools do (float64).
THRESHOLDS = np.array([1.0 - t / NUM_THRESHOLDS for t in range(1, NUM_THRESHOLDS + 1)])
_THRESHOLDS_ASCENDING = THRESHOLDS[::-1].copy()
_PAIR_CHUNK = 4_000_000  # prediction x face pairs matched at once (bounds memory)


@dataclass
class Evaluation:
    """Per-prediction results of `evaluate`, enough to accumulate PR curves for any image weights."""

    image: np.ndarray                 # (n,) image index of each prediction
    score: np.ndarray                 # (n,) normalised score (NaN if all raw scores are equal)
    proposal: dict[str, np.ndarray]   # setting -> (n,) bool: counts as a proposal
    true_positive: dict[str, np.ndarray]  # setting -> (n,) bool
    faces: dict[str, np.ndarray]      # setting -> (n_images,) kept faces per image
    num_images: int


@dataclass
class Curves:
    """Precision and recall at the 1000 thresholds, per setting (plus the raw sums)."""

    precision: dict[str, np.ndarray]
    recall: dict[str, np.ndarray]
    proposals: dict[str, np.ndarray]
    true_positives: dict[str, np.ndarray]
    faces: dict[str, float]


# ----------------------------------------------------------------------------------------------
# evaluate / accumulate / summarize


def normalise_scores(scores: np.ndarray) -> np.ndarray:
    """Return (s - min) / (max - min) over all scores (`norm_score.m`); NaN everywhere if max == min."""
    if scores.size == 0:
        return scores.astype(np.float64)
    lo, hi = scores.min(), scores.max()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (scores - lo) / (hi - lo)


def _best_faces(gt: GroundTruth, sub: Submission, pred_ids: np.ndarray, image_of_pred: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Return (index of the best-overlapping face, its IoU) for the predictions `pred_ids`."""
    n_gt = np.diff(gt.offsets)[image_of_pred]
    pair_pred = np.repeat(np.arange(len(pred_ids)), n_gt)
    pair_face = _ranges(gt.offsets[image_of_pred], n_gt)
    # x2 = x + w (not x + w - 1) and the +1 in widths: boxoverlap.m with the tool's x2 convention.
    p = sub.boxes[pred_ids]
    px1, py1, px2, py2 = (np.ascontiguousarray(c)[pair_pred] for c in
                          (p[:, 0], p[:, 1], p[:, 0] + p[:, 2], p[:, 1] + p[:, 3]))
    p_area = ((p[:, 2] + 1) * (p[:, 3] + 1))[pair_pred]
    g = gt.boxes
    gx1, gy1, gx2, gy2 = (np.ascontiguousarray(c)[pair_face] for c in
                          (g[:, 0], g[:, 1], g[:, 0] + g[:, 2], g[:, 1] + g[:, 3]))
    g_area = ((g[:, 2] + 1) * (g[:, 3] + 1))[pair_face]
    iw = np.minimum(px2, gx2) - np.maximum(px1, gx1) + 1
    ih = np.minimum(py2, gy2) - np.maximum(py1, gy1) + 1
    inter = iw * ih
    union = p_area + g_area - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where((iw > 0) & (ih > 0), inter / union, 0.0)
    starts = np.concatenate([[0], np.cumsum(n_gt)[:-1]])
    best = np.maximum.reduceat(iou, starts)
    # first pair of each prediction whose IoU equals its maximum (argmax, first index on ties)
    hits = np.flatnonzero(iou == best[pair_pred])
    first = hits[np.searchsorted(pair_pred[hits], np.arange(len(pred_ids)))]
    return pair_face[first], best


def evaluate(gt: GroundTruth, sub: Submission) -> Evaluation:
    """Return each prediction's normalised score, proposal and true-positive flags per setting."""
    if len(sub.offsets) != gt.num_images + 1:
        raise HarnessError("submission and ground truth cover different image lists")
    n = len(sub.scores)
    image = np.repeat(np.arange(gt.num_images), np.diff(sub.offsets))
    score = normalise_scores(sub.scores)
    # Images without faces are skipped by the tool: their predictions are neither TP nor proposals.
    active = np.diff(gt.offsets)[image] > 0
    face = np.full(n, -1, dtype=np.int64)
    overlap = np.zeros(n)
    active_ids = np.flatnonzero(active)
    pairs = np.diff(gt.offsets)[image[active_ids]]
    start = 0
    while start < len(active_ids):  # chunks of predictions bound the number of pairs in memory
        stop = start + max(1, int(np.searchsorted(np.cumsum(pairs[start:]), _PAIR_CHUNK)))
        ids = active_ids[start:stop]
        face[ids], overlap[ids] = _best_faces(gt, sub, ids, image[ids])
        start = stop
    matched = active & (overlap >= IOU_THRESHOLD)
    proposal, true_positive = {}, {}
    for setting, keep in gt.keep.items():
        kept = np.zeros(n, dtype=bool)
        kept[matched] = keep[face[matched]]
        proposal[setting] = active & ~(matched & ~kept)
        hit = np.flatnonzero(matched & kept)  # in image order, score order inside an image
        _, first = np.unique(face[hit], return_index=True)
        tp = np.zeros(n, dtype=bool)
        tp[hit[first]] = True
        true_positive[setting] = tp
    return Evaluation(image, score, proposal, true_positive, gt.face_counts(), gt.num_images)


def threshold_counts(evaluation: Evaluation) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return setting -> (proposals, true positives), each (n_images, 1000): per image, the counts
    of predictions with normalised score >= thresh_t."""
    # number of thresholds <= score; predictions count for the last `k` thresholds
    k = np.searchsorted(_THRESHOLDS_ASCENDING, evaluation.score, side="right")
    k[np.isnan(evaluation.score)] = 0
    first_t = NUM_THRESHOLDS - k              # index of the first threshold it passes
    out = {}
    cells = evaluation.num_images * (NUM_THRESHOLDS + 1)
    for setting in evaluation.proposal:
        result = []
        for flags in (evaluation.proposal[setting], evaluation.true_positive[setting]):
            key = evaluation.image[flags] * (NUM_THRESHOLDS + 1) + first_t[flags]
            hist = np.bincount(key, minlength=cells).reshape(evaluation.num_images, NUM_THRESHOLDS + 1)
            result.append(np.cumsum(hist[:, :NUM_THRESHOLDS], axis=1))
        out[setting] = tuple(result)
    return out


def accumulate(evaluation: Evaluation, weights: np.ndarray | None = None) -> Curves:
    """Return the PR curves summed over images (`weights`: per-image multiplicity, default 1)."""
    first_t = NUM_THRESHOLDS - np.searchsorted(_THRESHOLDS_ASCENDING, evaluation.score, side="right")
    first_t[np.isnan(evaluation.score)] = NUM_THRESHOLDS
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    precision, recall, proposals, tps, faces = {}, {}, {}, {}, {}
    for setting in evaluation.proposal:
        sums = []
        for flags in (evaluation.proposal[setting], evaluation.true_positive[setting]):
            hist = np.bincount(first_t[flags], weights=None if w is None else w[evaluation.image[flags]],
                               minlength=NUM_THRESHOLDS + 1)
            sums.append(np.cumsum(hist[:NUM_THRESHOLDS]).astype(np.float64))
        count = float(evaluation.faces[setting].sum() if w is None else w @ evaluation.faces[setting])
        proposals[setting], tps[setting] = sums
        faces[setting] = count
        with np.errstate(invalid="ignore", divide="ignore"):
            precision[setting] = sums[1] / sums[0]
            recall[setting] = sums[1] / count
    return Curves(precision, recall, proposals, tps, faces)


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Return the VOC all-point AP (`VOCap.m`); NaN precisions are ignored as MATLAB's `max` does."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.fmax.accumulate(mpre[::-1])[::-1]
    changed = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[changed] - mrec[changed - 1]) * mpre[changed]))


def summarize(curves: Curves) -> dict[str, float]:
    """Return {setting: AP}."""
    return {s: voc_ap(curves.recall[s], curves.precision[s]) for s in curves.precision}


def evaluate_folder(pred_dir: str | os.PathLike, gt: GroundTruth, subset: list[str] | None = None
                    ) -> tuple[dict[str, float], Curves, Submission, GroundTruth]:
    """Return (APs, curves, submission, ground truth used) for a submission folder.

    Without `subset`, every image of `gt` counts and a missing file is an empty prediction; with it,
    only the listed images (and their faces) count and each must have a file.
    """
    if subset is not None:
        gt = gt.subset(subset)
    sub = read_submission(pred_dir, gt, missing_ok=subset is None)
    curves = accumulate(evaluate(gt, sub))
    return summarize(curves), curves, sub, gt
