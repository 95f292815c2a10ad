"""The official WIDER FACE evaluation (MATLAB `wider_eval.m`, "setting_int"), vectorised.

Split like pycocotools' COCOeval (REFERENCE.md section 5):

- `load_ground_truth(DIR)` reads `wider_face_val.mat` and `wider_{easy,medium,hard}_val.mat`;
- `read_submission(PRED_DIR, gt)` reads `<event>/<name>.txt` files (missing file = empty prediction),
  each sorted by score, descending and stable, as `read_pred.m` does;
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
same best face with IoU >= 0.5. `evaluation_reference.py` is the plain loop, used as the test oracle.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.errors import HarnessError

SETTINGS = ("easy", "medium", "hard")
IOU_THRESHOLD = 0.5
NUM_THRESHOLDS = 1000
# thresh_t = 1 - t/1000, t = 1..1000, computed as the tools do (float64).
THRESHOLDS = np.array([1.0 - t / NUM_THRESHOLDS for t in range(1, NUM_THRESHOLDS + 1)])
_THRESHOLDS_ASCENDING = THRESHOLDS[::-1].copy()
_PAIR_CHUNK = 4_000_000  # prediction x face pairs matched at once (bounds memory)


@dataclass
class GroundTruth:
    """Faces of a list of images, flattened: image i owns faces `offsets[i]:offsets[i+1]`."""

    names: list[str]                  # "<event>/<name>" without ".jpg", in `.mat` order
    boxes: np.ndarray                 # (n_faces, 4) float64 x, y, w, h
    offsets: np.ndarray               # (n_images + 1,) int64
    keep: dict[str, np.ndarray]       # setting -> (n_faces,) bool: the face counts in that setting
    source: str = ""
    note: str = ""

    @property
    def num_images(self) -> int:
        return len(self.names)

    def index(self) -> dict[str, int]:
        """Return {name: image index}."""
        return {n: i for i, n in enumerate(self.names)}

    def subset(self, names: list[str]) -> "GroundTruth":
        """Return the ground truth of `names` only (their faces alone count: REFERENCE.md 5.8)."""
        index = self.index()
        missing = [n for n in names if n not in index]
        if missing:
            raise HarnessError(f"image {missing[0]!r} is not in the ground truth {self.source} "
                               f"({len(missing)} unknown names)")
        ids = np.array([index[n] for n in names], dtype=np.int64)
        counts = np.diff(self.offsets)[ids]
        face_ids = _ranges(self.offsets[ids], counts)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return GroundTruth(list(names), self.boxes[face_ids], offsets,
                           {s: k[face_ids] for s, k in self.keep.items()}, self.source,
                           self.note + f" subset of {len(names)} images")

    def face_counts(self) -> dict[str, np.ndarray]:
        """Return setting -> (n_images,) number of kept faces per image."""
        image_of_face = np.repeat(np.arange(self.num_images), np.diff(self.offsets))
        return {s: np.bincount(image_of_face, weights=k, minlength=self.num_images).astype(np.int64)
                for s, k in self.keep.items()}


@dataclass
class Submission:
    """Predictions aligned with a GroundTruth: image i owns rows `offsets[i]:offsets[i+1]`, each
    image's rows sorted by raw score, descending and stable."""

    boxes: np.ndarray                 # (n, 4) float64 x, y, w, h
    scores: np.ndarray                # (n,) float64 raw scores
    offsets: np.ndarray               # (n_images + 1,) int64
    missing: list[str] = field(default_factory=list)   # images without a prediction file
    source: str = ""


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
# Ground truth


def find_ground_truth_dir(path: str | os.PathLike) -> Path:
    """Return the folder holding `wider_face_val.mat` and the setting files, given it or a WIDER root."""
    path = Path(path)
    for candidate in (path, path / "eval_tools" / "ground_truth", path / "ground_truth"):
        if (candidate / "wider_face_val.mat").is_file():
            return candidate
    raise HarnessError(f"{path}: no wider_face_val.mat here nor in eval_tools/ground_truth/ "
                       f"(the official WIDER FACE evaluation ground truth)")


def _mat_strings(cell) -> list[str]:
    return [str(np.asarray(c).ravel()[0]) for c in np.asarray(cell).ravel()]


def load_ground_truth(path: str | os.PathLike) -> GroundTruth:
    """Return the official val ground truth (boxes from `wider_face_val.mat`, settings from
    `wider_{easy,medium,hard}_val.mat`), reading the `.mat` files."""
    from scipy.io import loadmat

    folder = find_ground_truth_dir(path)
    face_mat = folder / "wider_face_val.mat"
    try:
        face = loadmat(face_mat, variable_names=["event_list", "file_list", "face_bbx_list"])
    except (OSError, ValueError, TypeError) as exc:
        raise HarnessError(f"{face_mat}: cannot read ({exc})") from None
    events = _mat_strings(face["event_list"])
    names, box_list = [], []
    for e, event in enumerate(events):
        files = _mat_strings(face["file_list"][e, 0])
        boxes = np.asarray(face["face_bbx_list"][e, 0]).ravel()
        for f, name in enumerate(files):
            names.append(f"{event}/{name}")
            box_list.append(np.asarray(boxes[f], dtype=np.float64).reshape(-1, 4))
    counts = np.array([len(b) for b in box_list], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    all_boxes = np.concatenate(box_list) if box_list else np.zeros((0, 4))
    keep = {}
    for setting in SETTINGS:
        mat = folder / f"wider_{setting}_val.mat"
        if not mat.is_file():
            raise HarnessError(f"{mat}: missing (needed for the {setting} setting)")
        try:
            gt_list = loadmat(mat, variable_names=["gt_list"])["gt_list"]
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise HarnessError(f"{mat}: cannot read gt_list ({exc})") from None
        mask = np.zeros(len(all_boxes), dtype=bool)
        image = 0
        for e in range(len(events)):
            lists = np.asarray(gt_list[e, 0]).ravel()
            for f in range(len(lists)):
                idx = np.asarray(lists[f], dtype=np.int64).ravel()
                if idx.size:
                    if idx.min() < 1 or idx.max() > counts[image]:
                        raise HarnessError(f"{mat}: gt_list of {names[image]} indexes face {idx.max()} "
                                           f"of {counts[image]}")
                    mask[offsets[image] + idx - 1] = True
                image += 1
        if image != len(names):
            raise HarnessError(f"{mat}: gt_list covers {image} images, wider_face_val.mat {len(names)}")
        keep[setting] = mask
    return GroundTruth(names, all_boxes, offsets, keep, source=str(folder))


def ground_truth_from_boxes(names: list[str], boxes: list[np.ndarray], keep: dict[str, list] | None = None,
                            source: str = "", note: str = "") -> GroundTruth:
    """Return a GroundTruth from per-image (n, 4) x,y,w,h boxes; `keep` per setting per image as
    boolean masks (default: every face kept in every setting)."""
    box_list = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in boxes]
    counts = np.array([len(b) for b in box_list], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    all_boxes = np.concatenate(box_list) if box_list else np.zeros((0, 4))
    if keep is None:
        masks = {s: np.ones(len(all_boxes), dtype=bool) for s in SETTINGS}
    else:
        masks = {s: (np.concatenate([np.asarray(k, dtype=bool).reshape(-1) for k in keep[s]])
                     if keep[s] else np.zeros(0, dtype=bool)) for s in SETTINGS}
        for s, m in masks.items():
            if len(m) != len(all_boxes):
                raise HarnessError(f"keep[{s!r}] has {len(m)} entries for {len(all_boxes)} faces")
    return GroundTruth(list(names), all_boxes, offsets, masks, source, note)


# ----------------------------------------------------------------------------------------------
# Submission


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


# ----------------------------------------------------------------------------------------------
# evaluate / accumulate / summarize


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Return the concatenation of arange(s, s + c) for every (s, c)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    out = np.ones(total, dtype=np.int64)
    nonzero = counts > 0
    first = (ends - counts)[nonzero]
    out[0] = starts[nonzero][0]
    if len(first) > 1:
        prev_end = (starts + counts)[nonzero][:-1]
        out[first[1:]] = starts[nonzero][1:] - prev_end + 1
    return np.cumsum(out)


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


def write_ground_truth(folder: str | os.PathLike, gt: GroundTruth) -> Path:
    """Write `gt` as the official `.mat` files (`wider_face_val.mat`, `wider_{setting}_val.mat`) in
    `folder`, so any WIDER evaluation tool can read it; return the folder."""
    from scipy.io import savemat

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    events = list(dict.fromkeys(n.split("/")[0] for n in gt.names))
    per_event = {e: [i for i, n in enumerate(gt.names) if n.split("/")[0] == e] for e in events}

    def cell(items):
        out = np.empty((len(items), 1), dtype=object)
        for k, item in enumerate(items):
            out[k, 0] = item
        return out

    event_list = cell(events)
    file_list = cell([cell([gt.names[i].split("/", 1)[1] for i in ids]) for ids in per_event.values()])
    boxes = cell([cell([gt.boxes[gt.offsets[i]:gt.offsets[i + 1]].astype(np.int32).reshape(-1, 4) for i in ids])
                  for ids in per_event.values()])
    base = {"event_list": event_list, "file_list": file_list, "face_bbx_list": boxes}
    savemat(folder / "wider_face_val.mat", base)
    for setting in SETTINGS:
        keep = gt.keep[setting]
        lists = cell([cell([(np.flatnonzero(keep[gt.offsets[i]:gt.offsets[i + 1]]) + 1).astype(np.float64)
                            .reshape(-1, 1) for i in ids]) for ids in per_event.values()])
        savemat(folder / f"wider_{setting}_val.mat", {**base, "gt_list": lists})
    return folder
