"""AR-CNN (compression-artifact reduction) and the `arcnn` preprocessor.

Dong, Deng, Loy, Tang, "Compression Artifacts Reduction by a Deep Convolutional Network", ICCV 2015:
four convolutions, feature extraction 9x9 (64), feature enhancement 7x7 (32), mapping 1x1 (16),
reconstruction 5x5, ReLU after the first three.

Parameters, computed from the paper's layer table: its network works on the Y channel (1 -> 1), 106,448
weights without biases, 106,561 with them. This colour version (3 -> 3) has 117,731. The CAJNN paper lists "ARCNN
0.56 M", which fits no AR-CNN configuration; it is the count of the 17-layer grey DnCNN (556,096
with BN), so the CAJNN paper's two entries look swapped or mislabelled (see preproc/dncnn.py).

Departures from the paper, for training within minutes on a CPU: colour in and out, 'same' padding,
and a global residual (`residual=True`: output = input + network), so the untrained network starts near
the identity; neither changes the parameter count.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from preproc.checkpoints import load_model, restorer_from_weights

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# The weights the `arcnn` preprocessor uses by default (trained here; model card: same stem, .md).
DEFAULT_WEIGHTS = WEIGHTS_DIR / "arcnn_small.pth"


class ARCNN(nn.Module):
    """AR-CNN: 9x9 conv (n1) + ReLU, 7x7 conv (n2) + ReLU, 1x1 conv (n3) + ReLU, 5x5 conv; N x C x H x W in
    and out, values in [0, 1].

    Args:
        channels: image channels in and out (3: RGB; 1: the paper's Y channel).
        n1, n2, n3: feature channels of the first three layers (64, 32, 16 in the paper).
        residual: add the input to the output (our departure; the paper predicts the image directly).
    """

    scale = 1

    def __init__(self, channels: int = 3, n1: int = 64, n2: int = 32, n3: int = 16, residual: bool = True):
        super().__init__()
        self.residual = residual
        self.extraction = nn.Conv2d(channels, n1, 9, padding=4)
        self.enhancement = nn.Conv2d(n1, n2, 7, padding=3)
        self.mapping = nn.Conv2d(n2, n3, 1)
        self.reconstruction = nn.Conv2d(n3, channels, 5, padding=2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.extraction(x))
        out = self.relu(self.enhancement(out))
        out = self.relu(self.mapping(out))
        out = self.reconstruction(out)
        return x + out if self.residual else out


def load_arcnn(source) -> tuple[ARCNN, dict]:
    """Return (ARCNN with the weights in `source`, the checkpoint's metadata)."""
    return load_model(ARCNN, source, what="arcnn")


def build_preprocessor(options):
    """Return the `arcnn` Preprocessor (scale 1): shipped weights, or `options.weights['arcnn']`."""
    return restorer_from_weights("arcnn", load_arcnn, DEFAULT_WEIGHTS, options)
