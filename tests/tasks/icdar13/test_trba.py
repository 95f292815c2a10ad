"""TRBA: strict loading of DTRB's key names and shapes (from the published key list), forward, decoding.

`trba_state_dict.txt` is a copy of shared/docs/trba_state_dict.txt: the key names and shapes of the
released TPS-ResNet-BiLSTM-Attn.pth (an independent source: printed from DTRB's own model).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.errors import HarnessError
from tasks.icdar13.recognizers import RecognizerOptions, build_recognizer
from tasks.icdar13.recognizers.trba import (CHARACTERS_CASE_INSENSITIVE, TRBA, decode, load_trba_state_dict,
                                            preprocess)

KEY_LIST = Path(__file__).with_name("trba_state_dict.txt")


def _blocks() -> list[dict[str, tuple[int, ...]]]:
    """Return the key -> shape blocks of the key list (38-class model, then the 96-class Prediction)."""
    blocks = []
    for line in KEY_LIST.read_text().splitlines():
        if line.startswith("=="):
            blocks.append({})
            continue
        match = re.match(r"^(module\.\S+) \(([\d, ]*)\)$", line)
        if match:
            dims = tuple(int(d) for d in match[2].replace(" ", "").split(",") if d)
            blocks[-1][match[1]] = dims
    return blocks


def _state(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    out = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            out[key] = torch.randn(shape, generator=gen) * 0.05
    return out


@pytest.fixture(scope="module")
def model():
    """One randomly initialised 38-class model shared by the tests (building one takes seconds)."""
    torch.manual_seed(0)
    return TRBA(num_class=38).eval()


@pytest.fixture(scope="module")
def computed_buffers(model):
    return {k: v.clone() for k, v in model.state_dict().items() if "GridGenerator" in k}


@pytest.fixture(scope="module")
def official_shapes():
    blocks = _blocks()
    assert len(blocks[0]) == 252 and len(blocks[1]) == 10
    return blocks


def test_model_keys_and_shapes_equal_the_released_checkpoint(official_shapes, model):
    ours = {"module." + k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == official_shapes[0]
    assert sum(p.numel() for p in model.parameters()) == 49_555_182
    sensitive = TRBA(num_class=96)
    assert sum(p.numel() for p in sensitive.parameters()) == 49_629_480
    ours96 = {"module." + k: tuple(v.shape) for k, v in sensitive.state_dict().items() if k.startswith("Prediction")}
    assert ours96 == official_shapes[1]


def test_strict_load_252_and_250_keys(official_shapes, model, computed_buffers):
    state = _state(official_shapes[0])
    # 250 keys: the two TPS buffers are absent and keep their computed values.
    state250 = {k: v for k, v in state.items() if "GridGenerator" not in k}
    assert len(state250) == 250
    load_trba_state_dict(model, state250)
    key = "FeatureExtraction.ConvNet.layer3.2.conv1.weight"
    assert torch.equal(model.state_dict()[key], state["module." + key])
    for k, v in computed_buffers.items():
        assert torch.equal(model.state_dict()[k], v)
    # 252 keys, with and without the DataParallel prefix.
    load_trba_state_dict(model, {k[len("module."):]: v for k, v in state.items()})
    load_trba_state_dict(model, state)
    assert torch.equal(model.state_dict()["Transformation.GridGenerator.P_hat"],
                       state["module.Transformation.GridGenerator.P_hat"])
    load_trba_state_dict(model, {**state, **{"module." + k: v for k, v in computed_buffers.items()}})


def test_wrong_checkpoint_is_one_line_naming_keys(official_shapes, model):
    state = _state(official_shapes[0])
    del state["module.SequenceModeling.1.linear.bias"]
    state["module.Prediction.extra.weight"] = torch.zeros(2)
    with pytest.raises(HarnessError) as info:
        load_trba_state_dict(model, state, "bad.pth")
    message = str(info.value)
    assert "\n" not in message
    assert "missing 1 keys: SequenceModeling.1.linear.bias" in message
    assert "unexpected 1 keys: Prediction.extra.weight" in message


def test_checkpoint_file_roundtrip_and_recognizer(tmp_path, official_shapes):
    # Saved as DTRB does (DataParallel keys) and loaded through the recogniser factory.
    shapes = {k: (s if not k.startswith("module.Prediction") else official_shapes[0][k])
              for k, s in official_shapes[0].items()}
    path = tmp_path / "TPS-ResNet-BiLSTM-Attn.pth"
    # Half-precision zeros keep the file small; load_state_dict copies them into the float32 model.
    torch.save({k: torch.zeros(s, dtype=torch.float16) if k.endswith("weight") else _state({k: s})[k]
                for k, s in shapes.items()}, path)
    rec = build_recognizer("trba", RecognizerOptions(weights=str(path), batch_size=2))
    texts, confs = rec.recognize([np.zeros((20, 50, 3), np.uint8), np.full((40, 30, 3), 200, np.uint8),
                                  np.zeros((10, 90, 3), np.uint8)])
    assert len(texts) == len(confs) == 3
    assert rec.describe()["classes"] == 38


def test_trba_without_weights_and_bad_file(tmp_path):
    with pytest.raises(HarnessError, match="--recognizer-weights"):
        build_recognizer("trba", RecognizerOptions())
    bad = tmp_path / "x.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(HarnessError, match="x.pth"):
        build_recognizer("trba", RecognizerOptions(weights=str(bad)))


def test_forward_shapes_with_random_weights(model):
    x = preprocess([np.random.default_rng(0).integers(0, 256, (37, 120, 3), dtype=np.uint8),
                    np.zeros((8, 8, 3), np.uint8)])
    assert x.shape == (2, 1, 32, 100) and float(x.min()) >= -1 and float(x.max()) <= 1
    with torch.no_grad():
        assert model.Transformation(x).shape == (2, 1, 32, 100)
        feats = model.FeatureExtraction(x)
        assert feats.shape == (2, 512, 1, 26)
        out = model(x)
    assert out.shape == (2, 26, 38)


def test_decoding_stops_at_end_token(model):
    with torch.no_grad():
        model.Prediction.generator.weight.zero_()
        model.Prediction.generator.bias.zero_()
        model.Prediction.generator.bias[1] = 10.0  # [s] everywhere -> empty word, confidence 0
        texts, confs = decode(model(torch.zeros(1, 1, 32, 100)), CHARACTERS_CASE_INSENSITIVE)
        assert texts == [""] and confs == [0.0]
        model.Prediction.generator.bias[2 + 10] = 20.0  # 'a' everywhere: no [s], all 26 steps kept
        texts, confs = decode(model(torch.zeros(1, 1, 32, 100)), CHARACTERS_CASE_INSENSITIVE)
        step = math.exp(20) / (math.exp(20) + math.exp(10) + 36)  # softmax of 'a' against [s] and 36 zeros
        assert texts == ["a" * 26] and confs[0] == pytest.approx(step ** 26, rel=1e-5)


def test_decode_cut_and_confidence_by_hand():
    classes = 2 + len(CHARACTERS_CASE_INSENSITIVE)
    logits = torch.full((2, 26, classes), -30.0)
    # Row 0: 'h' 'i' then [s] then 'x' (ignored). Row 1: never [s]: 26 x 'a' (DTRB would drop one).
    for step, char in enumerate("hi"):
        logits[0, step, 2 + CHARACTERS_CASE_INSENSITIVE.index(char)] = 0.0
    logits[0, 0, 0] = 0.0  # a tie between [GO] and 'h' at step 0
    logits[0, 2, 1] = 0.0
    logits[0, 3:, 2 + CHARACTERS_CASE_INSENSITIVE.index("x")] = 0.0
    logits[1, :, 2 + CHARACTERS_CASE_INSENSITIVE.index("a")] = 0.0
    texts, confs = decode(logits, CHARACTERS_CASE_INSENSITIVE)
    # Step 0 of row 0 is a tie between [GO] (index 0) and 'h'; torch's max returns the first: [GO],
    # which adds no character; its probability 1/2 enters the confidence.
    assert texts == ["i", "a" * 26]
    assert confs[0] == pytest.approx(0.5, rel=1e-6)
    assert confs[1] == pytest.approx(1.0, rel=1e-6)
