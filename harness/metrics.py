"""Image-quality metrics on the Y channel, as the paper's Table I (REFERENCE.md section 1).

Y is MATLAB `rgb2ycbcr` of double input, not rounded; PSNR over the whole image; SSIM is Wang et al.'s
original `ssim_index.m` (11x11 Gaussian, sigma 1.5, 'valid' filtering, no downsampling).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

from harness.errors import HarnessError


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Return the float64 Y channel (16..235) of an HxWx3 uint8 RGB image, unrounded."""
    rgb = img.astype(np.float64)
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def _pair_y(a: np.ndarray, b: np.ndarray, crop_border: int) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise HarnessError(f"metric inputs differ in shape: {a.shape} vs {b.shape}")
    if crop_border < 0:
        raise HarnessError(f"crop_border must be >= 0, got {crop_border}")
    ya, yb = rgb_to_y(a), rgb_to_y(b)
    if crop_border:
        ya = ya[crop_border:-crop_border, crop_border:-crop_border]
        yb = yb[crop_border:-crop_border, crop_border:-crop_border]
    if ya.size == 0:
        raise HarnessError(f"nothing left to score after cropping {crop_border} px from {a.shape}")
    return ya, yb


def psnr_y(img: np.ndarray, ref: np.ndarray, crop_border: int = 0) -> float:
    """Return the PSNR (dB, peak 255) between the Y channels of two uint8 RGB images."""
    ya, yb = _pair_y(img, ref, crop_border)
    mse = np.mean((ya - yb) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(255.0**2 / mse))


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Return the 'valid' correlation of a 2-D image with the separable window kernel x kernel."""
    half = kernel.size // 2
    out = correlate1d(img, kernel, axis=0, mode="constant")
    out = correlate1d(out, kernel, axis=1, mode="constant")
    return out[half:-half, half:-half]


def ssim_y(img: np.ndarray, ref: np.ndarray, crop_border: int = 0) -> float:
    """Return Wang et al.'s SSIM (ssim_index.m) between the Y channels of two uint8 RGB images."""
    ya, yb = _pair_y(img, ref, crop_border)
    if min(ya.shape) < 11:
        raise HarnessError(f"SSIM needs at least 11x11 pixels, got {ya.shape}")
    window = _gaussian_1d()
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    mu_a = _filter_valid(ya, window)
    mu_b = _filter_valid(yb, window)
    sigma_a = _filter_valid(ya * ya, window) - mu_a**2
    sigma_b = _filter_valid(yb * yb, window) - mu_b**2
    sigma_ab = _filter_valid(ya * yb, window) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * sigma_ab + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (sigma_a + sigma_b + c2)
    )
    return float(ssim_map.mean())
