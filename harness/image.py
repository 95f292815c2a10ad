"""The image contract: every image between modules is an HxWx3 uint8 RGB numpy array."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from harness.errors import HarnessError, ImageLoadError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def to_rgb_uint8(img: Image.Image) -> np.ndarray:
    """Return the pixels of a PIL image as HxWx3 uint8 RGB (no EXIF orientation applied)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit integer) grayscale: scale the full range to 8 bits with rounding.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.floor(np.clip(arr / top * 255.0, 0, 255) + 0.5).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        gray = np.floor(np.clip(arr, 0, 255) + 0.5).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("L", "1"):
        gray = np.asarray(img.convert("L"), dtype=np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    # RGBA drops alpha; P, LA, CMYK, YCbCr, RGB;16 etc. go through Pillow's conversion.
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Return the image at `path` as HxWx3 uint8 RGB; raise ImageLoadError naming the file."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            arr = to_rgb_uint8(img)
    except FileNotFoundError:
        raise ImageLoadError(f"{path}: file not found") from None
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{path}: image too large to read safely ({exc})") from None
    except MemoryError:
        raise ImageLoadError(f"{path}: image too large for this machine's memory") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{path}: cannot read image ({exc})") from None
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageLoadError(f"{path}: unexpected image shape {arr.shape}")
    return arr


def check_image(img: np.ndarray, what: str = "image") -> np.ndarray:
    """Return `img` if it obeys the contract (HxWx3 uint8), else raise HarnessError saying why."""
    if not isinstance(img, np.ndarray):
        raise HarnessError(f"{what}: expected a numpy array, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise HarnessError(f"{what}: expected dtype uint8, got {img.dtype}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise HarnessError(f"{what}: expected shape HxWx3, got {img.shape}")
    return img


def save_image(path: str | os.PathLike, img: np.ndarray) -> None:
    """Write an HxWx3 uint8 image losslessly (format from the suffix), atomically."""
    from harness.store import atomic_write_bytes
    import io

    path = Path(path)
    buf = io.BytesIO()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower(), "PNG")
    Image.fromarray(check_image(img)).save(buf, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    atomic_write_bytes(path, buf.getvalue())


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Return the image files directly inside `folder`, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HarnessError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
