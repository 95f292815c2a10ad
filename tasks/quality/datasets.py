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


def folder_set(path: Path, name: str | None = None) -> ImageSet:
    """Return the image set of a folder of HR images (named after the folder, or `name`)."""
    files = tuple(list_images(path))
    if not files:
        raise HarnessError(f"--data {path}: no images (.png, .jpg, .bmp, ...) in this folder")
    return ImageSet(name or Path(path).resolve().name, Path(path).resolve(), files)


def unique_names(paths: list[Path]) -> list[str]:
    """Return short names for folders: the folder's own name, with as many parent names as it takes
    (joined by "-") to tell apart folders of the same name (Set5/HR, Set14/HR -> Set5-HR, Set14-HR)."""
    parts = [Path(p).resolve().parts for p in paths]
    depth = [1] * len(parts)
    while True:
        names = ["-".join(p[-d:]) for p, d in zip(parts, depth)]
        clashes = {n for n in names if names.count(n) > 1}
        grow = [i for i, n in enumerate(names) if n in clashes and depth[i] < len(parts[i])]
        if not grow:
            return names
        for i in grow:
            depth[i] += 1


def folder_sets(paths: list[Path]) -> list[ImageSet]:
    """Return the image sets of several folders, each named uniquely; the same folder twice is an error."""
    roots = [Path(p).resolve() for p in paths]
    for i, root in enumerate(roots):
        if root in roots[:i]:
            raise HarnessError(f"--data {paths[i]}: the same folder is given twice")
    return [folder_set(p, name) for p, name in zip(paths, unique_names(paths))]
