"""The embedded smoke set: words rendered with the DejaVu Sans font that matplotlib ships, then degraded.

It needs no download and checks that the task runs end to end; it is NOT ICDAR 2013 and its accuracy
says nothing about the paper's numbers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from harness.degrade import jpeg
from harness.errors import HarnessError
from tasks.icdar13.datasets import WordItem, WordSet

SMOKE_WORDS = ("HOTEL", "Coffee", "PARKING", "street", "OPEN", "Market", "BANK", "pizza", "EXIT", "Station",
               "CENTRAL", "books", "2024", "Pharmacy", "STOP", "garden", "MUSEUM", "Taxi", "bakery", "SALE",
               "Cinema", "POLICE", "river", "Hall")
SMOKE_NAME = "smoke-rendered-words"


def font_path() -> Path:
    """Return the path of DejaVuSans.ttf inside matplotlib's package data."""
    try:
        import matplotlib
    except ImportError:
        raise HarnessError("the embedded smoke set needs matplotlib (for its DejaVuSans.ttf font)") from None
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    if not path.is_file():
        raise HarnessError(f"{path}: font not found (matplotlib installation incomplete?)")
    return path


def render_word(text: str, rng: np.random.Generator, height: int = 32) -> np.ndarray:
    """Return `text` rendered dark-on-light (random colours and margins from `rng`) as HxWx3 uint8."""
    font = ImageFont.truetype(str(font_path()), size=int(height * 0.7))
    left, top, right, bottom = font.getbbox(text)
    margin = int(rng.integers(2, 6))
    background = tuple(int(v) for v in rng.integers(170, 256, 3))
    ink = tuple(int(v) for v in rng.integers(0, 80, 3))
    img = Image.new("RGB", (right - left + 2 * margin, bottom - top + 2 * margin), background)
    ImageDraw.Draw(img).text((margin - left, margin - top), text, font=font, fill=ink)
    return np.asarray(img, dtype=np.uint8).copy()


def degrade_word(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return `image` with mild Gaussian noise and a JPEG pass (quality 30..70)."""
    noisy = image.astype(np.float64) + rng.normal(0.0, 6.0, image.shape)
    noisy = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    return jpeg(noisy, int(rng.integers(30, 71)))


def smoke_set(seed: int = 0) -> WordSet:
    """Return the smoke set: the SMOKE_WORDS rendered and degraded with a fixed seed."""
    rng = np.random.default_rng(seed)
    items = []
    for i, word in enumerate(SMOKE_WORDS):
        image = degrade_word(render_word(word, rng, height=int(rng.integers(24, 48))), rng)
        items.append(WordItem(f"smoke_{i:02d}_{word}", word, image))
    return WordSet(SMOKE_NAME, font_path().parent, items, "smoke", embedded=True,
                   notes=["embedded smoke set: words rendered with matplotlib's DejaVu Sans, noise + JPEG; "
                          "NOT ICDAR 2013"])
