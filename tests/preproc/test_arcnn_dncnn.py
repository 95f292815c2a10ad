"""ARCNN and DnCNN: forward shapes, parameter counts (by hand from the papers' layer tables), loading."""
from __future__ import annotations

import pytest
import torch

from harness.errors import HarnessError
from preproc.arcnn import ARCNN, load_arcnn
from preproc.dncnn import DnCNN, load_dncnn


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
