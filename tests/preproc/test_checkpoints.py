"""Loading state dicts: wrappers, prefixes, the three RRDBNet layouts, strict errors (REFERENCE.md 6.1)."""
from __future__ import annotations

import re

import pytest
import torch

from harness.errors import HarnessError
from preproc.checkpoints import (load_state_strict, load_weights, read_checkpoint, rrdbnet_keys,
                                 save_weights, unwrap_state_dict)
from preproc.rrdbnet import RRDBNet, load_rrdbnet

NB = 2


def tiny(seed=0):
    torch.manual_seed(seed)
    return RRDBNet(nf=8, nb=NB, gc=4).eval()


def old_esrgan_layout(state):
    """BasicSR names -> xinntao/ESRGAN names, written out independently of the code under test."""
    out = {}
    for key, value in state.items():
        key = re.sub(r"^body\.(\d+)\.rdb(\d)\.", r"RRDB_trunk.\1.RDB\2.", key)
        key = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2",
               "conv_hr": "HRconv"}.get(key.split(".")[0], key.split(".")[0]) + "." + key.split(".", 1)[1]
        out[key] = value
    return out


def old_arch_layout(state):
    """BasicSR names -> the original old-arch Sequential names (`model.N...`)."""
    top = {"conv_first": "model.0", "conv_body": f"model.1.sub.{NB}", "conv_up1": "model.3",
           "conv_up2": "model.6", "conv_hr": "model.8", "conv_last": "model.10"}
    out = {}
    for key, value in state.items():
        m = re.match(r"^body\.(\d+)\.rdb(\d)\.(conv\d)\.(weight|bias)$", key)
        if m:
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.{m[3]}.0.{m[4]}"] = value
        else:
            name, param = key.split(".")
            out[f"{top[name]}.{param}"] = value
    return out


def same_output(a, b):
    x = torch.rand(1, 3, 6, 5, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return torch.equal(a(x), b(x))


@pytest.mark.parametrize("layout", [lambda s: s, old_esrgan_layout, old_arch_layout],
                         ids=["basicsr", "old_esrgan", "old_arch"])
@pytest.mark.parametrize("wrap", [
    lambda s: s,
    lambda s: {"params": s},
    lambda s: {"params_ema": s},
    lambda s: {f"module.{k}": v for k, v in s.items()},
    lambda s: {"state_dict": {f"module.{k}": v for k, v in s.items()}, "epoch": 3},
], ids=["bare", "params", "params_ema", "module_prefix", "state_dict_module"])
def test_rrdbnet_layouts_load_strictly(layout, wrap, tmp_path):
    ref = tiny()
    path = tmp_path / "w.pth"
    torch.save(wrap(layout(ref.state_dict())), path)
    model, meta = load_rrdbnet(path)
    assert meta["config"] == {"nf": 8, "nb": NB, "gc": 4, "scale": 4}
    assert same_output(ref, model)


def test_params_ema_preferred_over_params():
    ema, plain = tiny(0), tiny(1)
    model = tiny(2)
    load_weights(model, {"params": plain.state_dict(), "params_ema": ema.state_dict()})
    assert same_output(model, ema)


def test_rrdbnet_keys_known_names():
    # Hand-written pairs from REFERENCE.md 6.1.
    t = torch.zeros(1)
    assert set(rrdbnet_keys({"RRDB_trunk.22.RDB3.conv5.weight": t, "trunk_conv.bias": t,
                             "HRconv.weight": t, "conv_last.bias": t})) == {
        "body.22.rdb3.conv5.weight", "conv_body.bias", "conv_hr.weight", "conv_last.bias"}
    assert set(rrdbnet_keys({"model.0.weight": t, "model.1.sub.0.RDB1.conv1.0.bias": t,
                             "model.1.sub.23.weight": t, "model.10.bias": t})) == {
        "conv_first.weight", "body.0.rdb1.conv1.bias", "conv_body.weight", "conv_last.bias"}


def test_missing_and_unexpected_keys_are_named():
    state = dict(tiny().state_dict())
    del state["conv_hr.bias"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(HarnessError, match=r"missing keys: conv_hr\.bias.*unexpected keys: extra\.weight"):
        load_state_strict(tiny(), state, "test")


def test_shape_mismatch_is_named():
    state = dict(tiny().state_dict())
    state["conv_last.bias"] = torch.zeros(4)
    with pytest.raises(HarnessError, match=r"shape mismatch.*conv_last\.bias"):
        load_weights(tiny(), state, what="rrdb")


def test_not_a_state_dict():
    with pytest.raises(HarnessError, match="not a state dict"):
        unwrap_state_dict({"epoch": 3, "optimizer": "adam"}, "x.pth")


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(HarnessError, match="file not found"):
        read_checkpoint(tmp_path / "nope.pth", "rrdb")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(HarnessError, match="cannot read"):
        read_checkpoint(bad, "rrdb")


def test_save_and_load_roundtrip_with_metadata(tmp_path):
    ref = tiny()
    save_weights(tmp_path / "w.pth", ref, config={"nf": 8}, iterations=12)
    model = tiny(5)
    meta = load_weights(model, tmp_path / "w.pth", what="rrdb")
    assert meta == {"config": {"nf": 8}, "iterations": 12}
    assert same_output(ref, model)
