"""The degradation that makes the network input: modcrop, MATLAB bicubic x1/s, JPEG at a quality.

One function, `degrade`, is used by evaluation and by training (REFERENCE.md section 1).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from harness.errors import HarnessError
from harness.resize import imresize


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Return `img` cropped from the top-left to a multiple of `scale` in height and width."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Return `img` after a libjpeg encode at `quality` (baseline tables, 4:2:0) and decode."""
    if not 1 <= int(quality) <= 100:
        raise HarnessError(f"JPEG quality must be in 1..100, got {quality}")
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=int(quality), subsampling=2)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.ascontiguousarray(np.asarray(decoded.convert("RGB"), dtype=np.uint8))


@dataclass(frozen=True)
class Degradation:
    """A degradation setting: downscale factor and JPEG quality (None = no JPEG)."""

    scale: int = 4
    quality: int | None = None

    @property
    def tag(self) -> str:
        """Return a short name like `x4_q20` (or `x4` without JPEG)."""
        return f"x{self.scale}" + (f"_q{self.quality}" if self.quality is not None else "")


def degrade(hr: np.ndarray, scale: int = 4, quality: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (modcropped HR, LR) where LR = JPEG_quality(imresize(HR, 1/scale)).

    The HR image is modcropped to a multiple of `scale` first; `quality=None` skips JPEG.
    """
    hr = modcrop(hr, scale)
    if hr.shape[0] == 0 or hr.shape[1] == 0:
        raise HarnessError(f"image of shape {hr.shape} is smaller than the scale factor {scale}")
    lr = imresize(hr, 1.0 / scale)
    if quality is not None:
        lr = jpeg(lr, quality)
    return hr, lr


def parse_degradation(text: str) -> Degradation:
    """Return the Degradation named by text like `x4,q20`, `x4` or `q10` (scale 4 by default)."""
    scale, quality = 4, None
    for part in filter(None, (p.strip() for p in text.lower().split(","))):
        try:
            if part.startswith("x"):
                scale = int(part[1:])
            elif part.startswith("q"):
                quality = int(part[1:])
            else:
                raise ValueError
        except ValueError:
            raise HarnessError(f"bad degradation {text!r}: expected e.g. 'x4,q20'") from None
    if scale < 1 or (quality is not None and not 1 <= quality <= 100):
        raise HarnessError(f"bad degradation {text!r}: scale >= 1 and quality in 1..100")
    return Degradation(scale, quality)


def parse_degradations(texts: list[str] | None) -> list[Degradation] | None:
    """Return the Degradations of a `--degrade` list (duplicates dropped, order kept), or None."""
    if not texts:
        return None
    return list(dict.fromkeys(parse_degradation(t) for t in texts))
