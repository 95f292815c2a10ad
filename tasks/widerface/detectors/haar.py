"""OpenCV's frontal-face Haar cascade (Viola-Jones), a classical baseline; opencv 4.x ships the XML."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from tasks.widerface.detectors import Detections, Detector, DetectorOptions, no_options

CASCADE = "haarcascade_frontalface_default.xml"
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 3


class HaarDetector(Detector):
    """`cv2.CascadeClassifier.detectMultiScale3` with level weights as scores."""

    name = "haar"

    def __init__(self, min_face_size: int = 12, cascade: str | None = None):
        try:
            import cv2
        except ImportError as exc:
            raise HarnessError(f"the haar detector needs opencv-python-headless>=4.10,<5 ({exc})") from None
        path = Path(cascade) if cascade else Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / CASCADE
        if not hasattr(cv2, "CascadeClassifier") or not path.is_file():
            raise HarnessError(f"OpenCV {cv2.__version__} has no Haar cascade at {path} "
                               f"(opencv 5.x dropped them; install opencv-python-headless>=4.10,<5)")
        self.cv2, self.path, self.version = cv2, path, cv2.__version__
        try:
            self.classifier = cv2.CascadeClassifier(str(path))
        except (cv2.error, SystemError):   # OpenCV's XML reader on a file that is not a cascade
            raise HarnessError(f"{path}: not a readable OpenCV cascade") from None
        if self.classifier.empty():
            raise HarnessError(f"{path}: not a readable OpenCV cascade")
        self.min_face_size = int(min_face_size)

    def detect(self, image: np.ndarray) -> Detections:
        gray = self.cv2.cvtColor(np.ascontiguousarray(image), self.cv2.COLOR_RGB2GRAY)
        size = (self.min_face_size, self.min_face_size)
        rects, _, weights = self.classifier.detectMultiScale3(
            gray, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS, minSize=size, outputRejectLevels=True)
        if len(rects) == 0:
            return Detections.empty()
        return Detections(np.asarray(rects, dtype=np.float64).reshape(-1, 4),
                          np.asarray(weights, dtype=np.float64).reshape(-1))

    def describe(self) -> dict:
        return {"name": self.name, "opencv": self.version, "cascade": self.path.name,
                "scale_factor": SCALE_FACTOR, "min_neighbors": MIN_NEIGHBORS, "min_face_size": self.min_face_size}


def build_detector(options: DetectorOptions) -> HaarDetector:
    no_options("haar", options)
    return HaarDetector(options.min_face_size, options.weights)
