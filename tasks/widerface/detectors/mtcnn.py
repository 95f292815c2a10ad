"""MTCNN (Zhang et al. 2016) from facenet-pytorch 2.5.3, whose P/R/O-Net weights ship in the wheel."""
from __future__ import annotations

import numpy as np

from harness.errors import HarnessError
from tasks.widerface.detectors import Detections, Detector, DetectorOptions, no_options

THRESHOLDS = (0.6, 0.7, 0.7)   # facenet-pytorch's defaults for the three stages
FACTOR = 0.709


class MTCNNDetector(Detector):
    """facenet-pytorch's MTCNN, all faces kept; `min_face_size` below 12 upscales (slow)."""

    name = "mtcnn"

    def __init__(self, min_face_size: int = 12, device: str = "cpu"):
        try:
            import facenet_pytorch
            from facenet_pytorch import MTCNN
        except ImportError as exc:
            raise HarnessError(f"the mtcnn detector needs facenet-pytorch 2.5.3 ({exc})") from None
        if min_face_size < 1:
            raise HarnessError(f"--min-face-size must be >= 1, got {min_face_size}")
        self.min_face_size = int(min_face_size)
        self.version = getattr(facenet_pytorch, "__version__", None) or _version("facenet-pytorch")
        self.model = MTCNN(min_face_size=self.min_face_size, thresholds=list(THRESHOLDS), factor=FACTOR,
                           keep_all=True, post_process=False, select_largest=False, device=device)

    def detect(self, image: np.ndarray) -> Detections:
        boxes, probs = self.model.detect(image)
        if boxes is None or len(boxes) == 0:
            return Detections.empty()
        return Detections.from_corners(np.asarray(boxes, dtype=np.float64), np.asarray(probs, dtype=np.float64))

    def describe(self) -> dict:
        return {"name": self.name, "package": f"facenet-pytorch {self.version}",
                "min_face_size": self.min_face_size, "thresholds": list(THRESHOLDS), "factor": FACTOR,
                "box": "w = x2 - x1, h = y2 - y1 of MTCNN's corners; score = O-Net probability"}


def _version(package: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def build_detector(options: DetectorOptions) -> MTCNNDetector:
    no_options("mtcnn", options)
    if options.weights:
        raise HarnessError("--detector-weights is not used by mtcnn (its weights ship in facenet-pytorch)")
    return MTCNNDetector(options.min_face_size, options.device)
