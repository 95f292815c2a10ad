"""MATLAB bicubic imresize: the fast version against the plain port and against hand computations.

The hand-computed values use the Keys cubic (a = -0.5) at the offsets MATLAB samples, e.g. for x2
upscaling the offsets are 1/4 and 3/4: cubic(1/4) = 111/128, cubic(3/4) = 29/128, cubic(5/4) = -9/128,
cubic(7/4) = -3/128. With a bright pixel of 192 on black, 192 * 111/128 = 166.5: MATLAB's uint8 cast
rounds half up (167), where round-half-to-even would give 166.
"""
import numpy as np
import pytest

from harness.errors import HarnessError
from harness.resize import imresize
from oracles import resize_oracle

SCALES = [0.25, 4, 1 / 3, 0.5, 2, 3, 0.7, 1.5]


def _random_image(rng, h, w, channels):
    shape = (h, w) if channels is None else (h, w, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize("scale", SCALES)
def test_fast_equals_plain_port_on_random_images(scale):
    rng = np.random.default_rng(int(scale * 1000))
    sizes = [(h, w) for h in (1, 2, 3, 5, 7) for w in (1, 4, 6)] + [(17, 23), (32, 31), (40, 9)]
    for h, w in sizes:
        img = _random_image(rng, h, w, [None, 1, 3, 4, 5][(h + w) % 5])
        want = resize_oracle.imresize(img, scale)
        got = imresize(img, scale)
        assert got.dtype == np.uint8 and got.shape == want.shape, (h, w)
        np.testing.assert_array_equal(got, want, err_msg=f"{img.shape} x{scale}")


def test_fast_equals_plain_port_with_output_shape():
    rng = np.random.default_rng(7)
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(1, 36, 2))
        out = tuple(int(v) for v in rng.integers(1, 60, 2))  # a different scale per axis
        img = _random_image(rng, h, w, 3)
        np.testing.assert_array_equal(imresize(img, output_shape=out),
                                      resize_oracle.imresize(img, output_shape=out), err_msg=f"{h}x{w}->{out}")


def test_fast_equals_plain_port_on_smooth_image_x4_down_and_up():
    # Smooth content makes many sums land near half-integers, where exactness matters.
    y, x = np.mgrid[0:96, 0:128]
    img = np.clip(128 + 100 * np.sin(x / 9.0)[..., None] * np.cos(y / 7.0)[..., None] * [1, 0.6, 0.3], 0, 255
                  ).astype(np.uint8)
    small = imresize(img, 0.25)
    np.testing.assert_array_equal(small, resize_oracle.imresize(img, 0.25))
    np.testing.assert_array_equal(imresize(small, 4), resize_oracle.imresize(small, 4))


def test_x4_up_single_bright_pixel_by_hand():
    # Row of 100s with 200 at 1-based column 5. For output column x, u = x/4 + 3/8 and the weight of
    # input 5 is cubic(u - 5); the others sum to 1 - that, so out = 100 + 100 * cubic(u - 5).
    # cubic at 1/8, 3/8, 5/8, 7/8 = 987/1024, 745/1024, 399/1024, 93/1024;
    # at 9/8, 11/8, 13/8, 15/8 = -49/1024, -75/1024, -45/1024, -7/1024.
    row = np.full((1, 9), 100, dtype=np.uint8)
    row[0, 4] = 200
    out = imresize(row, 4)
    assert out.shape == (4, 36)
    # x = 11..26 (1-based): d = -15/8 .. 15/8
    by_hand = [99.3164, 95.6055, 92.6758, 95.2148, 109.082, 138.965, 172.754, 196.387,
               196.387, 172.754, 138.965, 109.082, 95.2148, 92.6758, 95.6055, 99.3164]
    np.testing.assert_array_equal(out[0, 10:26], np.floor(np.array(by_hand) + 0.5))
    assert (out == out[0]).all()  # one input row: every output row is the same


def test_x2_up_rounds_ties_half_up():
    row = np.zeros((1, 9), dtype=np.uint8)
    row[0, 4] = 192
    out = imresize(row, 2)[0]
    # 1-based x: u = x/2 + 1/4; x = 9, 10 -> d = 1/4 (166.5); x = 8, 11 -> 3/4 (43.5); 7, 12 -> 5/4 (< 0)
    assert list(out[5:13]) == [0, 0, 44, 167, 167, 44, 0, 0]


def test_x2_up_mirrors_at_the_border():
    # Output x = 1: u = 3/4, taps i = -2..3; mirroring maps i = 0 to pixel 1 (d = 3/4, 29/128) and
    # i = -1 to pixel 2 (d = 7/4). Pixel 1 also gets i = 1 (111/128): 64 * 140/128 = 70.
    # Replicate padding would map i = -1 to pixel 1: 64 * 137/128 = 68.5 -> 69.
    row = np.zeros((1, 6), dtype=np.uint8)
    row[0, 0] = 64
    assert imresize(row, 2)[0, 0] == 70


def test_half_down_antialiased_by_hand():
    # x1/2 with antialiasing: kernel 0.5 * cubic(0.5 d), u = 2x - 1/2. Background 100, 228 at 1-based 8:
    # x = 3: d = -2.5 -> -9/256 * 128 = -4.5; x = 4: d = -0.5 -> 111/256 * 128 = 55.5;
    # x = 5: d = 1.5 -> 29/256 * 128 = 14.5; x = 6: d = 3.5 -> -3/256 * 128 = -1.5.
    row = np.full((1, 16), 100, dtype=np.uint8)
    row[0, 7] = 228
    assert list(imresize(row, 0.5)[0]) == [100, 100, 96, 156, 115, 99, 100, 100]


def test_quarter_down_antialiased_by_hand():
    # x1/4: kernel 0.25 * cubic(d / 4), u = 4x - 3/2. Background 100, 228 at 1-based 8, so
    # out = 100 + 128 * 0.25 * cubic((u - 8) / 4): x = 1..4 -> d = -5.5, -1.5, 2.5, 6.5 ->
    # cubic(11/8) = -75/1024, cubic(3/8) = 745/1024, cubic(5/8) = 399/1024, cubic(13/8) = -45/1024.
    row = np.full((1, 16), 100, dtype=np.uint8)
    row[0, 7] = 228
    by_hand = 100 + 128 * np.array([-75, 745, 399, -45]) / 4096  # 97.66, 123.28, 112.47, 98.59
    assert list(imresize(row, 0.25)[0]) == list(np.floor(by_hand + 0.5).astype(int)) == [98, 123, 112, 99]


def test_quarter_down_of_constant_is_constant():
    img = np.full((13, 21, 3), 77, dtype=np.uint8)
    out = imresize(img, 0.25)
    assert out.shape == (4, 6, 3) and (out == 77).all()


def test_output_size_is_ceil_of_scaled_size():
    assert imresize(np.zeros((7, 5, 3), np.uint8), 0.25).shape == (2, 2, 3)
    assert imresize(np.zeros((7, 5), np.uint8), 1 / 3).shape == (3, 2)


@pytest.mark.parametrize("kwargs", [{}, {"scale": 2, "output_shape": (4, 4)}, {"scale": 0},
                                    {"output_shape": (0, 4)}])
def test_bad_arguments_raise_harness_error(kwargs):
    with pytest.raises(HarnessError):
        imresize(np.zeros((4, 4, 3), np.uint8), **kwargs)


def test_non_uint8_input_raises_harness_error():
    with pytest.raises(HarnessError, match="uint8"):
        imresize(np.zeros((4, 4, 3), np.float32), 2)
