"""WIDER FACE in its official layout, and the embedded smoke set built from photos a package ships.

Layout (REFERENCE.md 4.1): `WIDER_val/images/<event>/<name>.jpg`,
`wider_face_split/wider_face_val_bbx_gt.txt` (name line, count line, then `x y w h blur expression
illumination invalid occlusion pose` per face; a count of 0 is followed by one dummy line), and
optionally `eval_tools/ground_truth/wider_{face,easy,medium,hard}_val.mat` (the evaluation ground truth).
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from tasks.widerface.groundtruth import GroundTruth, ground_truth_from_boxes, load_ground_truth, write_ground_truth

GT_TEXT = Path("wider_face_split") / "wider_face_val_bbx_gt.txt"
IMAGES = Path("WIDER_val") / "images"
SMOKE_NOTE = ("embedded smoke set (skimage astronaut + LFW-subset faces tiled; every face kept in every "
              "setting): a check that the pipeline runs, not WIDER FACE")


@dataclass(frozen=True)
class WiderImage:
    """One annotated image: `name` is `<event>/<file name without .jpg>`."""

    name: str
    path: Path
    boxes: np.ndarray          # (n, 4) int x, y, w, h
    attributes: np.ndarray     # (n, 6) int blur expression illumination invalid occlusion pose


@dataclass
class WiderDataset:
    """The images of a WIDER-format folder that are present on disk, and the evaluation ground truth."""

    root: Path
    images: list[WiderImage]          # present images, sorted by name
    num_annotated: int                # images in the annotation file
    ground_truth: GroundTruth      # over all annotated images
    embedded: bool = False

    @property
    def label(self) -> str:
        return SMOKE_NOTE if self.embedded else f"WIDER FACE val ({self.root})"


def parse_annotations(path: str | os.PathLike) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Return [(`event/name.jpg`, boxes (n, 4), attributes (n, 6))] from a `*_bbx_gt.txt` file.

    Tolerates zero-face entries (count 0, then one dummy line); raises HarnessError naming the line of
    anything malformed.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read ({exc})") from None
    out, i = [], 0
    while i < len(lines):
        name = lines[i].strip()
        if not name:
            i += 1
            continue
        if not name.lower().endswith((".jpg", ".jpeg", ".png")) or name.count("/") != 1:
            raise HarnessError(f"{path}: line {i + 1}: expected '<event>/<name>.jpg', got {name[:60]!r}")
        if i + 1 >= len(lines):
            raise HarnessError(f"{path}: line {i + 2}: missing the face count of {name}")
        try:
            count = int(lines[i + 1].strip())
        except ValueError:
            raise HarnessError(f"{path}: line {i + 2}: expected the face count of {name}, "
                               f"got {lines[i + 1].strip()[:40]!r}") from None
        if count < 0:
            raise HarnessError(f"{path}: line {i + 2}: negative face count {count}")
        rows = max(count, 1)  # a zero-face image is followed by one dummy line
        if i + 2 + rows > len(lines):
            raise HarnessError(f"{path}: line {len(lines) + 1}: file ends inside the faces of {name}")
        values = np.zeros((count, 10), dtype=np.int64)
        for k in range(rows):
            parts = lines[i + 2 + k].split()
            try:
                numbers = [int(v) for v in parts]
            except ValueError:
                raise HarnessError(f"{path}: line {i + 3 + k}: expected 10 integers, "
                                   f"got {lines[i + 2 + k].strip()[:60]!r}") from None
            if len(numbers) < 4 or (count > 0 and len(numbers) != 10):
                raise HarnessError(f"{path}: line {i + 3 + k}: expected 10 integers (x y w h and 6 "
                                   f"attributes), got {len(numbers)}")
            if count > 0:
                values[k] = numbers
        out.append((name, values[:, :4], values[:, 4:]))
        i += 2 + rows
    return out


def load_dataset(root: str | os.PathLike) -> WiderDataset:
    """Return the WIDER FACE dataset at `root` (official layout); only images on disk are listed.

    The evaluation ground truth comes from `eval_tools/ground_truth/*.mat` when present (the official
    easy/medium/hard settings), else from the text annotations with every face kept in every setting.
    """
    root = Path(root)
    gt_text = root / GT_TEXT
    if not gt_text.is_file():
        raise HarnessError(f"--data {root}: no {GT_TEXT} (expected the official WIDER FACE layout: "
                           f"{IMAGES}/<event>/<name>.jpg and {GT_TEXT})")
    annotations = parse_annotations(gt_text)
    images = []
    for name, boxes, attributes in annotations:
        path = root / IMAGES / name
        if path.exists():
            images.append(WiderImage(name.rsplit(".", 1)[0], path, boxes, attributes))
    if not images:
        raise HarnessError(f"--data {root}: none of the {len(annotations)} annotated images is under {IMAGES}")
    images.sort(key=lambda im: im.name)
    try:
        gt = load_ground_truth(root)
        missing = [im.name for im in images if im.name not in set(gt.names)]
        if missing:
            raise HarnessError(f"{gt.source}: image {missing[0]} is not in the evaluation ground truth")
    except HarnessError as exc:
        if "no wider_face_val.mat" not in str(exc):
            raise
        gt = ground_truth_from_boxes([n.rsplit(".", 1)[0] for n, _, _ in annotations],
                                        [b for _, b, _ in annotations], source=str(gt_text),
                                        note="no official .mat: every face kept in every setting")
    return WiderDataset(root, images, len(annotations), gt)


# ----------------------------------------------------------------------------------------------
# the embedded smoke set


def _skimage_data_dir() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError("the embedded default needs scikit-image (pip install scikit-image)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


# Eileen Collins' face in skimage's astronaut.png (512x512), x y w h, labelled by hand.
ASTRONAUT_FACE = (180, 70, 80, 100)
LFW_TILE = 80        # each 25x25 LFW face is upscaled to this size (bicubic) in the tiled image
LFW_FACES = 12       # faces tiled (a 4x3 grid)


def build_smoke_set(folder: str | os.PathLike) -> Path:
    """Write a small WIDER-format set into `folder` and return it: skimage's astronaut photo (one face)
    and a grid of LFW-subset faces, both shipped inside scikit-image (no download)."""
    from PIL import Image

    from harness.image import load_image, save_image

    folder = Path(folder)
    data = _skimage_data_dir()
    astronaut = load_image(data / "astronaut.png")
    lfw_path = data / "lfw_subset.npy"
    if not lfw_path.is_file():
        raise HarnessError(f"{lfw_path}: missing from scikit-image")
    faces = np.load(lfw_path)[:LFW_FACES]             # (n, 25, 25) float in [0, 1], faces first
    pad, cols = 40, 4
    rows = (len(faces) + cols - 1) // cols
    grid = np.full((rows * (LFW_TILE + pad) + pad, cols * (LFW_TILE + pad) + pad, 3), 118, np.uint8)
    lfw_boxes = []
    for k, face in enumerate(faces):
        tile = Image.fromarray(np.clip(face * 255 + 0.5, 0, 255).astype(np.uint8)).resize(
            (LFW_TILE, LFW_TILE), Image.BICUBIC)
        y, x = pad + (k // cols) * (LFW_TILE + pad), pad + (k % cols) * (LFW_TILE + pad)
        grid[y:y + LFW_TILE, x:x + LFW_TILE] = np.asarray(tile)[:, :, None]
        lfw_boxes.append((x, y, LFW_TILE, LFW_TILE))
    entries = [("0--Smoke/astronaut", astronaut, [ASTRONAUT_FACE]), ("1--Smoke/lfw_grid", grid, lfw_boxes)]
    lines = []
    for name, image, boxes in entries:
        save_image(folder / IMAGES / (name + ".jpg"), image)
        lines += [name + ".jpg", str(len(boxes))] + [f"{x} {y} {w} {h} 0 0 0 0 0 0" for x, y, w, h in boxes]
    (folder / GT_TEXT).parent.mkdir(parents=True, exist_ok=True)
    (folder / GT_TEXT).write_text("\n".join(lines) + "\n")
    # the evaluation ground truth as the official .mat files, so submissions re-score with any tool
    write_ground_truth(folder / "eval_tools" / "ground_truth", ground_truth_from_boxes(
        [n for n, _, _ in entries], [np.array(b) for _, _, b in entries], note=SMOKE_NOTE))
    (folder / "README.md").write_text(f"# Smoke set\n\n{SMOKE_NOTE}.\n")   # last: marks it complete
    return folder


def smoke_dataset(folder: str | os.PathLike) -> WiderDataset:
    """Return the embedded smoke set in `folder`, building it there once (deterministic content).

    It is built in a temporary sibling folder and renamed into place, so ranks of a sharded run that
    build it at the same time never read a half-written set.
    """
    import shutil
    import tempfile

    folder = Path(folder)
    if not (folder / "README.md").is_file():   # README.md is written last
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        build_smoke_set(tmp)
        try:
            os.rename(tmp, folder)
        except OSError:                          # another process got there first
            shutil.rmtree(tmp, ignore_errors=True)
    dataset = load_dataset(folder)
    dataset.embedded = True
    return dataset
