"""Synthetic words on training patches (preproc.training.text and the `text` share of a config)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from harness.errors import HarnessError
from harness.resize import imresize
from preproc.training.config import TrainConfig
from preproc.training.data import PatchSampler, to_image
from preproc.training.text import FONT_NAMES, _contrasting_colour, _font, draw_word, font_paths, random_word


def test_every_font_draws_letters():
    # matplotlib ships all of them; each must have glyphs for letters (math fonts such as cmsy10 map
    # letters to symbols or nothing, and would teach the network no text).
    assert len(font_paths()) == len(FONT_NAMES)
    for path in font_paths():
        canvas = Image.new("L", (120, 40), 0)
        ImageDraw.Draw(canvas).text((2, 2), "Text", fill=255, font=_font(path, 24))
        ink = np.asarray(canvas) > 128
        assert ink.sum() > 40, path.name
        assert ink[:, :20].any() and ink[:, 24:].any(), path.name  # more than one glyph


def test_contrasting_colour_by_hand():
    rng = np.random.default_rng(0)
    for background in ([255, 255, 255], [0, 0, 0], [128, 128, 128], [30, 200, 40]):
        bg = np.array(background, float)
        bg_luma = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]
        for _ in range(20):
            r, g, b = _contrasting_colour(bg, rng)
            assert abs(0.299 * r + 0.587 * g + 0.114 * b - bg_luma) >= 60


def test_words_are_letters_or_digits_in_one_case():
    rng = np.random.default_rng(1)
    words = [random_word(rng) for _ in range(300)]
    assert all(2 <= len(w) <= 10 and w.isalnum() for w in words)
    assert all(w.isdigit() or w.islower() or w.isupper() or w.istitle() for w in words)
    assert {"digits", "lower", "upper", "title"} == {
        "digits" if w.isdigit() else "upper" if w.isupper() and len(w) > 1 else
        "title" if w.istitle() else "lower" for w in words}


def test_draw_word_is_a_seeded_copy():
    region = np.full((64, 96, 3), 90, np.uint8)
    out = draw_word(region, np.random.default_rng(5))
    assert out.shape == region.shape and out.dtype == np.uint8
    assert (region == 90).all()  # the input is left alone
    assert (out != 90).any(axis=2).sum() > 20  # a word is there
    assert np.array_equal(out, draw_word(region, np.random.default_rng(5)))
    assert not np.array_equal(out, draw_word(region, np.random.default_rng(6)))


def _config(tmp_path, text: float) -> TrainConfig:
    folder = tmp_path / "train"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return TrainConfig(name="t", train_folders=[str(folder)], hr_patch=48, batch=4, clean=1.0, text=text)


@pytest.mark.parametrize("context", [0, 16])
def test_text_share_draws_words_into_consistent_pairs(tmp_path, context):
    from preproc.training.data import load_folder_images
    cfg = _config(tmp_path, 0.0)
    cfg.context = context
    images = [img for _, img in load_folder_images(cfg.train_folders)]
    plain = PatchSampler(images, cfg, seed=0, batch=4)[0]
    cfg.text = 1.0
    worded = PatchSampler(images, cfg, seed=0, batch=4)[0]
    # clean = 1.0: every input is the MATLAB-bicubic LR of its target (with context: of the degraded window,
    # which equals it away from the patch border), so a drawn word is in both halves of the pair.
    for inp, tgt in (plain, worded):
        for j in range(4):
            lr, hr = to_image(inp[j:j + 1]), to_image(tgt[j:j + 1])
            expected = imresize(hr, 0.25)
            if context:  # the bicubic kernel reaches 2 LR px into the context
                lr, expected = lr[2:-2, 2:-2], expected[2:-2, 2:-2]
            assert np.array_equal(lr, expected)

    def flat(t):  # share of horizontal neighbours of exactly one colour: noise images have next to none,
        rgb = to_image(t).astype(int)  # the inside of letters and of sign boxes have many
        return (np.abs(np.diff(rgb, axis=1)).sum(axis=2) == 0).mean()

    for j in range(4):
        assert flat(plain[1][j:j + 1]) < 0.01 < flat(worded[1][j:j + 1])


def test_text_share_must_be_a_share(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"text": 1.5}))
    with pytest.raises(HarnessError, match="text"):
        TrainConfig.load(str(path))
