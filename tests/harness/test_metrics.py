"""Y-PSNR and Y-SSIM against hand computations and an independent SSIM implementation."""
import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from harness.errors import HarnessError
from harness.metrics import psnr_y, rgb_to_y, ssim_y


def _const(value, shape=(16, 16)):
    return np.full(shape + (3,), value, dtype=np.uint8)


def test_rgb_to_y_matches_bt601_by_hand():
    img = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(img)[0], [16 + 65.481, 16 + 128.553, 16 + 24.966, 235.0])


def test_psnr_black_vs_white_by_hand():
    # Y(black) = 16, Y(white) = 235: MSE = 219^2
    assert psnr_y(_const(0), _const(255)) == pytest.approx(20 * math.log10(255 / 219), abs=1e-12)


def test_psnr_single_pixel_difference_by_hand():
    a, b = _const(100, (4, 4)), _const(100, (4, 4))
    b[0, 0] = [110, 100, 100]  # dY = 65.481 * 10 / 255 on one of 16 pixels
    mse = (65.481 * 10 / 255) ** 2 / 16
    assert psnr_y(a, b) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-10)
    assert psnr_y(a, a) == float("inf")


def test_psnr_crop_border_ignores_the_border():
    a, b = _const(100, (8, 8)), _const(100, (8, 8))
    b[0, :] = 0
    assert psnr_y(a, b, crop_border=1) == float("inf")
    assert psnr_y(a, b) < 100


def test_ssim_constant_images_by_hand():
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    expected = (2 * 16 * 235 + c1) / (16**2 + 235**2 + c1) * (c2 / c2)
    assert ssim_y(_const(0), _const(255)) == pytest.approx(expected, abs=1e-12)
    assert ssim_y(_const(7), _const(7)) == pytest.approx(1.0)


def test_ssim_matches_scikit_image_gaussian_valid_window():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (40, 33, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    ya, yb = rgb_to_y(a), rgb_to_y(b)
    # scikit-image with Gaussian weights (sigma 1.5, 11x11), population covariance, data range 255,
    # averages the map over the same 'valid' interior as Wang's ssim_index.m.
    expected = structural_similarity(ya, yb, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=255)
    assert ssim_y(a, b) == pytest.approx(expected, abs=1e-9)


def test_shape_mismatch_and_tiny_images_are_errors():
    with pytest.raises(HarnessError):
        psnr_y(_const(0, (4, 4)), _const(0, (4, 5)))
    with pytest.raises(HarnessError):
        ssim_y(_const(0, (10, 10)), _const(0, (10, 10)))
