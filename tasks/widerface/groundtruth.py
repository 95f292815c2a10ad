"""WIDER FACE ground truth: the official `.mat` files (read and written) and the flattened face table.

`load_ground_truth(DIR)` reads `wider_face_val.mat` and `wider_{easy,medium,hard}_val.mat` (REFERENCE.md
5.3: which faces count in each setting); `write_ground_truth` writes the same files for a subset or a
smoke set; `ground_truth_from_boxes` builds one from arrays. The maths is in `evaluation.py`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError

SETTINGS = ("easy", "medium", "hard")


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
