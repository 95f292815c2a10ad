"""The image contract: every loader output is HxWx3 uint8 RGB; bad files raise naming the file."""
import numpy as np
import pytest
from PIL import Image

from harness.errors import ImageLoadError
from harness.image import check_image, load_image, save_image


def _roundtrip(tmp_path, pil_img, name="x.png"):
    path = tmp_path / name
    pil_img.save(path)
    return load_image(path)


def test_rgb_loads_unchanged(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = _roundtrip(tmp_path, Image.fromarray(arr))
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, arr)


def test_grayscale_is_replicated(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = _roundtrip(tmp_path, Image.fromarray(gray))
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_rgba_drops_alpha(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 10, 20, 30, 0
    out = _roundtrip(tmp_path, Image.fromarray(rgba))
    np.testing.assert_array_equal(out[0, 0], [10, 20, 30])


def test_palette_is_expanded(tmp_path):
    img = Image.new("P", (3, 2))
    img.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    img.putpixel((1, 0), 1)
    out = _roundtrip(tmp_path, img)
    np.testing.assert_array_equal(out[0, 1], [200, 100, 50])
    np.testing.assert_array_equal(out[0, 0], [0, 0, 0])


def test_16bit_is_scaled_to_8bit(tmp_path):
    arr = np.array([[0, 65535], [257 * 128, 257 * 3]], dtype=np.uint16)
    out = _roundtrip(tmp_path, Image.fromarray(arr))
    # 65535 -> 255, 257*k -> k exactly (257 = 65535 / 255)
    np.testing.assert_array_equal(out[..., 0], [[0, 255], [128, 3]])


def test_exif_orientation_not_applied(tmp_path):
    arr = np.zeros((2, 4, 3), dtype=np.uint8)
    arr[0, 0] = 255
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW" when displayed
    path = tmp_path / "o.jpg"
    img.save(path, exif=exif, quality=100)
    assert load_image(path).shape == (2, 4, 3)


def test_corrupt_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ImageLoadError, match="broken.png"):
        load_image(bad)
    with pytest.raises(ImageLoadError, match="missing.png"):
        load_image(tmp_path / "missing.png")


def test_save_then_load_is_lossless(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    save_image(tmp_path / "a.png", arr)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), arr)
    with pytest.raises(Exception):
        check_image(arr.astype(np.float32))


def test_decompression_bomb_is_an_image_error(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)   # 10,000 pixels > 2 x the limit: Pillow refuses
    with pytest.raises(ImageLoadError, match="huge.png: image too large to read safely"):
        load_image(path)
