"""The offline recognisers on rendered words: the pinned rapidocr private API, batch independence,
EasyOCR without download; the smoke set itself."""
from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

from harness.errors import HarnessError
from tasks.icdar13.recognizers import RecognizerOptions, build_recognizer
from tasks.icdar13.scoring import is_correct
from tasks.icdar13.smoke import SMOKE_WORDS, render_word, smoke_set


@pytest.fixture(scope="module")
def clean_words():
    rng = np.random.default_rng(1)
    words = ["HOTEL", "Coffee", "street", "2024", "OPEN"]
    return words, [render_word(w, rng, height=32) for w in words]


@pytest.fixture(scope="module")
def rapid():
    return build_recognizer("rapidocr", RecognizerOptions(threads=1, batch_size=2))


def test_rapidocr_version_and_private_api(rapid):
    # The batched path uses RapidOCR._load_rec_model() and TextRecInput (REFERENCE.md section 3).
    assert importlib.metadata.version("rapidocr") == "3.10.0"
    from rapidocr.ch_ppocr_rec.typings import TextRecInput

    out = rapid._rec(TextRecInput(img=[np.full((48, 100, 3), 255, np.uint8)]))
    assert len(out.txts) == 1 and len(out.scores) == 1
    assert list(rapid._rec.rec_image_shape) == [3, 48, 320]


def test_rapidocr_input_is_cv2_linear_to_48_then_minus1_to_1_zero_padded(rapid):
    # docs/icdar13.md "Why enlarging word crops can lose words" rests on this: rapidocr 3.10.0 resizes
    # every crop (up or down) with cv2.resize's default INTER_LINEAR (no antialiasing) to 48 px high.
    import cv2

    img = np.random.default_rng(3).integers(0, 256, (12, 40, 3), dtype=np.uint8)  # a tiny LR crop
    got = rapid._rec.resize_norm_img(img, 320 / 48)
    resized = cv2.resize(img, (160, 48), interpolation=cv2.INTER_LINEAR)  # ceil(48 * 40 / 12) = 160
    want = np.zeros((3, 48, 320), np.float32)
    want[:, :, :160] = (resized.transpose(2, 0, 1).astype(np.float32) / 255 - 0.5) / 0.5
    np.testing.assert_allclose(got, want, atol=1e-6)
    tall = np.random.default_rng(4).integers(0, 256, (192, 96, 3), dtype=np.uint8)  # x4 of a 48 x 24 crop
    np.testing.assert_allclose(rapid._rec.resize_norm_img(tall, 320 / 48)[:, :, :24],
                               (cv2.resize(tall, (24, 48)).transpose(2, 0, 1) / 255 - 0.5) / 0.5, atol=1e-6)


def test_rapidocr_reads_rendered_words_batched_as_alone(rapid, clean_words):
    words, images = clean_words
    wide = render_word("INTERNATIONALIZATION", np.random.default_rng(2), height=20)  # wider than 320/48
    texts, confs = rapid.recognize(images + [wide])
    assert sum(is_correct(t, w) for t, w in zip(texts, words)) >= 4
    assert all(0.0 <= c <= 1.0 for c in confs)
    for i in (0, 3, 5):  # a word's result does not depend on its batch
        alone_text, alone_conf = rapid.recognize([(images + [wide])[i]])
        assert alone_text[0] == texts[i] and alone_conf[0] == pytest.approx(confs[i], abs=1e-5)


def test_rapidocr_compact_width_reads_and_is_batch_independent(clean_words):
    words, images = clean_words
    rec = build_recognizer("rapidocr", RecognizerOptions(threads=1, batch_size=3, extra={"width": "compact"}))
    texts, confs = rec.recognize(images)
    assert sum(is_correct(t, w) for t, w in zip(texts, words)) >= 4
    alone, alone_conf = rec.recognize(images[2:3])
    assert alone[0] == texts[2] and alone_conf[0] == pytest.approx(confs[2], abs=1e-5)
    assert "own rounded up to 16" in rec.describe()["input"]


def test_unknown_recognizer_option_lists_known():
    with pytest.raises(HarnessError, match="unknown option.*wdth.*known: width"):
        build_recognizer("rapidocr", RecognizerOptions(extra={"wdth": "compact"}))


def test_rapidocr_rejects_weights():
    with pytest.raises(HarnessError, match="trba"):
        build_recognizer("rapidocr", RecognizerOptions(weights="x.pth"))


def test_easyocr_offline_reads_rendered_words(clean_words):
    words, images = clean_words
    rec = build_recognizer("easyocr", RecognizerOptions(threads=1, batch_size=4))
    texts, confs = rec.recognize(images)
    assert len(texts) == len(images)
    assert sum(is_correct(t, w) for t, w in zip(texts, words)) >= 3
    described = rec.describe()
    assert described["quantize"] is False and "english_g2" in described["weights"]
    alone, _ = rec.recognize(images[1:2])
    assert alone[0] == texts[1]


def test_smoke_set_is_deterministic_and_labelled():
    a, b = smoke_set(), smoke_set()
    assert [it.label for it in a.items] == list(SMOKE_WORDS)
    assert all(np.array_equal(x.source, y.source) for x, y in zip(a.items, b.items))
    assert a.embedded and "NOT ICDAR" in a.notes[0]
