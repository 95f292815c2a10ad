"""The degradation recipe: modcrop, MATLAB bicubic x1/4, libjpeg 4:2:0; reproduces Table I's Bicubic rows."""
import io

import numpy as np
import pytest
from PIL import Image

from harness.degrade import degrade, jpeg, modcrop, parse_degradation
from harness.errors import HarnessError
from harness.image import list_images, load_image
from harness.metrics import psnr_y, ssim_y
from harness.resize import imresize
from tests.conftest import require_shared_data

# Table I Bicubic rows (paper) and the unrounded values of REFERENCE.md section 1.
PAPER_BICUBIC = {
    ("Set5", 10): (23.99, 0.6329, 23.9893, 0.63288), ("Set5", 20): (25.32, 0.6761, 25.3163, 0.67610),
    ("Set5", 40): (26.38, 0.7154, 26.3788, 0.71538), ("Set14", 10): (22.94, 0.5513, 22.9374, 0.55125),
    ("Set14", 20): (23.85, 0.5870, 23.8483, 0.58697), ("Set14", 40): (24.55, 0.6201, 24.5519, 0.62014),
}


def test_modcrop_crops_bottom_right():
    img = np.zeros((10, 7, 3), dtype=np.uint8)
    assert modcrop(img, 4).shape == (8, 4, 3)


def test_degrade_shapes_and_no_jpeg_is_plain_resize():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (37, 26, 3), dtype=np.uint8)
    hr_c, lr = degrade(hr, 4, None)
    assert hr_c.shape == (36, 24, 3) and lr.shape == (9, 6, 3)
    np.testing.assert_array_equal(lr, imresize(hr[:36, :24], 0.25))


def test_jpeg_is_pillow_baseline_420():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=20, subsampling=2)
    np.testing.assert_array_equal(jpeg(img, 20), np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
    with pytest.raises(HarnessError):
        jpeg(img, 0)


def test_replicated_gray_jpeg_equals_one_channel_jpeg():
    gray = np.random.default_rng(2).integers(0, 256, (32, 32), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, "JPEG", quality=10)
    one_channel = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
    three = jpeg(np.repeat(gray[:, :, None], 3, axis=2), 10)
    for c in range(3):
        np.testing.assert_array_equal(three[..., c], one_channel)


def test_parse_degradation():
    d = parse_degradation("x4,q20")
    assert (d.scale, d.quality, d.tag) == (4, 20, "x4_q20")
    assert parse_degradation("q10").scale == 4
    for bad in ("x4,q0", "y3", "q101", "xx"):
        with pytest.raises(HarnessError):
            parse_degradation(bad)


@pytest.mark.parametrize("set_name", ["Set5", "Set14"])
def test_bicubic_rows_of_table1(set_name):
    folder = require_shared_data("sr", set_name)
    hrs = [load_image(p) for p in list_images(folder)]
    for qf in (10, 20, 40):
        psnrs, ssims = [], []
        for hr in hrs:
            hr_c, lr = degrade(hr, 4, qf)
            sr = imresize(lr, 4)
            psnrs.append(psnr_y(sr, hr_c))
            ssims.append(ssim_y(sr, hr_c))
        paper_psnr, paper_ssim, ref_psnr, ref_ssim = PAPER_BICUBIC[(set_name, qf)]
        assert abs(np.mean(psnrs) - paper_psnr) <= 0.01
        assert abs(np.mean(ssims) - paper_ssim) <= 0.0002
        assert abs(np.mean(psnrs) - ref_psnr) <= 1e-4
        assert abs(np.mean(ssims) - ref_ssim) <= 1e-5
