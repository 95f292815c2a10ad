"""CAJNN: the paper's parameter count, shapes, the bilinear skip, strict loading and the preprocessor."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.errors import HarnessError
from harness.registry import BuildOptions
from preproc.cajnn import CAJNN, build_preprocessor, config_from_state_dict, load_cajnn, main, num_parameters


def test_paper_configuration_has_14_847_491_parameters():
    # REFERENCE.md sections 2 and 7: nf 64, gc 32, 20 RRDBs, tail C, no trunk conv.
    assert num_parameters(CAJNN(nf=64, gc=32, nb=20)) == 14_847_491


def test_small_probe_configuration_count():
    # REFERENCE.md section 2: the 25-minute probe variant (nf 32, gc 16, 3 RRDBs) has 655,843 parameters.
    assert num_parameters(CAJNN(nf=32, gc=16, nb=3)) == 655_843


def test_params_command_prints_the_count(capsys):
    main(["params", "--nf", "64", "--gc", "32", "--nb", "20"])
    assert "14,847,491" in capsys.readouterr().out


def test_forward_shape_is_four_times_the_input():
    model = CAJNN(nf=8, gc=4, nb=1).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 10, 13))
    assert out.shape == (2, 3, 40, 52)


def test_zero_last_conv_gives_the_bilinear_upsampled_input():
    model = CAJNN(nf=8, gc=4, nb=1).eval()
    torch.nn.init.zeros_(model.conv_last.weight)
    torch.nn.init.zeros_(model.conv_last.bias)
    x = torch.rand(1, 3, 6, 7)
    with torch.no_grad():
        out = model(x)
    assert torch.allclose(out, F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False))
    # A constant image stays constant under the bilinear skip (an independent check of the skip).
    with torch.no_grad():
        const = model(torch.full((1, 3, 5, 5), 0.25))
    assert torch.allclose(const, torch.full_like(const, 0.25))


def _save(path, obj):
    torch.save(obj, path)
    return path


def test_load_infers_size_from_state_dict_and_accepts_wrappers(tmp_path):
    model = CAJNN(nf=8, gc=4, nb=2)
    state = model.state_dict()
    assert config_from_state_dict(state) == {"nf": 8, "gc": 4, "nb": 2}
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        want = model.eval()(x)
    prefixed = {f"module.{k}": v for k, v in state.items()}
    for obj in (state, {"params": state}, {"params_ema": state}, {"state_dict": prefixed}, {"model": state},
                {"params": state, "config": {"nf": 8, "gc": 4, "nb": 2}, "iterations": 7}):
        loaded, meta = load_cajnn(_save(tmp_path / "w.pth", obj))
        assert meta["config"] == {"nf": 8, "gc": 4, "nb": 2}
        with torch.no_grad():
            assert torch.equal(loaded(x), want)


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = CAJNN(nf=8, gc=4, nb=1).state_dict()
    missing = {k: v for k, v in state.items() if k != "conv_hr.bias"}
    with pytest.raises(HarnessError, match="conv_hr.bias"):
        load_cajnn(_save(tmp_path / "a.pth", {"params": missing, "config": {"nf": 8, "gc": 4, "nb": 1}}))
    extra = {**state, "conv_body.weight": torch.zeros(8, 8, 3, 3)}
    with pytest.raises(HarnessError, match="conv_body.weight"):
        load_cajnn(_save(tmp_path / "b.pth", {"params": extra, "config": {"nf": 8, "gc": 4, "nb": 1}}))
    with pytest.raises(HarnessError, match="not found"):
        load_cajnn(tmp_path / "nope.pth")


def test_build_preprocessor_with_weights_option(tmp_path):
    model = CAJNN(nf=8, gc=4, nb=1)
    path = _save(tmp_path / "cajnn_tiny.pth", {"params": model.state_dict(),
                                               "config": {"nf": 8, "gc": 4, "nb": 1}, "iterations": 3})
    pre = build_preprocessor(BuildOptions(weights={"cajnn": str(path)}))
    assert pre.scale == 4 and pre.num_parameters == num_parameters(model)
    out = pre(np.zeros((9, 11, 3), dtype=np.uint8))
    assert out.shape == (36, 44, 3) and out.dtype == np.uint8
    info = pre.describe()
    assert info["weights"] == str(path) and len(info["weights_sha256"]) == 64
    assert info["config"] == {"nf": 8, "gc": 4, "nb": 1} and info["iterations"] == 3


def test_cajnn_small_is_a_named_restorer_with_the_small_weights():
    # REFERENCE.md section 2: the small variant (nf 32, gc 16, 3 RRDBs) has 655,843 parameters; its model card
    # (preproc/weights/cajnn_small.md) names the file.
    from harness.registry import build_stage
    from tasks.report.settings import stage_setting

    pre = build_stage("cajnn_small", BuildOptions())
    info = pre.describe()
    # shipped weights are named relative to the project root, so every checkout gives the same record keys
    assert info["name"] == "cajnn_small" and info["weights"] == "preproc/weights/cajnn_small.pth"
    assert pre.num_parameters == 655_843 and info["config"] == {"nf": 32, "gc": 16, "nb": 3}
    assert stage_setting(info).startswith("CAJNN small (nf 32, gc 16, nb 3), 0.66 M parameters vs 14.8 M")


def test_default_cajnn_is_the_paper_configuration():
    # Issue 28: `cajnn` runs the paper configuration fine-tuned here (preproc/weights/cajnn_paper_ft.md); the small
    # network is `cajnn_small`. Builds only (no forward pass: the paper configuration is slow on CPU).
    from harness.registry import build_stage

    pre = build_stage("cajnn", BuildOptions())
    info = pre.describe()
    assert info["name"] == "cajnn" and info["weights"].endswith("cajnn_paper_ft.pth")
    assert pre.num_parameters == 14_847_491 and info["config"] == {"nf": 64, "gc": 32, "nb": 20}
