"""Face detectors behind one interface: an HxWx3 uint8 RGB image -> `Detections` (x, y, w, h, score).

Detectors are named in one explicit table, `DETECTORS`, of `module:factory` strings imported on first
use; each factory takes `DetectorOptions` and returns a `Detector`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from harness.errors import HarnessError


@dataclass
class Detections:
    """Boxes (n, 4) as float x, y, w, h in the pixels of the image given, and scores (n,)."""

    boxes: np.ndarray
    scores: np.ndarray

    @staticmethod
    def empty() -> "Detections":
        return Detections(np.zeros((0, 4)), np.zeros(0))

    @staticmethod
    def from_corners(corners, scores) -> "Detections":
        """Return Detections from (n, 4) x1, y1, x2, y2 corners (w = x2 - x1)."""
        corners = np.asarray(corners, dtype=np.float64).reshape(-1, 4)
        boxes = np.column_stack([corners[:, :2], corners[:, 2:] - corners[:, :2]])
        return Detections(boxes, np.asarray(scores, dtype=np.float64).reshape(-1))

    def scaled(self, factor: float) -> "Detections":
        """Return the detections with every coordinate multiplied by `factor` (x_hr = 4 x_lr)."""
        return Detections(self.boxes * factor, self.scores.copy())

    def __len__(self) -> int:
        return len(self.scores)


@dataclass
class DetectorOptions:
    """What every detector factory receives."""

    device: str = "cpu"
    weights: str | None = None
    min_face_size: int = 12
    threads: int | None = None
    extra: dict = field(default_factory=dict)   # detector-specific options (--detector-option KEY=VALUE)


class Detector:
    """Base class: `detect(image)` for one HxWx3 uint8 RGB image."""

    name = "detector"

    def detect(self, image: np.ndarray) -> Detections:
        raise NotImplementedError

    def detect_batch(self, images: list[np.ndarray]) -> list[Detections]:
        """Return the detections of several images (override to batch)."""
        return [self.detect(image) for image in images]

    def describe(self) -> dict:
        """Return what identifies this detector in results."""
        return {"name": self.name}


DETECTORS: dict[str, str] = {
    "centerface": "tasks.widerface.detectors.centerface:build_detector",
    "mtcnn": "tasks.widerface.detectors.mtcnn:build_detector",
    "tinyfaces": "tasks.widerface.detectors.tinyfaces:build_detector",
    "haar": "tasks.widerface.detectors.haar:build_detector",
}


def no_options(name: str, options: DetectorOptions) -> None:
    """Raise HarnessError when a detector without options is given --detector-option."""
    if options.extra:
        raise HarnessError(f"the {name} detector takes no --detector-option (got {', '.join(options.extra)})")


def build_detector(name: str, options: DetectorOptions | None = None) -> Detector:
    """Return the detector registered as `name`."""
    if name not in DETECTORS:
        raise HarnessError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    module_name, _, attr = DETECTORS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)(options or DetectorOptions())
