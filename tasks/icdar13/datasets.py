"""Word-recognition sets: the official ICDAR 2013 layout, DTRB's LMDB, and a plain list (SVT here).

`open_word_set(folder)` detects the format (REFERENCE.md section 7):
  - `data.mdb` in the folder -> LMDB of deep-text-recognition-benchmark (`num-samples`,
    `image-%09d`, `label-%09d`, 1-based);
  - a GT file (`--gt FILE`, `gt.txt` or `Challenge2_Test_Task3_GT.txt`) whose first line reads
    `name, "text"` -> the ICDAR 2013 Task 3 layout (CRLF or LF, optional UTF-8 BOM, `\\"` in labels);
  - otherwise `gt.txt` as a list of `name<tab or space>label`.
Image names resolve relative to the folder, then its `image/` subfolder (then `*Task3_Images/`).
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from harness.errors import HarnessError, ImageLoadError
from harness.image import check_image, load_image, to_rgb_uint8
from harness.store import slug

VARIANTS = ("all", "IC13_1015", "IC13_857")
ICDAR_GT_NAMES = ("gt.txt", "Challenge2_Test_Task3_GT.txt")
_ICDAR_LINE = re.compile(r'^\s*(?P<name>[^,\s][^,]*?)\s*,\s*"(?P<text>.*)"\s*$')
# What an ICDAR line starts with (`name, "`): a first line like this that does not match in full is a
# malformed ICDAR file (an error naming the line), not a plain list.
_ICDAR_START = re.compile(r'^\s*[^,\s][^,]*?\s*,\s*"')


@dataclass(eq=False)
class WordItem:
    """One word: its id (unique in the set), its label, and where its pixels are (path, bytes, array)."""

    id: str
    label: str
    source: Path | bytes | np.ndarray


@dataclass
class WordSet:
    """A named list of words and how it was read."""

    name: str
    root: Path
    items: list[WordItem]
    format: str
    variant: str = "all"
    embedded: bool = False
    notes: list[str] = field(default_factory=list)


def load_word(item: WordItem) -> np.ndarray:
    """Return the word image as HxWx3 uint8 RGB; raise ImageLoadError naming the word if unreadable."""
    if isinstance(item.source, np.ndarray):
        return check_image(item.source, what=f"word {item.id}")
    if isinstance(item.source, (bytes, bytearray)):
        try:
            with Image.open(io.BytesIO(item.source)) as img:
                img.load()
                arr = to_rgb_uint8(img)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageLoadError(f"word {item.id}: cannot decode image bytes ({exc})") from None
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ImageLoadError(f"word {item.id}: empty image")
        return arr
    return load_image(item.source)


def keep_in_variant(label: str, variant: str) -> bool:
    """Return True if a word with `label` belongs to the variant (all, IC13_1015, IC13_857)."""
    if variant == "all":
        return True
    alphanumeric = label.isascii() and label.isalnum()
    if variant == "IC13_1015":
        return alphanumeric
    if variant == "IC13_857":
        return alphanumeric and len(label) >= 3
    raise HarnessError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HarnessError(f"{path}: not UTF-8 text ({exc})") from None
    return text.splitlines()


def parse_icdar_gt(path: Path) -> list[tuple[str, str, int]]:
    """Return [(image name, label, line number)] of an ICDAR 2013 Task 3 GT file.

    Lines read `word_1.png, "PROPER"`; a quote inside a label is written `\\"`. Blank lines are skipped;
    any other line that does not match raises HarnessError naming the file and line.
    """
    out = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        match = _ICDAR_LINE.match(line)
        if not match:
            raise HarnessError(f"{path}:{number}: malformed GT line {line!r}; expected: word_1.png, \"text\"")
        out.append((match["name"], match["text"].replace('\\"', '"'), number))
    return out


def parse_list_gt(path: Path) -> list[tuple[str, str, int]]:
    """Return [(image name, label, line number)] of a list file `name<tab or space>label`."""
    out = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        sep = "\t" if "\t" in line else " "
        name, _, label = line.strip("\r\n").partition(sep)
        label = label.strip(" ") if sep == " " else label
        if not name.strip() or not label:
            raise HarnessError(f"{path}:{number}: malformed line {line!r}; expected: NAME<tab or space>LABEL")
        out.append((name.strip(), label, number))
    return out


def _image_dirs(folder: Path) -> list[Path]:
    dirs = [folder, folder / "image"]
    dirs += sorted(p for p in folder.glob("*Task3_Images") if p.is_dir())
    return dirs


def _resolve(folder: Path, dirs: list[Path], name: str) -> Path:
    for d in dirs:
        candidate = d / name
        if candidate.is_file():
            return candidate
    return folder / name  # missing: recorded as a failure when the word is loaded


def _find_gt(folder: Path) -> Path | None:
    for name in ICDAR_GT_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("Challenge2_*Task3_GT.txt"))
    return found[0] if found else None


def detect_format(folder: Path, gt: Path | None = None) -> tuple[str, Path | None]:
    """Return (format, GT file) for a data folder: ('lmdb', None), ('icdar', GT) or ('list', GT)."""
    folder = Path(folder)
    if gt is None and (folder / "data.mdb").is_file():
        return "lmdb", None
    gt = Path(gt) if gt is not None else _find_gt(folder)
    if gt is None or not gt.is_file():
        raise HarnessError(f"--data {folder}: no data.mdb, gt.txt or Challenge2_Test_Task3_GT.txt found "
                           f"(or give --text-gt FILE)")
    first = next((line for line in _read_lines(gt) if line.strip()), None)
    if first is None:
        raise HarnessError(f"{gt}: empty GT file")
    return ("icdar" if _ICDAR_START.match(first) else "list"), gt


def read_lmdb(folder: Path) -> list[WordItem]:
    """Return the words of a DTRB LMDB (keys `num-samples`, `label-%09d`, `image-%09d`, 1-based)."""
    import lmdb

    try:
        env = lmdb.open(str(folder), readonly=True, lock=False, readahead=False, meminit=False)
    except lmdb.Error as exc:
        raise HarnessError(f"{folder}: cannot open LMDB ({exc})") from None
    items = []
    try:
        with env.begin(write=False) as txn:
            raw = txn.get(b"num-samples")
            if raw is None:
                raise HarnessError(f"{folder}: LMDB has no 'num-samples' key")
            try:
                count = int(raw.decode("ascii").strip())
            except ValueError:
                raise HarnessError(f"{folder}: LMDB 'num-samples' is not an integer: {raw[:20]!r}") from None
            for index in range(1, count + 1):
                label_key, image_key = f"label-{index:09d}", f"image-{index:09d}"
                label = txn.get(label_key.encode())
                if label is None:
                    raise HarnessError(f"{folder}: LMDB key {label_key!r} missing (num-samples = {count})")
                image = txn.get(image_key.encode())
                items.append(WordItem(image_key, label.decode("utf-8"), bytes(image) if image is not None else b""))
    finally:
        env.close()
    return items


def open_word_set(folder: str | Path, gt: str | Path | None = None, variant: str = "all") -> WordSet:
    """Return the word set in `folder` (format detected), restricted to `variant`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HarnessError(f"--data {folder}: not a folder (the icdar13 task takes a data folder)")
    if variant not in VARIANTS:
        raise HarnessError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    fmt, gt_path = detect_format(folder, Path(gt) if gt else None)
    if fmt == "lmdb":
        items = read_lmdb(folder)
    else:
        rows = parse_icdar_gt(gt_path) if fmt == "icdar" else parse_list_gt(gt_path)
        dirs = _image_dirs(folder)
        items, seen = [], {}
        for name, label, number in rows:
            if name in seen:
                raise HarnessError(f"{gt_path}:{number}: image {name!r} already listed on line {seen[name]}")
            seen[name] = number
            items.append(WordItem(name, label, _resolve(folder, dirs, name)))
    total = len(items)
    items = [it for it in items if keep_in_variant(it.label, variant)]
    name = folder.resolve().name + ("" if variant == "all" else f"_{variant}")
    notes = [f"{fmt} format, {total} words in the GT" + (f", {len(items)} kept by {variant}" if variant != "all" else "")]
    return WordSet(name, folder.resolve(), items, fmt, variant, notes=notes)


def table_name(tag: str) -> str:
    """Return the file-name part of the tables of condition `tag` (a slug; dots become underscores)."""
    return slug(tag, 120).replace(".", "_")
