"""The plain NumPy port of MATLAB `imresize(img, scale, 'bicubic')`: the test oracle for harness.resize.

Written the way BasicSR's `imresize` (basicsr/utils/matlab_functions.py) is written: per axis, compute
for every output pixel its weights and input indices, then loop over output pixels, gather the input
lines and sum them weighted, in float64, tap by tap in order. It differs from BasicSR where REFERENCE.md section 1 says
MATLAB differs: out-of-range taps are mirrored (aux = [1..n, n..1]), and the result is rounded to uint8
after each 1-D pass (BasicSR rounds once at the end). It shares no code with harness/resize.py.
"""
from __future__ import annotations

import math

import numpy as np


def _cubic(x: np.ndarray) -> np.ndarray:
    # Powers as products (x**3 may call libm's pow, which can differ in the last bit).
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


def weights_indices(in_len: int, out_len: int, scale: float, antialias: bool = True):
    """Return (weights, indices), out_len x taps, 0-based mirrored indices (BasicSR's layout)."""
    shrink = scale < 1 and antialias
    width = 4.0 / scale if shrink else 4.0
    x = np.linspace(1, out_len, out_len)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    p = int(math.ceil(width)) + 2
    indices = left.reshape(out_len, 1) + np.linspace(0, p - 1, p).reshape(1, p)
    distance = u.reshape(out_len, 1) - indices
    weights = scale * _cubic(scale * distance) if shrink else _cubic(distance)
    # Sum tap by tap (np.sum adds long rows pairwise); the last bit of a weight can decide a tie.
    weights_sum = np.zeros(out_len)
    for k in range(p):
        weights_sum = weights_sum + weights[:, k]
    weights = weights / weights_sum.reshape(out_len, 1)
    # MATLAB drops a tap column only if it is zero for every output pixel.
    keep = np.any(weights != 0, axis=0)
    weights, indices = weights[:, keep], indices[:, keep].astype(np.int64)
    # 1-based index i -> aux[(i - 1) mod 2n] with aux = [1..n, n..1]; returned 0-based.
    m = (indices - 1) % (2 * in_len)
    return weights, np.where(m < in_len, m, 2 * in_len - 1 - m)


def resize_axis(img: np.ndarray, axis: int, out_len: int, scale: float, antialias: bool = True,
                tap_by_tap: bool = True) -> np.ndarray:
    """Return `img` resized along `axis` to `out_len`, rounded to uint8 as MATLAB's cast does.

    `tap_by_tap=False` sums each output pixel with one BLAS dot, exactly as BasicSR does; the default
    adds tap by tap in order, as MATLAB's loop does (a dot may add in another order, which changes the
    rounding of the rare sums that land on a tie such as 207.5 at scale 1.5).
    """
    src = np.moveaxis(img, axis, 0).astype(np.float64)
    out = np.empty((out_len,) + src.shape[1:], dtype=np.float64)
    weights, indices = weights_indices(src.shape[0], out_len, scale, antialias)
    for i in range(out_len):
        gathered = src[indices[i]]
        if not tap_by_tap:
            out[i] = np.tensordot(weights[i], gathered, axes=(0, 0))
            continue
        acc = weights[i, 0] * gathered[0]
        for k in range(1, len(weights[i])):
            acc = acc + weights[i, k] * gathered[k]
        out[i] = acc
    out = np.floor(np.clip(out, 0, 255) + 0.5).astype(np.uint8)
    return np.moveaxis(out, 0, axis)


def imresize(img: np.ndarray, scale: float | None = None, output_shape=None, antialias: bool = True,
             tap_by_tap: bool = True) -> np.ndarray:
    """Return uint8 `img` (HxW or HxWxC) resized like MATLAB bicubic: smaller scale first, rows on ties."""
    in_shape = img.shape[:2]
    if scale is not None:
        scales = [float(scale)] * 2
        out_shape = [int(math.ceil(n * scale)) for n in in_shape]
    else:
        out_shape = list(output_shape)
        scales = [o / i for o, i in zip(out_shape, in_shape)]
    order = [0, 1] if scales[0] <= scales[1] else [1, 0]
    out = img
    for axis in order:
        if scales[axis] == 1.0 and out_shape[axis] == in_shape[axis]:
            continue
        out = resize_axis(out, axis, out_shape[axis], scales[axis], antialias, tap_by_tap)
    return np.ascontiguousarray(out)
