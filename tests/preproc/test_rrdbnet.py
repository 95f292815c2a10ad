"""RRDBNet: forward shapes and parameter counts."""
from __future__ import annotations

import pytest
import torch

from preproc.rrdbnet import RRDBNet, num_parameters


def test_esrgan_parameter_count():
    # ESRGAN x4, nf 64, nb 23, gc 32: 16,697,987 (REFERENCE.md 6.1; the CAJNN paper's "16.7 M").
    assert num_parameters(RRDBNet(nf=64, nb=23, gc=32)) == 16_697_987


def test_small_parameter_count_by_hand():
    # nf 8, nb 1, gc 4. A dense block: convs (8->4), (12->4), (16->4), (20->4), (24->8), 3x3 + bias.
    rdb = sum(9 * i * o + o for i, o in [(8, 4), (12, 4), (16, 4), (20, 4), (24, 8)])
    expected = (9 * 3 * 8 + 8) + 3 * rdb + 4 * (9 * 8 * 8 + 8) + (9 * 8 * 3 + 3)
    assert num_parameters(RRDBNet(nf=8, nb=1, gc=4)) == expected


@pytest.mark.parametrize("scale", [4, 2, 1])
def test_forward_shape(scale):
    model = RRDBNet(nf=8, nb=1, gc=4, scale=scale).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 8, 12))
    assert out.shape == (2, 3, 8 * scale, 12 * scale)
