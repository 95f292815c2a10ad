"""ARCNN and DnCNN: forward shapes, parameter counts (by hand from the papers' layer tables), loading."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.errors import HarnessError
from harness.registry import BuildOptions, build
from preproc.arcnn import ARCNN, load_arcnn
from preproc.checkpoints import checkpoint_metadata, read_checkpoint
from preproc.dncnn import DnCNN, load_dncnn
from preproc.rrdbnet import RRDBNet

WEIGHTS = Path(__file__).resolve().parents[2] / "preproc" / "weights"


def count(model):
    return sum(p.numel() for p in model.parameters())


def conv(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def test_arcnn_parameter_count():
    # AR-CNN (ICCV 2015) layer table: 9x9x64, 7x7x32, 1x1x16, 5x5, on Y: 106,448 weights without biases.
    assert conv(9, 1, 64, 0) + conv(7, 64, 32, 0) + conv(1, 32, 16, 0) + conv(5, 16, 1, 0) == 106_448
    assert count(ARCNN(channels=1)) == conv(9, 1, 64) + conv(7, 64, 32) + conv(1, 32, 16) + conv(5, 16, 1)
    assert count(ARCNN()) == conv(9, 3, 64) + conv(7, 64, 32) + conv(1, 32, 16) + conv(5, 16, 3) == 117_731


def test_dncnn_parameter_count():
    # CDnCNN-B: 20 layers, 64 channels, BN (2 x 64 learned) in the 18 middle layers, biases as in KAIR.
    expected = conv(3, 3, 64) + 18 * (conv(3, 64, 64) + 128) + conv(3, 64, 3)
    assert count(DnCNN()) == expected == 670_531
    assert count(DnCNN(bn=False)) == expected - 18 * 128


@pytest.mark.parametrize("model", [ARCNN(), ARCNN(residual=False), DnCNN(nb=5), DnCNN(nb=5, bn=False)],
                         ids=["arcnn", "arcnn_plain", "dncnn", "dncnn_nobn"])
def test_forward_shape_keeps_size(model):
    with torch.no_grad():
        out = model.eval()(torch.rand(2, 3, 13, 10))
    assert out.shape == (2, 3, 13, 10)


def test_dncnn_is_residual():
    model = DnCNN(nb=3, bn=False).eval()
    for p in model.model[-1].parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), x)


def test_kair_key_layout():
    keys = DnCNN().state_dict()
    # KAIR DnCNN(nb=20, act_mode='BR'): conv at 0, (conv, BN, ReLU) x 18 from index 2, last conv at 56.
    assert {"model.0.weight", "model.2.weight", "model.3.running_var", "model.56.bias"} <= set(keys)
    assert "model.57.weight" not in keys


def test_loaders_infer_size_and_load_strictly(tmp_path):
    torch.manual_seed(0)
    dn = DnCNN(nb=6, nc=16).eval()
    torch.save({"params": dn.state_dict()}, tmp_path / "d.pth")  # no config: inferred from shapes
    model, meta = load_dncnn(tmp_path / "d.pth")
    assert meta["config"] == {"channels": 3, "nc": 16, "nb": 6, "bn": True}
    x = torch.rand(1, 3, 9, 9)
    with torch.no_grad():
        assert torch.equal(model(x), dn(x))
    ar = ARCNN(n1=8, n2=4, n3=2)
    torch.save({"params": ar.state_dict(), "config": {"n1": 8, "n2": 4, "n3": 2}}, tmp_path / "a.pth")
    assert load_arcnn(tmp_path / "a.pth")[1]["config"] == {"n1": 8, "n2": 4, "n3": 2}
    torch.save({"params": ar.state_dict()}, tmp_path / "bad.pth")  # default size: shapes differ
    with pytest.raises(HarnessError, match=r"arcnn weights .*bad\.pth.*shape mismatch"):
        load_arcnn(tmp_path / "bad.pth")


def test_registry_names_use_weights_override(tmp_path):
    torch.save({"params": ARCNN(n1=8, n2=4, n3=2).state_dict(), "config": {"n1": 8, "n2": 4, "n3": 2}},
               tmp_path / "a.pth")
    torch.save({"params_ema": RRDBNet(nf=8, nb=1, gc=4).state_dict()}, tmp_path / "r.pth")
    torch.save(DnCNN(nb=3, nc=8).state_dict(), tmp_path / "d.pth")
    options = BuildOptions(weights={"arcnn": str(tmp_path / "a.pth"), "rrdb": str(tmp_path / "r.pth"),
                                    "dncnn": str(tmp_path / "d.pth")})
    image = np.zeros((6, 5, 3), np.uint8)
    for spec in ("arcnn+rrdb", "dncnn+rrdb"):
        pipeline = build(spec, options)
        assert pipeline.scale == 4 and pipeline(image).shape == (24, 20, 3)
    assert build("arcnn", options).describe()["weights"] == str(tmp_path / "a.pth")
    with pytest.raises(HarnessError, match="dncnn weights .*nope.pth: file not found"):
        build("dncnn", BuildOptions(weights={"dncnn": str(tmp_path / "nope.pth")}))


@pytest.mark.parametrize("name", ["arcnn", "dncnn", "rrdb"])
def test_shipped_weights_load(name):
    # The default registry names load the weights trained here (preproc/weights/*_small.pth).
    file = WEIGHTS / f"{name}_small.pth"
    assert file.is_file(), f"{file} is missing (it ships with the project)"
    stage = build(name, BuildOptions())
    assert stage.describe()["weights_sha256"]
    assert checkpoint_metadata(read_checkpoint(file))["iterations"] > 0
