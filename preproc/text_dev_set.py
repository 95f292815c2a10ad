"""A text dev set that is not a test set: synthetic word crops for choosing restorers for text.

Word-recognition test sets (SVT, ICDAR 2013) must not choose checkpoints or settings: a choice measured on
them is tuned to them. This writes a word set in the plain-list layout `--task icdar13` reads (`gt.txt` of
`name label` lines and `image/`), each word a random string of letters or digits (3-10 characters,
`preproc.training.text.random_word`) in one of matplotlib's fonts at 24-80 px, drawn on a region of a
background image (half of them on a plain sign box) and cut out with a 2-9 px margin, as word crops are:

    python -m preproc.text_dev_set --backgrounds ../shared/data/train/BSD200 --first 10 --out ../text_dev
    python run_all.py --task icdar13 --preproc none cajnn cajnn_small --data ../text_dev --degrade x4,q20

The same backgrounds, `--words` and `--seed` give the same pixels with the same matplotlib and Pillow
(MANIFEST.json records them, the background files' sha256 and the fonts). Use backgrounds the restorers
never trained on (above: the 10 BSD200 images the CAJNN trainer holds out for validation). Random strings
have no language to guess from, so a recogniser reads fewer of them than of real words; compare methods
with each other on the same words (fixed / broken, McNemar), not with a test set's accuracy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.cli import ArgumentParser, positive_int, run_command
from harness.errors import HarnessError
from harness.image import list_images, load_image, save_image
from harness.provenance import package_versions, provenance
from harness.store import atomic_write_json, atomic_write_text, file_sha256
from preproc.training.text import CROP_FONT_PX, font_paths, word_crop

PROG = "python -m preproc.text_dev_set"


def background_files(paths: list[Path], first: int | None) -> list[Path]:
    """Return the image files named by `paths` (a folder: its images, sorted by name), the first `first`."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += list_images(path)
        elif path.is_file():
            files.append(path)
        else:
            raise HarnessError(f"{path}: no such file or folder")
    files = files[:first] if first else files
    if not files:
        raise HarnessError(f"no background images in {' '.join(str(p) for p in paths)}")
    return files


def write_dev_set(out: Path, backgrounds: list[Path], words: int, seed: int) -> list[str]:
    """Write `words` word crops on `backgrounds` to OUT (image/, gt.txt, MANIFEST.json); return the labels."""
    if out.exists() and any(out.iterdir()):
        raise HarnessError(f"{out}: exists and is not empty (remove it or choose another --out)")
    images = [load_image(p) for p in backgrounds]
    rng = np.random.default_rng(seed)
    lines, labels = [], []
    for i in range(words):
        k = int(rng.integers(len(images)))
        try:
            crop, word = word_crop(images[k], rng)
        except HarnessError as exc:
            raise HarnessError(f"{backgrounds[k]}: {exc}") from None
        name = f"w{i:05d}.png"
        save_image(out / "image" / name, crop)
        lines.append(f"{name} {word}")
        labels.append(word)
    atomic_write_text(out / "gt.txt", "\n".join(lines) + "\n")
    atomic_write_json(out / "MANIFEST.json", {
        "what": "synthetic word crops (python -m preproc.text_dev_set): not a test set, random strings",
        "words": words, "seed": seed, "font_px": list(CROP_FONT_PX),
        "fonts": [p.name for p in font_paths()],
        "backgrounds": [{"path": str(p), "sha256": file_sha256(p)} for p in backgrounds],
        "provenance": provenance({"packages_drawing": package_versions(("matplotlib",))}),
    })
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--backgrounds", type=Path, nargs="+", required=True,
                        help="image files or folders the words are drawn on (images no restorer trained on)")
    parser.add_argument("--first", type=positive_int, default=None, help="use only the first N background images")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (must be new or empty)")
    parser.add_argument("--words", type=positive_int, default=1000, help="word crops to write (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    labels = write_dev_set(args.out, background_files(args.backgrounds, args.first), args.words, args.seed)
    print(f"{len(labels)} word crops ({len(set(labels))} distinct words) -> {args.out}; "
          f"read them with: python run_all.py --task icdar13 --data {args.out} ...")
    return 0


if __name__ == "__main__":
    run_command(main, PROG)
