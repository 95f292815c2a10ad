"""The synthetic text dev set (preproc.text_dev_set, preproc.training.text.word_crop)."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from harness.errors import HarnessError
from preproc.text_dev_set import write_dev_set
from preproc.training.text import word_crop
from tasks.icdar13.datasets import load_word, open_word_set


@pytest.fixture
def backgrounds(tmp_path):
    folder = tmp_path / "bg"
    folder.mkdir()
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 320).astype(np.uint8)
    for i in range(2):  # a smooth image and a noisy one
        img = np.stack([np.tile(ramp, (200, 1))] * 3, axis=2) if i == 0 else \
            rng.integers(0, 256, (200, 320, 3), dtype=np.uint8)
        Image.fromarray(img).save(folder / f"{i}.png")
    return folder


def test_word_crop_holds_its_word_inside_a_margin():
    plain = np.full((200, 320, 3), 128, np.uint8)
    for seed in range(30):
        crop, word = word_crop(plain, np.random.default_rng(seed))
        assert crop.dtype == np.uint8 and crop.ndim == 3 and crop.shape[2] == 3
        assert 3 <= len(word) <= 10 and word.isalnum()
        # the ink: pixels unlike the crop's corner (the background: grey, or a sign box filling the crop)
        ink = np.abs(crop.astype(int) - crop[0, 0].astype(int)).sum(axis=2) > 30
        rows, cols = np.nonzero(ink)
        assert len(rows) > 20
        assert rows.min() >= 1 and cols.min() >= 1  # margins of 2-9 px, less a pixel of antialiasing
        assert rows.max() <= crop.shape[0] - 2 and cols.max() <= crop.shape[1] - 2


def test_word_crop_too_small_an_image_is_an_error():
    with pytest.raises(HarnessError, match="too small"):
        word_crop(np.zeros((20, 30, 3), np.uint8), np.random.default_rng(0))


def test_dev_set_reads_back_as_a_word_set_and_is_seeded(tmp_path, backgrounds):
    files = sorted(backgrounds.iterdir())
    labels = write_dev_set(tmp_path / "a", files, words=12, seed=3)
    words = open_word_set(tmp_path / "a")
    assert [w.label for w in words.items] == labels and len(labels) == 12
    assert all(load_word(w).shape[0] >= 20 for w in words.items)
    manifest = json.loads((tmp_path / "a" / "MANIFEST.json").read_text())
    assert manifest["seed"] == 3 and manifest["words"] == 12
    assert [b["sha256"] for b in manifest["backgrounds"]] == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    again = write_dev_set(tmp_path / "b", files, words=12, seed=3)
    other = write_dev_set(tmp_path / "c", files, words=12, seed=4)
    assert again == labels and other != labels
    for name in ("gt.txt", "image/w00000.png", "image/w00011.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_recogniser_reads_the_labels_it_was_written_with(tmp_path, backgrounds):
    # The labels are the drawn words: RapidOCR (an independent reader) reads most clean crops as labelled.
    from tasks.icdar13.recognizers import RecognizerOptions, build_recognizer
    from tasks.icdar13.scoring import is_correct

    labels = write_dev_set(tmp_path / "d", [backgrounds / "0.png"], words=10, seed=0)
    images = [load_word(w) for w in open_word_set(tmp_path / "d").items]
    texts, _ = build_recognizer("rapidocr", RecognizerOptions(threads=1, batch_size=5)).recognize(images)
    assert sum(is_correct(t, w) for t, w in zip(texts, labels)) >= 7


def test_cli_errors_are_one_line(tmp_path, backgrounds):
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "preproc.text_dev_set", *map(str, args)],
                              check=False, capture_output=True, text=True)

    missing = run("--backgrounds", tmp_path / "missing", "--out", tmp_path / "o")
    assert missing.returncode == 2
    assert missing.stderr == f"python -m preproc.text_dev_set: error: {tmp_path / 'missing'}: no such file or folder\n"
    assert run("--backgrounds", backgrounds, "--out", tmp_path / "o", "--words", 2).returncode == 0
    again = run("--backgrounds", backgrounds, "--out", tmp_path / "o", "--words", 2)
    assert again.returncode == 2 and "exists and is not empty" in again.stderr and "Traceback" not in again.stderr
    assert run("--backgrounds", backgrounds, "--out", tmp_path / "p", "--words", 0).returncode == 2
