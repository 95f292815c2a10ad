"""Image sets for the quality task: folders of HR images, or the embedded smoke set."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.image import list_images

# Images that scikit-image ships inside its wheel (no download on first use).
EMBEDDED_IMAGES = ("astronaut.png", "chelsea.png", "coffee.png", "camera.png", "rocket.jpg")


@dataclass(frozen=True)
class ImageSet:
    """A named list of HR image files."""

    name: str
    root: Path
    files: tuple[Path, ...]
    embedded: bool = False


def embedded_set() -> ImageSet:
    """Return the smoke set of photos shipped inside scikit-image (not a paper test set)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError("the embedded default needs scikit-image (pip install scikit-image)")
    root = Path(list(spec.submodule_search_locations)[0]) / "data"
    files = tuple(root / name for name in EMBEDDED_IMAGES if (root / name).exists())
    if not files:
        raise HarnessError(f"{root}: none of the embedded images {EMBEDDED_IMAGES} found")
    return ImageSet("skimage-smoke", root, files, embedded=True)


def folder_set(path: Path) -> ImageSet:
    """Return the image set of a folder of HR images (named after the folder)."""
    files = tuple(list_images(path))
    if not files:
        raise HarnessError(f"--data {path}: no images (.png, .jpg, .bmp, ...) in this folder")
    return ImageSet(Path(path).resolve().name, Path(path).resolve(), files)
