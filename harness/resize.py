"""MATLAB-compatible bicubic `imresize` (REFERENCE.md section 1), bit-exact on uint8 images.

MATLAB resizes one dimension at a time (the dimension with the smaller scale first, rows on ties),
antialiases when shrinking, mirrors out-of-range taps and rounds to uint8 after every pass. Each pass
here is a sparse (output x input) weight matrix applied to the image, built once per (length, scale).

Speed (benchmarks/resize.py): for x4, x1/4, x2, x1/2 every weight is a short binary fraction, so the
pass runs exactly in float32 and rounds in one OpenCV pass; other scales run in float64. Both equal the
plain per-pixel port in oracles/resize_oracle.py bit for bit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
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
    # Normalise by the sum taken tap by tap (np.sum adds long rows pairwise): with scales whose
    # weights are inexact (1/3, 1.5, ...) the last bit of a weight can decide a rounding tie.
    total = weights[:, 0].copy()
    for k in range(1, taps):
        total += weights[:, k]
    weights = weights / total[:, None]
    # Mirror out-of-range indices (current MATLAB): aux = [1..n, n..1].
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    indices = aux[np.mod(indices.astype(np.int64) - 1, aux.size)] - 1
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


# A float32 product is exact when every weight is a multiple of 2**-k and every partial sum stays
# within float32's 24-bit significand (see _AxisPlan).
_MAX_DYADIC_BITS = 16


@dataclass(frozen=True)
class _AxisPlan:
    """The weight matrix of one 1-D pass, and how to apply it exactly.

    When every weight is a multiple of 2**-k (k = `dyadic_bits`) and 256 * (max row sum of |w|) * 2**(k+2)
    <= 2**24, every product, every partial sum (in any order) and the sum plus 2**-(k+2) are exact in
    float32. That holds for the scales the benchmark uses (x4, x1/4, x2, x1/2: the cubic is sampled at
    multiples of 1/8 and the weights sum to exactly 1), and then the result equals the exact float64 sum
    whatever order BLAS-like code adds in. Otherwise the pass runs in float64, as MATLAB does.
    """

    matrix: sparse.csr_matrix
    dyadic_bits: int | None


@lru_cache(maxsize=64)
def _axis_plan(in_len: int, out_len: int, scale: float, antialias: bool) -> _AxisPlan:
    weights, indices = contributions(in_len, out_len, scale, antialias)
    taps = weights.shape[1]
    # One row per output pixel, its taps in MATLAB's order and mirrored duplicates kept apart: the
    # sparse product then accumulates each output pixel tap by tap, as MATLAB's loop does, which
    # matters only for the rare sums that land on a rounding tie.
    matrix = sparse.csr_matrix(
        (weights.ravel(), indices.ravel(), np.arange(0, out_len * taps + 1, taps)),
        shape=(out_len, in_len),
    )
    bits = _dyadic_bits(weights)
    if bits is not None:
        matrix = sparse.csr_matrix(
            (matrix.data.astype(np.float32), matrix.indices, matrix.indptr), shape=matrix.shape
        )
    return _AxisPlan(matrix, bits)


def _dyadic_bits(weights: np.ndarray) -> int | None:
    """Return the smallest k with every weight a multiple of 2**-k, if float32 sums are then exact."""
    row_abs_sum = float(np.abs(weights).sum(axis=1).max()) if weights.size else 0.0
    for k in range(_MAX_DYADIC_BITS + 1):
        scaled = weights * 2.0**k
        if np.array_equal(scaled, np.round(scaled)):
            return k if 256.0 * row_abs_sum * 2.0 ** (k + 2) <= 2.0**24 else None
    return None


def round_to_uint8(values: np.ndarray) -> np.ndarray:
    """Return `values` cast to uint8 as MATLAB does: clip to [0, 255], round half up."""
    return np.floor(np.clip(values, 0.0, 255.0) + 0.5).astype(np.uint8)


def _round_in_place(values: np.ndarray, dyadic_bits: int | None) -> np.ndarray:
    """Return round_to_uint8(values) for a 2-D float array; may overwrite `values`."""
    if dyadic_bits is not None:
        # Values are multiples of 2**-k: after adding 2**-(k+2) none lies on a half-integer, so
        # round-to-nearest (OpenCV's saturating cast, one pass) gives MATLAB's round-half-up.
        return cv2.add(values, 2.0 ** -(dyadic_bits + 2), dtype=cv2.CV_8U)
    np.clip(values, 0.0, 255.0, out=values)
    values += 0.5
    return values.astype(np.uint8)  # truncation is floor for these non-negative values


def _swap_rows_cols(img: np.ndarray) -> np.ndarray:
    """Return `img` (HxW or HxWxC) with its first two axes swapped, as a contiguous array."""
    shape = (img.shape[1], img.shape[0]) + img.shape[2:]
    if img.ndim == 2 or img.shape[2] <= 4:  # OpenCV's transpose keeps up to 4 channels together
        return cv2.transpose(np.ascontiguousarray(img)).reshape(shape)
    return np.ascontiguousarray(np.swapaxes(img, 0, 1))


def _resize_axis(img: np.ndarray, axis: int, out_len: int, scale: float, antialias: bool) -> np.ndarray:
    plan = _axis_plan(img.shape[axis], out_len, float(scale), antialias)
    src = _swap_rows_cols(img) if axis == 1 else np.ascontiguousarray(img)
    flat = src.reshape(src.shape[0], -1).astype(plan.matrix.dtype)
    out = _round_in_place(plan.matrix @ flat, plan.dyadic_bits).reshape((out_len,) + src.shape[1:])
    return _swap_rows_cols(out) if axis == 1 else out


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
