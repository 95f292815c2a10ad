"""WIDER FACE submissions: prediction folders in the official format (`read_pred.m`) and subset lists.

A submission folder holds `<event>/<name>.txt`: the image name, the box count N, then N lines
`x y w h score`. `read_submission` reads one for a GroundTruth's images (each image's boxes sorted by
score, descending and stable, as `read_pred.m` does); `submission_from_arrays` builds one in memory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from tasks.widerface.groundtruth import GroundTruth


@dataclass
class Submission:
    """Predictions aligned with a GroundTruth: image i owns rows `offsets[i]:offsets[i+1]`, each
    image's rows sorted by raw score, descending and stable."""

    boxes: np.ndarray                 # (n, 4) float64 x, y, w, h
    scores: np.ndarray                # (n,) float64 raw scores
    offsets: np.ndarray               # (n_images + 1,) int64
    missing: list[str] = field(default_factory=list)   # images without a prediction file
    source: str = ""


def parse_prediction_text(text: str, path: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (boxes (n, 4), scores (n,)) from one prediction file's text, in file order.

    Line 1 is the image name (ignored), line 2 the count N, then N lines `x y w h [...] score`
    (the score is the last number, as `read_pred.m`). Raise HarnessError naming file and line.
    """
    lines = text.splitlines()
    if len(lines) < 2:
        if len(lines) == 1 or not text.strip():
            raise HarnessError(f"{path}: line 2: missing the box count (expected: name, count, boxes)")
    try:
        count = int(lines[1].strip())
    except ValueError:
        raise HarnessError(f"{path}: line 2: expected the box count, got {lines[1].strip()[:40]!r}") from None
    if count < 0:
        raise HarnessError(f"{path}: line 2: negative box count {count}")
    if len(lines) < 2 + count:
        raise HarnessError(f"{path}: line {len(lines) + 1}: file ends after {len(lines) - 2} of {count} boxes")
    if count == 0:
        return np.zeros((0, 4)), np.zeros(0)
    rows = [line.replace(",", " ").split() for line in lines[2:2 + count]]
    try:
        if all(len(r) == 5 for r in rows):
            values = np.array([v for r in rows for v in r], dtype=np.float64).reshape(count, 5)
            if np.isfinite(values).all():
                return values[:, :4], values[:, 4]
    except ValueError:
        pass  # locate the bad line below
    out = np.empty((count, 5))
    for k, r in enumerate(rows):
        if len(r) < 5:
            raise HarnessError(f"{path}: line {k + 3}: expected 'x y w h score', got {' '.join(r)[:60]!r}")
        try:
            numbers = [float(v) for v in r[:4]] + [float(r[-1])]
        except ValueError:
            raise HarnessError(f"{path}: line {k + 3}: not a number in {' '.join(r)[:60]!r}") from None
        if not np.isfinite(numbers).all():
            raise HarnessError(f"{path}: line {k + 3}: non-finite value in {' '.join(r)[:60]!r}")
        out[k] = numbers
    return out[:, :4], out[:, 4]


def read_submission(pred_dir: str | os.PathLike, gt: GroundTruth, missing_ok: bool = True) -> Submission:
    """Return the predictions of every image of `gt` from `<pred_dir>/<event>/<name>.txt`.

    A missing file is an empty prediction (the official rule) when `missing_ok`, else an error.
    """
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise HarnessError(f"{pred_dir}: prediction folder not found")
    box_list, score_list, missing = [], [], []
    counts = np.zeros(gt.num_images, dtype=np.int64)
    for i, name in enumerate(gt.names):
        path = os.path.join(pred_dir, name + ".txt")
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            if not missing_ok:
                raise HarnessError(f"{path}: prediction file missing for a listed image") from None
            missing.append(name)
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise HarnessError(f"{path}: cannot read ({exc})") from None
        boxes, scores = parse_prediction_text(text, path)
        if len(scores) > 1:
            order = np.argsort(-scores, kind="stable")
            boxes, scores = boxes[order], scores[order]
        box_list.append(boxes)
        score_list.append(scores)
        counts[i] = len(scores)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    boxes = np.concatenate(box_list) if box_list else np.zeros((0, 4))
    scores = np.concatenate(score_list) if score_list else np.zeros(0)
    return Submission(boxes, scores, offsets, missing, str(pred_dir))


def submission_from_arrays(gt: GroundTruth, per_image: dict[str, tuple[np.ndarray, np.ndarray]],
                           source: str = "") -> Submission:
    """Return a Submission from {name: (boxes (n, 4) x,y,w,h, scores (n,))}; absent names are empty."""
    box_list, score_list = [], []
    counts = np.zeros(gt.num_images, dtype=np.int64)
    for i, name in enumerate(gt.names):
        if name not in per_image:
            continue
        boxes, scores = per_image[name]
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        order = np.argsort(-scores, kind="stable")
        box_list.append(boxes[order])
        score_list.append(scores[order])
        counts[i] = len(scores)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Submission(np.concatenate(box_list) if box_list else np.zeros((0, 4)),
                      np.concatenate(score_list) if score_list else np.zeros(0), offsets, [], source)


def read_subset_list(path: str | os.PathLike) -> list[str]:
    """Return the image names (`<event>/<name>`, no `.jpg`) listed one per line in `path`."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read the subset list ({exc})") from None
    names = []
    for k, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.count("/") != 1:
            raise HarnessError(f"{path}: line {k}: expected '<event>/<name>.jpg', got {line[:60]!r}")
        names.append(line[:-4] if line.lower().endswith(".jpg") else line)
    if not names:
        raise HarnessError(f"{path}: the subset list is empty")
    return list(dict.fromkeys(names))
