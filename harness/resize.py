"""MATLAB-compatible bicubic `imresize` (REFERENCE.md section 1), bit-exact on uint8 images.

MATLAB resizes one dimension at a time (the dimension with the smaller scale first, rows on ties),
antialiases when shrinking, mirrors out-of-range taps and rounds to uint8 after every pass. Each pass
here is a sparse (output x input) weight matrix applied to the image, built once per (length, scale).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import sparse

from harness.errors import HarnessError

KERNEL_WIDTH = 4.0


def cubic(x: np.ndarray) -> np.ndarray:
    """Return the Keys cubic kernel (a = -0.5) evaluated at `x`."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    return (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1) + (
        -0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0
    ) * ((absx > 1) & (absx <= 2))


def contributions(in_len: int, out_len: int, scale: float, antialias: bool = True):
    """Return (weights, indices), each out_len x taps, as MATLAB's `contributions` (0-based indices)."""
    if scale < 1 and antialias:
        kernel_width = KERNEL_WIDTH / scale

        def kernel(x):
            return scale * cubic(scale * x)
    else:
        kernel_width = KERNEL_WIDTH
        kernel = cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Mirror out-of-range indices (current MATLAB): aux = [1..n, n..1].
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    indices = aux[np.mod(indices.astype(np.int64) - 1, aux.size)] - 1
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


@lru_cache(maxsize=64)
def _weight_matrix(in_len: int, out_len: int, scale: float, antialias: bool) -> sparse.csr_matrix:
    weights, indices = contributions(in_len, out_len, scale, antialias)
    rows = np.repeat(np.arange(out_len), weights.shape[1])
    # Duplicate (row, index) pairs from mirroring are summed, as the per-tap sum would be.
    return sparse.csr_matrix(
        (weights.ravel(), (rows, indices.ravel())), shape=(out_len, in_len), dtype=np.float64
    )


def round_to_uint8(values: np.ndarray) -> np.ndarray:
    """Return `values` cast to uint8 as MATLAB does: clip to [0, 255], round half up."""
    return np.floor(np.clip(values, 0.0, 255.0) + 0.5).astype(np.uint8)


def _resize_axis(img: np.ndarray, axis: int, out_len: int, scale: float, antialias: bool) -> np.ndarray:
    matrix = _weight_matrix(img.shape[axis], out_len, float(scale), antialias)
    moved = np.moveaxis(img, axis, 0)
    flat = moved.reshape(moved.shape[0], -1).astype(np.float64)
    out = round_to_uint8(matrix @ flat).reshape((out_len,) + moved.shape[1:])
    return np.ascontiguousarray(np.moveaxis(out, 0, axis))


def imresize(
    img: np.ndarray,
    scale: float | None = None,
    output_shape: tuple[int, int] | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """Return `img` (HxW or HxWxC uint8) resized like MATLAB `imresize(img, scale, 'bicubic')`.

    Give either `scale` (output length `ceil(len * scale)`) or `output_shape` (rows, cols), in which case
    each dimension uses its own scale `out / in`, as MATLAB does.
    """
    if img.dtype != np.uint8:
        raise HarnessError(f"imresize expects uint8 input, got {img.dtype}")
    if (scale is None) == (output_shape is None):
        raise HarnessError("imresize needs exactly one of scale and output_shape")
    in_shape = img.shape[:2]
    if scale is not None:
        if not scale > 0:
            raise HarnessError(f"imresize scale must be positive, got {scale}")
        scales = (float(scale), float(scale))
        out_shape = tuple(int(math.ceil(n * scale)) for n in in_shape)
    else:
        out_shape = tuple(int(n) for n in output_shape)
        if min(out_shape) <= 0:
            raise HarnessError(f"imresize output_shape must be positive, got {output_shape}")
        scales = tuple(o / i for o, i in zip(out_shape, in_shape))
    # MATLAB's dimension order: smaller scale first, rows first on ties (a stable sort).
    order = sorted(range(2), key=lambda d: scales[d])
    out = img
    for axis in order:
        if out_shape[axis] == in_shape[axis] and scales[axis] == 1.0:
            continue
        out = _resize_axis(out, axis, out_shape[axis], scales[axis], antialias)
    return out
