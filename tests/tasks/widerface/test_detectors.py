"""Detectors: the interface, MTCNN and Haar on a real face photo, Tiny Faces structure and loading."""
from __future__ import annotations

import numpy as np
import pytest

from harness.errors import HarnessError
from tasks.widerface.detectors import Detections, DetectorOptions, build_detector


@pytest.fixture(scope="module")
def astronaut():
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()


def _iou(a, b):
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)


def test_detections_from_corners_and_scaled():
    d = Detections.from_corners([[10, 20, 30, 60]], [0.5])
    assert d.boxes.tolist() == [[10, 20, 20, 40]]
    assert d.scaled(4).boxes.tolist() == [[40, 80, 80, 160]] and d.scaled(4).scores.tolist() == [0.5]


@pytest.mark.parametrize("name", ["centerface", "mtcnn", "haar"])
def test_detector_finds_the_astronaut(name, astronaut):
    detector = build_detector(name, DetectorOptions(min_face_size=40))
    dets = detector.detect(astronaut)
    assert dets.boxes.dtype == np.float64 and dets.boxes.shape[1] == 4 and len(dets.scores) == len(dets)
    best = dets.boxes[np.argmax(dets.scores)]
    assert _iou(best, (180, 70, 80, 100)) > 0.5   # the hand-labelled face of the smoke set
    assert detector.describe()["name"] == name


def test_centerface_decode_by_hand():
    from tasks.widerface.detectors.centerface import decode

    heatmap = np.zeros((6, 8))
    heatmap[2, 3], heatmap[5, 7], heatmap[0, 0] = 0.9, 0.4, 0.04   # the last is under the threshold
    scale = np.zeros((2, 6, 8))
    offset = np.zeros((2, 6, 8))
    scale[:, 2, 3] = np.log(2.0), np.log(3.0)        # height 4 * 2 = 8 px, width 4 * 3 = 12 px
    offset[:, 2, 3] = 0.25, -0.5                     # centre y (2 + 0.25 + 0.5) * 4 = 11, x (3 - 0.5 + 0.5) * 4 = 12
    scale[:, 5, 7] = np.log(4.0), np.log(4.0)        # 16 x 16 px at centre (22, 30): clipped to a 24 x 32 image
    corners, scores = decode(heatmap, scale, offset, 0.05, 24, 32)
    order = np.argsort(-scores)
    assert np.allclose(corners[order], [[6, 7, 18, 15], [22, 14, 32, 24]])
    assert np.allclose(scores[order], [0.9, 0.4])


def test_centerface_options_and_dynamic_input(astronaut):
    from tasks.widerface.detectors import centerface

    detector = build_detector("centerface", DetectorOptions(threads=1, extra={"scales": "1,0.5", "threshold": 0.3}))
    assert detector.describe()["scales"] == [1.0, 0.5] and detector.describe()["threshold"] == 0.3
    # the shipped file is fixed at 10x3x32x32; the loaded graph takes any size
    dims = detector.session.get_inputs()[0].shape
    assert dims[0] == "N" and dims[2:] == ["H", "W"]
    for shape in ((33, 47, 3), (100, 64, 3)):          # sizes that are not multiples of 32
        dets = detector.detect(np.full(shape, 128, np.uint8))
        assert dets.boxes.shape[1] == 4
        assert (dets.boxes[:, 0] >= 0).all() and (dets.boxes[:, 0] + dets.boxes[:, 2] <= shape[1] + 1e-9).all()
    with pytest.raises(HarnessError, match="unknown centerface option"):
        build_detector("centerface", DetectorOptions(extra={"nms_iou": 0.5}))
    with pytest.raises(HarnessError, match="scales must be positive"):
        build_detector("centerface", DetectorOptions(extra={"scales": "0"}))
    with pytest.raises(HarnessError, match="not used by centerface"):
        build_detector("centerface", DetectorOptions(weights="x.pth"))
    assert centerface.model_path().name == "centerface.onnx"


def test_mtcnn_empty_image_and_unknown_detector():
    detector = build_detector("mtcnn", DetectorOptions(min_face_size=20))
    assert len(detector.detect(np.zeros((64, 64, 3), np.uint8))) == 0
    with pytest.raises(HarnessError, match="unknown detector"):
        build_detector("yolo")


# ---------------------------------------------------------------------------------------------
# Tiny Faces: one module build for the whole file (ResNet-101 is large)


@pytest.fixture(scope="module")
def tiny():
    torch = pytest.importorskip("torch")
    from tasks.widerface.detectors import tinyfaces

    torch.manual_seed(0)
    return tinyfaces, tinyfaces.build_model()


def test_tinyfaces_state_dict_layout(tiny):
    # REFERENCE.md 4.2.2: 571 entries, prefixes and shapes of tiny-faces-pytorch's DetectionModel
    _, model = tiny
    sd = model.state_dict()
    assert len(sd) == 571
    assert sum(k.startswith("model.layer1.") for k in sd) == 60
    assert sum(k.startswith("model.layer2.") for k in sd) == 78
    assert sum(k.startswith("model.layer3.") for k in sd) == 420
    assert not any(k.startswith("model.layer4.") for k in sd)
    shapes = {"model.conv1.weight": (64, 3, 7, 7), "model.fc.weight": (1000, 2048), "model.fc.bias": (1000,),
              "score_res3.weight": (125, 512, 1, 1), "score_res3.bias": (125,),
              "score_res4.weight": (125, 1024, 1, 1), "score_res4.bias": (125,),
              "score4_upsample.weight": (125, 125, 4, 4)}
    assert {k: tuple(sd[k].shape) for k in shapes} == shapes
    count = sum(v.numel() for k, v in sd.items() if not k.endswith(("running_mean", "running_var",
                                                                     "num_batches_tracked")))
    assert count == 30_026_674
    w = sd["score4_upsample.weight"]
    assert float(w[3, 3, 1, 1]) == 0.5625 and float(w[3, 4].abs().sum()) == 0.0   # bilinear, diagonal


def test_tinyfaces_output_size(tiny):
    import torch

    _, model = tiny
    model.eval()
    with torch.no_grad():
        assert tuple(model(torch.zeros(1, 3, 101, 77)).shape) == (1, 125, 13, 10)   # REFERENCE.md 4.2.1


def test_tinyfaces_decode_by_hand(tiny):
    tinyfaces, _ = tiny
    templates = tinyfaces.load_templates()
    score = np.zeros((125, 2, 3))
    score[:25] = -10.0                         # logits; tx, ty, tw, th stay 0
    score[5, 1, 2] = 2.0                       # template 5 (active) at fy=1, fx=2, zero offsets
    score[0, 0, 0] = 5.0                       # template 0 is gated off
    corners, logits = tinyfaces.decode(score, templates, scale=0.5)
    cw = templates[5, 2] - templates[5, 0] + 1
    ch = templates[5, 3] - templates[5, 1] + 1
    cx, cy = 2 * 8 - 1, 1 * 8 - 1
    expected = np.array([cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2]) / 0.5
    assert logits.tolist() == [2.0] and np.allclose(corners[0], expected)


def test_tinyfaces_nms_by_hand(tiny):
    tinyfaces, _ = tiny
    boxes = np.array([[0, 0, 9, 9], [1, 0, 10, 9], [20, 20, 29, 29]], dtype=float)
    # IoU(0, 1) with +1 areas = 90 / 110 > 0.3 -> suppressed
    assert tinyfaces.nms(boxes, np.array([0.9, 0.8, 0.7])).tolist() == [0, 2]


def test_tinyfaces_checkpoint_load_and_detect(tiny, tmp_path):
    import torch

    tinyfaces, model = tiny
    path = tmp_path / "checkpoint_50.pth"
    state = {k: v.clone() for k, v in model.state_dict().items()}
    # heads that ignore the (untrained) features: logits from the bias only, zero offsets
    for key in ("score_res3.weight", "score_res4.weight", "score_res3.bias", "score_res4.bias"):
        state[key].zero_()
    state["score_res3.bias"][:25] = torch.linspace(-2, 2, 25)
    torch.save({"epoch": 50, "batch_size": 12, "model": state}, path)
    detector = build_detector("tinyfaces", DetectorOptions(weights=str(path)))
    dets = detector.detect(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    assert dets.boxes.shape[1] == 4 and len(dets.scores) == len(dets)
    assert len(dets) and np.isfinite(dets.boxes).all()
    assert np.all(np.diff(dets.scores) <= 0)          # NMS keep order = descending score
    active = torch.linspace(-2, 2, 25)[4:12].numpy()  # only templates 4..11 can fire
    assert np.isin(dets.scores.astype(np.float32), active).all()
    assert detector.describe()["weights_sha256"]


def test_tinyfaces_wrong_checkpoint_is_one_line(tiny, tmp_path):
    import torch

    tinyfaces, model = tiny
    sd = {k: v for k, v in model.state_dict().items() if k != "score_res3.bias"}
    sd["score_res4.weight"] = torch.zeros(10, 1024, 1, 1)
    bad = tmp_path / "bad.pth"
    torch.save({"model": sd}, bad)
    with pytest.raises(HarnessError) as info:
        tinyfaces.load_checkpoint(bad, model)
    message = str(info.value)
    assert "\n" not in message and "missing keys (e.g. score_res3.bias)" in message
    assert "shape mismatches (e.g. score_res4.weight" in message
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(HarnessError, match="not a loadable PyTorch checkpoint"):
        tinyfaces.load_checkpoint(junk, model)
    with pytest.raises(HarnessError, match="needs --detector-weights"):
        build_detector("tinyfaces")
    with pytest.raises(HarnessError, match="no such file"):
        build_detector("tinyfaces", DetectorOptions(weights=str(tmp_path / "absent.pth")))


def test_a_file_that_is_not_a_haar_cascade_is_one_line(tmp_path):
    """Tried as a new user (issue 25): `--detector haar --detector-weights FILE` with a non-cascade file was a
    SystemError traceback from OpenCV."""
    from tasks.widerface.detectors.haar import HaarDetector

    bad = tmp_path / "a.png"
    bad.write_text("not a cascade\n")
    with pytest.raises(HarnessError, match="a.png: not a readable OpenCV cascade"):
        HaarDetector(cascade=str(bad))
