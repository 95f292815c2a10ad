"""TorchRestorer: tiled == untiled in the interior, self-ensemble, batching, the uint8 contract."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from harness.registry import BuildOptions
from preproc.cajnn import CAJNN
from preproc.torch_restorer import TorchRestorer, dihedral_tensor, tile_starts


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _interior_mask(h, w, tile, overlap, scale):
    """Output pixels farther than overlap*scale output px from every tile seam (REFERENCE.md section 7)."""
    margin = overlap * scale
    rows = np.ones(h * scale, bool)
    cols = np.ones(w * scale, bool)
    for seam in tile_starts(h, tile)[1:]:
        rows[max(seam * scale - margin, 0):seam * scale + margin] = False
    for seam in tile_starts(w, tile)[1:]:
        cols[max(seam * scale - margin, 0):seam * scale + margin] = False
    return rows[:, None] & cols[None, :]


@pytest.mark.parametrize("tile,overlap", [(16, 8), (24, 4)])
def test_tiled_equals_untiled_in_the_interior(tile, overlap):
    torch.manual_seed(0)
    model = CAJNN(nf=8, gc=4, nb=1)
    img = _image(45, 70)
    full = TorchRestorer(model, 4, "t", BuildOptions(tile=0))(img)
    tiled = TorchRestorer(model, 4, "t", BuildOptions(tile=tile), overlap=overlap)(img)
    assert tiled.shape == full.shape == (180, 280, 3)
    diff = np.abs(full.astype(int) - tiled.astype(int)).max(axis=2)
    mask = _interior_mask(45, 70, tile, overlap, 4)
    assert mask.sum() > 0
    assert diff[mask].max() <= 1


def test_automatic_tiling_only_for_large_inputs():
    restorer = TorchRestorer(CAJNN(nf=8, gc=4, nb=1), 4, "t", BuildOptions())
    assert restorer.tile_for(120, 80) is None
    assert restorer.tile_for(768, 1024) is not None


def test_dihedral_inverse_round_trip():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    seen = set()
    for k in range(8):
        y = dihedral_tensor(x, k)
        seen.add(y.numpy().tobytes())
        assert torch.equal(dihedral_tensor(y, k, inverse=True), x)
    assert len(seen) == 8


def test_self_ensemble_of_an_equivariant_network_equals_plain():
    # Nearest-neighbour x2 upsampling commutes with every dihedral transform.
    model = nn.Upsample(scale_factor=2, mode="nearest")
    img = _image(7, 9)
    plain = TorchRestorer(model, 2, "up", BuildOptions())(img)
    ensemble = TorchRestorer(model, 2, "up", BuildOptions(self_ensemble=True))(img)
    assert np.array_equal(plain, ensemble)
    assert np.array_equal(plain, img.repeat(2, 0).repeat(2, 1))


def test_process_batch_matches_single_calls_and_keeps_order():
    torch.manual_seed(1)
    restorer = TorchRestorer(CAJNN(nf=8, gc=4, nb=1), 4, "t", BuildOptions())
    images = [_image(12, 10, 0), _image(8, 8, 1), _image(12, 10, 2)]
    batch = restorer.process_batch(images)
    for img, out in zip(images, batch):
        single = restorer(img)
        assert out.dtype == np.uint8 and out.shape == (img.shape[0] * 4, img.shape[1] * 4, 3)
        assert np.abs(out.astype(int) - single.astype(int)).max() <= 1


def test_scale_one_network_rounds_and_clamps():
    class Affine(nn.Module):
        def forward(self, x):
            return x * 2 - 0.25

    img = np.array([[[0, 100, 255]]], dtype=np.uint8)
    out = TorchRestorer(Affine(), 1, "affine", BuildOptions())(img)
    # 0 -> -0.25 clamps to 0; 100/255*2-0.25 = 0.5343 -> 136.25 -> 136; 255 -> 1.75 clamps to 255.
    assert out.tolist() == [[[0, 136, 255]]]


def test_channels_last_equals_contiguous_within_one_level():
    torch.manual_seed(2)
    model = CAJNN(nf=8, gc=4, nb=1)
    img = _image(14, 11, 3)
    cl = TorchRestorer(model, 4, "t", BuildOptions(), channels_last=True)(img)
    plain = TorchRestorer(model, 4, "t", BuildOptions(), channels_last=False)(img)
    assert np.abs(cl.astype(int) - plain.astype(int)).max() <= 1   # summation order only


def test_bf16_is_recorded_and_close_to_fp32():
    from harness.errors import HarnessError

    torch.manual_seed(3)
    model = CAJNN(nf=8, gc=4, nb=1)
    img = _image(16, 12, 4)
    fp32 = TorchRestorer(model, 4, "t", BuildOptions())
    bf16 = TorchRestorer(model, 4, "t", BuildOptions(precision="bf16"))
    assert "precision" not in fp32.describe()   # fp32 records keep their keys from before --precision
    assert bf16.describe()["precision"] == "bf16"
    out32, out16 = fp32(img), bf16(img)
    assert out16.dtype == np.uint8 and out16.shape == out32.shape
    assert np.abs(out16.astype(int) - out32.astype(int)).mean() < 2
    with pytest.raises(HarnessError, match="fp16: CUDA only"):
        TorchRestorer(model, 4, "t", BuildOptions(precision="fp16"))
    with pytest.raises(HarnessError, match="expected one of fp32, bf16, fp16"):
        TorchRestorer(model, 4, "t", BuildOptions(precision="int8"))


def test_a_network_marked_unsafe_for_autocast_runs_and_is_described_as_fp32():
    from preproc.dncnn import DnCNN

    restorer = TorchRestorer(DnCNN(nc=8, nb=4), 1, "d", BuildOptions(precision="bf16"))
    assert restorer.autocast_dtype is None and "precision" not in restorer.describe()
