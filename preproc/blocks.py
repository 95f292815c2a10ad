"""ESRGAN building blocks shared by RRDBNet and CAJNN (BasicSR `rrdbnet_arch.py` semantics and key names).

Wang et al., "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks", ECCV Workshops 2018.
State-dict keys follow BasicSR: `conv1..conv5` inside a ResidualDenseBlock, `rdb1..rdb3` inside an RRDB.
"""
from __future__ import annotations

import torch
from torch import nn


class ResidualDenseBlock(nn.Module):
    """Residual dense block: five 3x3 convs with dense concatenation, output x + 0.2 * conv5(...).

    Args:
        nf: number of feature channels in and out (BasicSR `num_feat`).
        gc: growth channels of each of the first four convs (BasicSR `num_grow_ch`).
    """

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        # BasicSR's default_init_weights: Kaiming normal scaled by 0.1, zero bias (keeps a deep
        # stack of residual blocks close to identity at the start of training).
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            nn.init.kaiming_normal_(conv.weight)
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        # Residual scaling 0.2 as in ESRGAN (stabilises training of deep stacks).
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three ResidualDenseBlocks, output x + 0.2 * rdb3(rdb2(rdb1(x))).

    Args:
        nf: number of feature channels (BasicSR `num_feat`).
        gc: growth channels of the dense blocks (BasicSR `num_grow_ch`).
    """

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(nf, gc)
        self.rdb2 = ResidualDenseBlock(nf, gc)
        self.rdb3 = ResidualDenseBlock(nf, gc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rdb3(self.rdb2(self.rdb1(x)))
        return out * 0.2 + x


def parse_params_command(argv: list[str] | None, prog: str, description: str, sizes: dict[str, int]):
    """Return the arguments of `python -m <prog> params --<size> N ...` (each of `sizes` an int option with
    that default): the command-line of a network file that prints its parameter count."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    params = sub.add_parser("params", help="print the parameter count of a configuration")
    for name, default in sizes.items():
        params.add_argument(f"--{name}", type=int, default=default)
    return parser.parse_args(argv)
