"""Tiny Faces (Hu & Ramanan, CVPR 2017), HR-ResNet101, as tiny-faces-pytorch runs it (REFERENCE.md 4.2).

The checkpoint (`checkpoint_50.pth`, `{'model': state_dict, ...}`) is not shipped: pass its path with
`--detector-weights`. It loads strictly into `TinyFacesModel`, whose key names are tiny-faces-pytorch's
(`model.` = torchvision ResNet-101 without layer4, `score_res3`, `score_res4`, `score4_upsample`). The
backbone is built with `weights=None`: nothing is downloaded.

Inference: scales 0.25 / 0.5 / 1 / 2 of the image (short side `int(min_side * s)`, PIL bilinear),
ImageNet normalisation, templates 4..11 only (tiny-faces-pytorch's gating), prob > 0.03, score = logit,
decode with stride 8 and offset -1, divide by the scale, one NMS at IoU 0.3 (+1 convention).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.state_dicts import mismatch
from tasks.widerface.detectors import Detections, Detector, DetectorOptions, no_options

TEMPLATES_FILE = Path(__file__).with_name("tinyfaces_templates.json")
NUM_TEMPLATES = 25
SCALES = (0.25, 0.5, 1.0, 2.0)
ACTIVE_TEMPLATES = tuple(range(4, 12))   # tiny-faces-pytorch keeps only Type A at every scale
PROB_THRESHOLD = 0.03
NMS_THRESHOLD = 0.3
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def load_templates() -> np.ndarray:
    """Return the (25, 5) templates `[x1, y1, x2, y2, scale_tag]`, rounded to 8 decimals as the port."""
    rows = json.loads(TEMPLATES_FILE.read_text(encoding="utf-8"))["templates"]
    return np.round(np.array(rows, dtype=np.float64), 8)


def _model_class():
    import torch
    import torchvision
    from torch import nn

    class TinyFacesModel(nn.Module):
        """`DetectionModel` of tiny-faces-pytorch: ResNet-101 to res4, two 1x1 score heads, x2 upsampling."""

        def __init__(self, num_templates: int = NUM_TEMPLATES):
            super().__init__()
            out = 5 * num_templates
            self.model = torchvision.models.resnet101(weights=None)
            del self.model.layer4
            self.score_res3 = nn.Conv2d(512, out, kernel_size=1, padding=0)
            self.score_res4 = nn.Conv2d(1024, out, kernel_size=1, padding=0)
            self.score4_upsample = nn.ConvTranspose2d(out, out, kernel_size=4, stride=2, padding=1, bias=False)
            f = torch.tensor([0.25, 0.75, 0.75, 0.25])
            with torch.no_grad():
                self.score4_upsample.weight.zero_()
                for i in range(out):
                    self.score4_upsample.weight[i, i] = torch.outer(f, f)

        def forward(self, x):
            m = self.model
            x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
            res3 = m.layer2(m.layer1(x))
            res4 = m.layer3(res3)
            score3 = self.score_res3(res3)
            score4 = self.score4_upsample(self.score_res4(res4))
            # drop the last rows / columns of the upsampled map (top-left aligned crop)
            return score3 + score4[:, :, : score3.shape[2], : score3.shape[3]]

    return TinyFacesModel


def build_model():
    """Return an untrained TinyFacesModel (torchvision backbone with weights=None)."""
    return _model_class()()


def load_checkpoint(path: str | Path, model) -> None:
    """Load a tiny-faces-pytorch checkpoint into `model` strictly; raise a one-line HarnessError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"--detector-weights {path}: no such file (the Tiny Faces checkpoint, e.g. "
                           f"checkpoint_50.pth)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types (pickle, zip, runtime) for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarnessError(f"{path}: not a loadable PyTorch checkpoint ({first[:160]})") from None
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(hasattr(v, "shape") for v in state.values()):
        raise HarnessError(f"{path}: expected a tiny-faces-pytorch checkpoint {{'model': state_dict, ...}}")
    expected = model.state_dict()
    found = mismatch(expected, state)
    if found:
        parts = [f"{len(keys)} {what} (e.g. {keys[0]})" for what, keys in (
            ("missing keys", found.missing), ("unexpected keys", found.unexpected)) if keys]
        if found.shapes:
            k = found.shapes[0]
            parts.append(f"{len(found.shapes)} shape mismatches (e.g. {k}: {tuple(state[k].shape)} vs "
                         f"{tuple(expected[k].shape)})")
        raise HarnessError(f"{path}: not a Tiny Faces HR-ResNet101 checkpoint: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float = NMS_THRESHOLD) -> np.ndarray:
    """Return kept indices, descending score (Girshick's py_cpu_nms, +1 areas, drop IoU > threshold)."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        w = np.maximum(0.0, xx2 - xx1 + 1)
        h = np.maximum(0.0, yy2 - yy1 + 1)
        inter = w * h
        iou = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[1:][iou <= threshold]
    return np.array(keep, dtype=np.int64)


def decode(score_map: np.ndarray, templates: np.ndarray, scale: float,
           prob_threshold: float = PROB_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Return (corners (n, 4) in input-image pixels, logits (n,)) from one (125, H, W) output map."""
    n = len(templates)
    logits = score_map[:n]
    prob = 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))
    gate = np.zeros(n, dtype=bool)
    gate[list(ACTIVE_TEMPLATES)] = True
    prob[~gate] = 0.0
    c, fy, fx = np.nonzero(prob > prob_threshold)
    tx, ty, tw, th = (score_map[n * k + c, fy, fx] for k in range(1, 5))
    cx, cy = fx * 8 - 1, fy * 8 - 1
    cw = templates[c, 2] - templates[c, 0] + 1
    ch = templates[c, 3] - templates[c, 1] + 1
    rcx, rcy = cx + cw * tx, cy + ch * ty
    with np.errstate(over="ignore", invalid="ignore"):
        rcw, rch = cw * np.exp(tw), ch * np.exp(th)
        corners = np.stack([rcx - rcw / 2, rcy - rch / 2, rcx + rcw / 2, rcy + rch / 2], axis=1) / scale
    finite = np.isfinite(corners).all(axis=1)   # an overflowing size is no box (never seen with trained weights)
    return corners[finite], logits[c, fy, fx][finite]


class TinyFacesDetector(Detector):
    """HR-ResNet101 Tiny Faces with a user-supplied tiny-faces-pytorch checkpoint."""

    name = "tinyfaces"

    def __init__(self, weights: str | Path, device: str = "cpu"):
        import torch

        from harness.store import file_sha256

        self.torch, self.device = torch, torch.device(device)
        self.model = build_model()
        load_checkpoint(weights, self.model)
        self.model.eval().to(self.device)
        self.templates = load_templates()
        self.weights, self.weights_sha256 = str(weights), file_sha256(weights)

    def detect(self, image: np.ndarray) -> Detections:
        from PIL import Image
        import torchvision.transforms.functional as TF

        pil = Image.fromarray(np.ascontiguousarray(image))
        min_side = min(pil.size)
        all_corners, all_scores = [], []
        for s in SCALES:
            scaled = pil if s == 1.0 else TF.resize(pil, int(min_side * s))
            x = TF.normalize(TF.to_tensor(scaled), MEAN, STD).unsqueeze(0).to(self.device)
            with self.torch.no_grad():
                out = self.model(x)[0].double().cpu().numpy()
            corners, scores = decode(out, self.templates, s)
            all_corners.append(corners)
            all_scores.append(scores)
        corners, scores = np.concatenate(all_corners), np.concatenate(all_scores)
        if not len(scores):
            return Detections.empty()
        keep = nms(corners, scores)
        corners, scores = corners[keep], scores[keep]
        # tiny-faces-pytorch writes w = x2 - x1 + 1 (it rounds; we keep the floats)
        boxes = np.column_stack([corners[:, :2], corners[:, 2:] - corners[:, :2] + 1])
        return Detections(boxes, scores)

    def describe(self) -> dict:
        return {"name": self.name, "weights": self.weights, "weights_sha256": self.weights_sha256,
                "scales": list(SCALES), "templates": "4..11 (tiny-faces-pytorch gating)",
                "prob_threshold": PROB_THRESHOLD, "nms": NMS_THRESHOLD,
                "box": "w = x2 - x1 + 1; score = logit"}


def build_detector(options: DetectorOptions) -> TinyFacesDetector:
    no_options("tinyfaces", options)
    if not options.weights:
        raise HarnessError("the tinyfaces detector needs --detector-weights PATH (a tiny-faces-pytorch "
                           "checkpoint such as checkpoint_50.pth; it is not downloaded)")
    return TinyFacesDetector(options.weights, options.device)
