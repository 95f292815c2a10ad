"""Synthetic scene text for training patches: a random word drawn onto an HR image region.

A training config with `text: 0.3` draws a word onto 30% of its HR patches before they are degraded, so
that the restorer sees thin strokes of letters at the sizes where word crops are read (a word 16-72 HR px
high is 4-18 px high after x4 downscaling; most SVT/ICDAR word crops are 4-20 px high in LR). Nothing here
comes from a text test set: the words are random strings of letters and digits, the fonts are the
TrueType fonts that matplotlib ships (so every machine with the same matplotlib draws the same pixels), and
the backgrounds are the training images themselves.

    region = draw_word(region, rng)   # HxWx3 uint8 -> a copy with one word on it
    crop, word = word_crop(image, rng)   # a word crop cut from an image, as a text dev set holds (preproc.text_dev_set)
"""
from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from harness.errors import HarnessError

# Text fonts among matplotlib's (math and symbol fonts such as cmex10, cmsy10 and STIXSiz* have no letters).
FONT_NAMES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
              "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
              "DejaVuSerif-Italic.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf",
              "cmr10.ttf", "cmss10.ttf", "cmb10.ttf", "cmtt10.ttf")
HEIGHT_PX = (16, 72)  # HR font size range (px)
LENGTH = (2, 10)  # characters per word
CASES = ("lower", "upper", "title")
CROP_FONT_PX = (24, 80)  # font sizes of word crops: about SVT's word heights (median 48 px, most 28-94)
MIN_CONTRAST = 60  # least difference in luma (0-255) between the letters and what they are drawn on


@lru_cache(maxsize=None)
def font_paths() -> tuple[Path, ...]:
    """Return the font files used, in FONT_NAMES order (those this matplotlib does not ship are left out)."""
    import matplotlib
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return tuple(folder / name for name in FONT_NAMES if (folder / name).is_file())


@lru_cache(maxsize=256)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def random_word(rng: np.random.Generator) -> str:
    """Return a random word: letters in one case (lower, UPPER or Title), now and then digits."""
    n = int(rng.integers(LENGTH[0], LENGTH[1] + 1))
    if rng.random() < 0.1:
        return "".join(rng.choice(list(string.digits), n))
    word = "".join(rng.choice(list(string.ascii_lowercase), n))
    case = CASES[int(rng.integers(len(CASES)))]
    return word.upper() if case == "upper" else word.title() if case == "title" else word


def _luma(rgb) -> float:
    r, g, b = (float(c) for c in rgb)
    return 0.299 * r + 0.587 * g + 0.114 * b


def _contrasting_colour(background: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
    """Return a random RGB colour whose luma differs from `background`'s by at least MIN_CONTRAST."""
    base = _luma(background)
    for _ in range(20):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if abs(_luma(colour) - base) >= MIN_CONTRAST:
            return colour
    return (0, 0, 0) if base >= 128 else (255, 255, 255)


def draw_word(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return a copy of the HxWx3 uint8 `region` with one random word drawn on it.

    The word's size is drawn from HEIGHT_PX, its font from `font_paths()`, its position so that it starts
    inside the region (long words run off its right edge, as words do in a crop); a third of the words sit
    on a plain box (a sign), a fifth have an outline; the colours contrast with what is under them.
    """
    image = Image.fromarray(np.ascontiguousarray(region))
    draw = ImageDraw.Draw(image)
    fonts = font_paths()
    font = _font(fonts[int(rng.integers(len(fonts)))], int(rng.integers(HEIGHT_PX[0], HEIGHT_PX[1] + 1)))
    word = random_word(rng)
    left, top, right, bottom = draw.textbbox((0, 0), word, font=font)
    h, w = region.shape[:2]
    x = int(rng.integers(0, max(1, w - (right - left)))) - left
    y = int(rng.integers(0, max(1, h - (bottom - top)))) - top
    box = (x + left, y + top, x + right, y + bottom)
    background = region.reshape(-1, 3).mean(axis=0)
    if rng.random() < 1 / 3:
        pad = max(2, (bottom - top) // 4)
        background = np.array(_contrasting_colour(background, rng))
        draw.rectangle((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), fill=tuple(int(c) for c in background))
    colour = _contrasting_colour(background, rng)
    stroke = {}
    if rng.random() < 0.2:
        stroke = {"stroke_width": max(1, font.size // 16), "stroke_fill": _contrasting_colour(np.array(colour), rng)}
    draw.text((x, y), word, fill=colour, font=font, **stroke)
    return np.asarray(image).copy()


def word_crop(image: np.ndarray, rng: np.random.Generator, font_px: tuple[int, int] = CROP_FONT_PX,
              tries: int = 20) -> tuple[np.ndarray, str]:
    """Return (crop, word): a random word (3 or more characters) drawn on a region of `image` that holds it
    with a margin of 2-9 px, as word crops are cut around a word's box.

    Half of the words sit on a plain box filling the crop (a sign), the others on the image itself; the
    letters contrast with what is under them. If the drawn word does not fit in `image`, another font size
    is drawn, up to `tries` times (then HarnessError).
    """
    fonts = font_paths()
    h, w = image.shape[:2]
    for _ in range(tries):
        word = random_word(rng)
        while len(word) < 3:
            word = random_word(rng)
        font = _font(fonts[int(rng.integers(len(fonts)))], int(rng.integers(font_px[0], font_px[1] + 1)))
        left, top, right, bottom = font.getbbox(word)
        mx, my = (int(m) for m in rng.integers(2, 10, 2))
        cw, ch = right - left + 2 * mx, bottom - top + 2 * my
        if cw <= w and ch <= h:
            break
    else:
        raise HarnessError(f"an image of {w}x{h} px is too small for word crops of {font_px[0]}-{font_px[1]} px fonts")
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = Image.fromarray(np.ascontiguousarray(image[y:y + ch, x:x + cw]))
    draw = ImageDraw.Draw(crop)
    background = np.asarray(crop).reshape(-1, 3).mean(axis=0)
    if rng.random() < 0.5:
        background = np.array(_contrasting_colour(background, rng))
        draw.rectangle((0, 0, cw, ch), fill=tuple(int(c) for c in background))
    draw.text((mx - left, my - top), word, fill=_contrasting_colour(background, rng), font=font)
    return np.asarray(crop).copy(), word
