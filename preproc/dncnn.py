"""DnCNN (colour, blind: CDnCNN-B) and the `dncnn` preprocessor.

Zhang, Zuo, Chen, Meng, Zhang, "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image
Denoising", IEEE TIP 2017. CDnCNN-B: 20 layers, conv + ReLU, 18 x (conv + BN + ReLU), conv; the
network predicts the residual (the artifacts) and the output is input - residual. The layout and key
names are KAIR's `DnCNN(in_nc=3, out_nc=3, nc=64, nb=20, act_mode='BR')` (`model.0`, `model.2`,
`model.3` (BN), ..., `model.56`), so KAIR checkpoints of that layout load strictly.

Parameters: 20 layers, 64 channels, colour, with BN (and conv biases, as in KAIR): 670,531. The
paper's grey 17-layer DnCNN-S (BN, no conv biases after the first layer) has 556,096 ("0.56 M"); the CAJNN paper
lists "DnCNN 0.06 M" (and "ARCNN 0.56 M"), which fits neither network: the two entries look swapped
or mislabelled (see preproc/arcnn.py).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from preproc.checkpoints import load_model, restorer_from_weights

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# The weights the `dncnn` preprocessor uses by default (trained here; model card: same stem, .md).
DEFAULT_WEIGHTS = WEIGHTS_DIR / "dncnn_small.pth"


class DnCNN(nn.Module):
    """DnCNN: conv + ReLU, (nb - 2) x (conv + BN + ReLU), conv; output = input - network(input).

    Args:
        channels: image channels in and out (3 for colour).
        nc: feature channels (64).
        nb: number of conv layers (20 for the blind models, 17 for DnCNN-S).
        bn: batch norm in the middle layers (True in the paper; KAIR's released weights merge it).
    BN uses eps 1e-4 as KAIR, but PyTorch's default momentum 0.1 (KAIR's 0.9 keeps running statistics
    of only the last few batches, too noisy for the small batches trained here).
    """

    scale = 1
    # Measured: in bf16 autocast the shipped weights' predicted residual is off by 2.4 levels rms and up
    # to 195 levels (Set5 baby, QF 40; folding BN into the convs does not help), so `dncnn` stays fp32
    # under --precision bf16 (preproc/torch_restorer.py).
    autocast_safe = False

    def __init__(self, channels: int = 3, nc: int = 64, nb: int = 20, bn: bool = True):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, nc, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(nb - 2):
            layers.append(nn.Conv2d(nc, nc, 3, padding=1))
            if bn:
                layers.append(nn.BatchNorm2d(nc, eps=1e-4))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(nc, channels, 3, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.model(x)


def config_from_state_dict(state: dict[str, torch.Tensor]) -> dict:
    """Return {channels, nc, nb, bn} of a DnCNN state dict in KAIR naming."""
    convs = sorted(int(k.split(".")[1]) for k in state if k.endswith(".weight") and state[k].ndim == 4)
    bn = any(k.endswith("running_mean") for k in state)
    first = state[f"model.{convs[0]}.weight"] if convs else None
    if first is None:
        return {}
    return {"channels": int(first.shape[1]), "nc": int(first.shape[0]), "nb": len(convs), "bn": bn}


def load_dncnn(source) -> tuple[DnCNN, dict]:
    """Return (DnCNN with the weights in `source`, the checkpoint's metadata)."""
    return load_model(DnCNN, source, what="dncnn", infer_config=config_from_state_dict)


def build_preprocessor(options):
    """Return the `dncnn` Preprocessor (scale 1): shipped weights, or `options.weights['dncnn']`."""
    return restorer_from_weights("dncnn", load_dncnn, DEFAULT_WEIGHTS, options)
