"""The report's detection drawing, chosen when the task writes: the image whose number of confident
detections changes most between LR and a restorer, with every condition's boxes and the ground truth.

The task saves `detection_example<stem>.json` (the image's path, its ground-truth boxes, each condition's
boxes); the report draws it on the image's pixels and computes nothing.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.store import atomic_write_json
from tasks.widerface.dataset import GT_TEXT, WiderDataset, parse_annotations

DRAW_THRESHOLD = 0.5   # detections drawn: score >= this


def _boxes(record: dict | None) -> np.ndarray:
    rows = (record or {}).get("boxes") or []
    return np.asarray(rows, dtype=np.float64).reshape(-1, 5)


def choose(records: dict[str, dict[str, dict]], paths: dict[str, Path]) -> str | None:
    """Return the image (of those in `paths`, on disk) whose confident detections change most between LR and
    a restorer (any other condition when no restorer ran), the first by name on ties; None without LR."""
    if "LR" not in records or len(records) < 2:
        return None
    restored = [c for c in records if c.startswith("LR+")]
    others = restored or [c for c in records if c != "LR"]

    def confident(record):
        return int((_boxes(record)[:, 4] >= DRAW_THRESHOLD).sum())

    candidates = []
    for image_id in sorted(records["LR"]):
        if image_id not in paths or not paths[image_id].is_file() or any(image_id not in records[c] for c in others):
            continue
        change = max(abs(confident(records[c][image_id]) - confident(records["LR"][image_id])) for c in others)
        candidates.append((-change, image_id))
    return min(candidates)[1] if candidates else None


def save_detection_example(path: Path, dataset: WiderDataset, records: dict[str, dict[str, dict]]) -> Path:
    """Write the drawing's inputs to `path` (an empty object when there is nothing to draw); return `path`."""
    paths = {image.name: Path(image.path) for image in dataset.images}
    image_id = choose(records, paths)
    if image_id is None:
        atomic_write_json(path, {})
        return path
    order = [c for c in ("GT", "LR") if c in records] + sorted(c for c in records if c not in ("GT", "LR"))
    atomic_write_json(path, {"image": image_id, "path": str(paths[image_id].resolve()), "threshold": DRAW_THRESHOLD,
                             "ground_truth": ground_truth(dataset.root, image_id).tolist(),
                             "conditions": {c: _boxes(records[c].get(image_id)).tolist() for c in order}})
    return path


def ground_truth(root: Path, image_id: str) -> np.ndarray:
    """Return the annotated boxes (n, 4) of `image_id` in the WIDER folder `root` (none without annotations)."""
    path = Path(root) / GT_TEXT
    if not path.is_file():
        return np.zeros((0, 4))
    for name, boxes, _ in parse_annotations(path):
        if name.rsplit(".", 1)[0] == image_id:
            return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.zeros((0, 4))


def read_detection_example(path: Path) -> dict:
    """Return the saved inputs of the drawing ({} when there is none)."""
    return json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).is_file() else {}
