"""A plain port of the MATLAB WIDER FACE evaluation, one image and one prediction at a time.

This is the test oracle and the benchmark baseline for `evaluation.py` (REFERENCE.md section 5): it
follows `read_pred.m`, `norm_score.m`, `image_evaluation`, `image_pr_info`, `dataset_pr_info` and
`VOCap.m` line by line (loops over images and predictions; the IoU of one prediction with all faces and the 1000
thresholds of one image are array operations),
and shares no code with the fast evaluator.
"""
from __future__ import annotations

import os

import numpy as np
from scipy.io import loadmat

SETTINGS = ("easy", "medium", "hard")


def load_mat_ground_truth(gt_dir: str) -> tuple[list[str], list[np.ndarray], dict[str, list[np.ndarray]]]:
    """Return (image names "<event>/<name>", per-image boxes, setting -> per-image 1-based keep indices)."""
    face = loadmat(os.path.join(gt_dir, "wider_face_val.mat"))
    names, boxes = [], []
    for e in range(len(face["event_list"])):
        event = str(face["event_list"][e, 0][0])
        for f in range(len(face["file_list"][e, 0])):
            names.append(event + "/" + str(face["file_list"][e, 0][f, 0][0]))
            boxes.append(np.array(face["face_bbx_list"][e, 0][f, 0], dtype=np.float64).reshape(-1, 4))
    keep = {}
    for setting in SETTINGS:
        mat = loadmat(os.path.join(gt_dir, f"wider_{setting}_val.mat"))
        lists = []
        for e in range(len(mat["event_list"])):
            for f in range(len(mat["file_list"][e, 0])):
                lists.append(np.array(mat["gt_list"][e, 0][f, 0], dtype=np.int64).reshape(-1))
        keep[setting] = lists
    return names, boxes, keep


def read_pred(pred_dir: str, names: list[str]) -> list[np.ndarray]:
    """Return per-image (n, 5) predictions sorted by score, descending (stable); missing file = empty."""
    preds = []
    for name in names:
        path = os.path.join(pred_dir, name + ".txt")
        if not os.path.exists(path):
            preds.append(np.zeros((0, 5)))
            continue
        with open(path) as fh:
            lines = fh.read().splitlines()
        count = int(lines[1])
        bbx = np.zeros((count, 5))
        for k in range(count):
            raw = [float(v) for v in lines[k + 2].split()]
            bbx[k, :4] = raw[:4]
            bbx[k, 4] = raw[-1]
        order = np.argsort(-bbx[:, 4], kind="stable")
        preds.append(bbx[order])
    return preds


def norm_score(preds: list[np.ndarray]) -> list[np.ndarray]:
    """Return the predictions with scores min-max normalised over all images."""
    scores = [p[:, 4] for p in preds if len(p)]
    if not scores:
        return preds
    lo = min(s.min() for s in scores)
    hi = max(s.max() for s in scores)
    out = []
    for p in preds:
        p = p.copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            p[:, 4] = (p[:, 4] - lo) / (hi - lo)
        out.append(p)
    return out


def boxoverlap(gt: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Return the IoU of one x1,y1,x2,y2 box with every gt row (+1 convention, `boxoverlap.m`)."""
    iw = np.minimum(gt[:, 2], box[2]) - np.maximum(gt[:, 0], box[0]) + 1
    ih = np.minimum(gt[:, 3], box[3]) - np.maximum(gt[:, 1], box[1]) + 1
    ua = (box[2] - box[0] + 1) * (box[3] - box[1] + 1) + \
        (gt[:, 2] - gt[:, 0] + 1) * (gt[:, 3] - gt[:, 1] + 1) - iw * ih
    overlaps = np.zeros(len(gt))
    ok = (iw > 0) & (ih > 0)
    overlaps[ok] = iw[ok] * ih[ok] / ua[ok]
    return overlaps


def image_evaluation(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray, iou_thresh: float = 0.5):
    """Return (pred_recall, proposal_list) of one image (`ignore == 1` means the face is KEPT)."""
    pred = pred.copy()
    gt = gt.copy()
    pred[:, 2] += pred[:, 0]
    pred[:, 3] += pred[:, 1]
    gt[:, 2] += gt[:, 0]
    gt[:, 3] += gt[:, 1]
    recall_list = np.zeros(len(gt))
    proposal_list = np.ones(len(pred))
    pred_recall = np.zeros(len(pred))
    for h in range(len(pred)):
        overlaps = boxoverlap(gt, pred[h, :4])
        max_idx = int(np.argmax(overlaps))
        if overlaps[max_idx] >= iou_thresh:
            if ignore[max_idx] == 0:
                recall_list[max_idx] = -1
                proposal_list[h] = -1
            elif recall_list[max_idx] == 0:
                recall_list[max_idx] = 1
        pred_recall[h] = np.sum(recall_list == 1)
    return pred_recall, proposal_list


def image_pr_info(thresholds: np.ndarray, scores: np.ndarray, proposal_list, pred_recall) -> np.ndarray:
    """Return (1000, 2) [proposals, true positives] at each threshold for one image: at the LAST
    prediction with score >= threshold, the proposals so far and `pred_recall` there."""
    info = np.zeros((len(thresholds), 2))
    above = scores[None, :] >= thresholds[:, None]            # (thresholds, predictions)
    has = above.any(axis=1)
    last = len(scores) - 1 - np.argmax(above[:, ::-1], axis=1)
    proposals_so_far = np.cumsum(proposal_list == 1)
    info[has, 0] = proposals_so_far[last[has]]
    info[has, 1] = pred_recall[last[has]]
    return info


def voc_ap(rec: np.ndarray, prec: np.ndarray) -> float:
    """Return VOCap(rec, prec) (MATLAB's max ignores NaN)."""
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = np.fmax(mpre[i], mpre[i + 1])
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[i] - mrec[i - 1]) * mpre[i]))


def wider_eval(pred_dir: str, gt_dir: str, subset: list[str] | None = None,
               thresh_num: int = 1000) -> dict[str, float]:
    """Return {setting: AP} of a submission folder (subset: only those images and their faces)."""
    names, boxes, keep = load_mat_ground_truth(gt_dir)
    ids = list(range(len(names)))
    if subset is not None:
        where = {n: i for i, n in enumerate(names)}
        ids = [where[n] for n in subset]
    preds = norm_score(read_pred(pred_dir, [names[i] for i in ids]))
    thresholds = np.array([1 - t / thresh_num for t in range(1, thresh_num + 1)])
    aps = {}
    for setting in SETTINGS:
        count_face = 0
        pr_curve = np.zeros((thresh_num, 2))
        for k, i in enumerate(ids):
            gt, pred, keep_index = boxes[i], preds[k], keep[setting][i]
            count_face += len(keep_index)
            if len(gt) == 0 or len(pred) == 0:
                continue
            ignore = np.zeros(len(gt))
            if len(keep_index):
                ignore[keep_index - 1] = 1
            pred_recall, proposal_list = image_evaluation(pred, gt, ignore)
            pr_curve += image_pr_info(thresholds, pred[:, 4], proposal_list, pred_recall)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = pr_curve[:, 1] / pr_curve[:, 0]
            recall = pr_curve[:, 1] / count_face
        aps[setting] = voc_ap(recall, precision)
    return aps
