"""The report's pictures: Fig. 6-style PR panels, Fig. 3-style image grids, word strips, face detections.

Each function draws from data already read (arrays, stored crops, stored boxes) and writes one PNG or
JPEG atomically. Matplotlib runs headless (Agg).
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np

from harness.image import load_image
from harness.store import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@lru_cache(maxsize=1)
def _font_codepoints() -> frozenset[int]:
    """Return the characters matplotlib's default font can draw."""
    from matplotlib import font_manager, ft2font
    return frozenset(ft2font.FT2Font(font_manager.findfont(font_manager.FontProperties())).get_charmap())


def drawable(text: str) -> str:
    """Return `text` with each character the figures' font cannot draw (e.g. a CJK character that a
    recogniser read) as U+FFFD, instead of an empty box and a matplotlib warning per glyph."""
    known = _font_codepoints()
    return "".join(c if ord(c) in known or c.isspace() else "\N{REPLACEMENT CHARACTER}" for c in text)


def _save(fig, path: Path, dpi: int = 100) -> Path:
    plt = _pyplot()
    buf = io.BytesIO()
    fmt = "jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "png"
    fig.savefig(buf, format=fmt, dpi=dpi, **({"pil_kwargs": {"quality": 85}} if fmt == "jpeg" else {}))
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def pr_panels(curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray, float]]], path: Path,
              title: str = "") -> Path:
    """Write one panel per setting ({setting: {condition: (recall, precision, AP)}}), one curve per condition."""
    plt = _pyplot()
    settings = list(curves)
    fig, axes = plt.subplots(1, len(settings), figsize=(4.2 * len(settings), 4.0), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        for condition, (recall, precision, ap) in curves[setting].items():
            ax.plot(recall, precision, lw=2, label=f"{condition} ({ap:.3f})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
        ax.set_title(setting.capitalize())
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _nearest(image: np.ndarray, factor: int) -> np.ndarray:
    return image if factor == 1 else np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def image_grid(rows: list[list[tuple[str, Path, str | None, int]]], path: Path) -> Path:
    """Write a grid of tiles; each tile is (title, image file, caption or None, nearest upscale factor)."""
    plt = _pyplot()
    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(1.9 * ncols, 2.25 * len(rows)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for row_axes, tiles in zip(axes, rows):
        for ax, (title, image_path, caption, factor) in zip(row_axes, tiles):
            ax.imshow(_nearest(load_image(image_path), factor), interpolation="nearest")
            ax.set_title(title, fontsize=8)
            if caption:
                ax.text(0.5, -0.04, caption, transform=ax.transAxes, ha="center", va="top", fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def word_strip(words: list[dict], path: Path, columns: int = 4) -> Path:
    """Write word crops in a grid; each word is {image (array), title, caption} (e.g. label, predictions)."""
    plt = _pyplot()
    columns = max(1, min(columns, len(words)))
    nrows = max(1, -(-len(words) // columns))
    fig, axes = plt.subplots(nrows, columns, figsize=(2.6 * columns, 1.45 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, word in zip(axes.ravel(), words):
        ax.imshow(word["image"], interpolation="nearest")
        ax.set_title(drawable(word["title"]), fontsize=8, color=word.get("color", "black"))
        ax.text(0.5, -0.06, drawable(word["caption"]), transform=ax.transAxes, ha="center", va="top", fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


DETECTION_COLUMNS = 3     # panels per row of the detection figure
DETECTION_PANEL_IN = 4.6  # inches per panel: about 500 px at the figure's 110 dpi, faces stay visible


def detections(image: np.ndarray, panels: dict[str, np.ndarray], ground_truth: np.ndarray, path: Path,
               threshold: float) -> Path:
    """Write one panel per condition: the image, ground-truth boxes (green) and that condition's boxes
    (x, y, w, h, score rows) with score >= `threshold` (red)."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    n = len(panels)
    height, width = image.shape[:2]
    columns = max(1, min(n, DETECTION_COLUMNS))
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, squeeze=False, figsize=(
        DETECTION_PANEL_IN * columns, rows * (DETECTION_PANEL_IN * height / width + 0.6)))
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (name, boxes) in zip(axes.flat, panels.items()):
        ax.imshow(image)
        ax.axis("off")
        for x, y, w, h in ground_truth[:, :4]:
            ax.add_patch(Rectangle((x, y), w, h, fill=False, lw=0.8, ec="lime"))
        kept = boxes[boxes[:, 4] >= threshold] if len(boxes) else boxes
        for x, y, w, h, _ in kept:
            ax.add_patch(Rectangle((x, y), w, h, fill=False, lw=1.0, ec="red"))
        ax.set_title(f"{name}\n{len(kept)} detections", fontsize=9)   # a long name on its own line
    fig.tight_layout()
    return _save(fig, path, dpi=110)
