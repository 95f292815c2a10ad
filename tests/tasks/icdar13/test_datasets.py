"""Loaders of word-recognition sets: official ICDAR 2013 layout, DTRB LMDB, plain list; detection."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from harness.errors import HarnessError, ImageLoadError
from tasks.icdar13.datasets import detect_format, load_word, open_word_set, parse_icdar_gt
from tests.conftest import require_shared_data


def _png(h=12, w=30, value=128) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


# Labels chosen so that the three variants keep different words:
# all: 6; IC13_1015 (alphanumeric only): PROPER, 12, Tiredness, ab1 -> 4; IC13_857 (len >= 3): 3.
ICDAR_LINES = ['word_1.png, "PROPER"', 'word_2.png, "12"', 'word_3.png, "(412\\")"',
               'word_4.png, "Tiredness"', 'word_5.png, "ab1"', 'word_6.png, "it\'s"']


def _icdar_folder(tmp_path, bom=True, crlf=True, gt_name="Challenge2_Test_Task3_GT.txt"):
    text = ("\r\n" if crlf else "\n").join(ICDAR_LINES) + ("\r\n" if crlf else "\n")
    (tmp_path / gt_name).write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    for i in range(1, 7):
        (tmp_path / f"word_{i}.png").write_bytes(_png())
    return tmp_path


def test_icdar_layout_crlf_bom_escaped_quotes(tmp_path):
    ws = open_word_set(_icdar_folder(tmp_path))
    assert ws.format == "icdar"
    assert [it.id for it in ws.items] == [f"word_{i}.png" for i in range(1, 7)]
    assert [it.label for it in ws.items] == ["PROPER", "12", '(412")', "Tiredness", "ab1", "it's"]
    assert load_word(ws.items[0]).shape == (12, 30, 3)


def test_icdar_variants(tmp_path):
    folder = _icdar_folder(tmp_path)
    assert len(open_word_set(folder, variant="all").items) == 6
    assert [it.label for it in open_word_set(folder, variant="IC13_1015").items] == ["PROPER", "12", "Tiredness", "ab1"]
    assert [it.label for it in open_word_set(folder, variant="IC13_857").items] == ["PROPER", "Tiredness", "ab1"]
    with pytest.raises(HarnessError, match="IC13_857"):
        open_word_set(folder, variant="IC13_999")


def test_icdar_lf_without_bom_as_gt_txt(tmp_path):
    ws = open_word_set(_icdar_folder(tmp_path, bom=False, crlf=False, gt_name="gt.txt"))
    assert ws.format == "icdar" and ws.items[2].label == '(412")'


def test_icdar_malformed_line_names_file_and_line(tmp_path):
    folder = _icdar_folder(tmp_path)
    gt = folder / "Challenge2_Test_Task3_GT.txt"
    gt.write_bytes(gt.read_bytes() + b'word_7.png "no comma"\r\n')
    with pytest.raises(HarnessError, match=r"Challenge2_Test_Task3_GT.txt:7: malformed"):
        open_word_set(folder)
    with pytest.raises(HarnessError, match=r":7:"):
        parse_icdar_gt(gt)


def test_icdar_file_with_a_malformed_first_line_is_an_error_not_a_list(tmp_path):
    """Issue 25.4: `name, "DOOR` without the closing quote on line 1 was read as a plain list (every word
    "file not found", exit 0)."""
    folder = tmp_path / "ic"
    folder.mkdir()
    (folder / "gt.txt").write_text('word_1.png, "DOOR\nword_2.png, "EXIT"\n')
    with pytest.raises(HarnessError, match=r"gt.txt:1: malformed GT line"):
        open_word_set(folder)


def test_lmdb_written_by_test(tmp_path):
    import lmdb

    env = lmdb.open(str(tmp_path), map_size=1 << 22)
    with env.begin(write=True) as txn:
        txn.put(b"num-samples", b"3")
        for i, label in enumerate(["Hello", "x-1", "world"], start=1):
            txn.put(f"label-{i:09d}".encode(), label.encode())
            txn.put(f"image-{i:09d}".encode(), _png(value=10 * i) if i != 2 else b"not an image")
    env.close()
    assert detect_format(tmp_path)[0] == "lmdb"
    ws = open_word_set(tmp_path)
    assert [(it.id, it.label) for it in ws.items] == [("image-000000001", "Hello"), ("image-000000002", "x-1"),
                                                      ("image-000000003", "world")]
    assert load_word(ws.items[2])[0, 0, 0] == 30
    with pytest.raises(ImageLoadError, match="image-000000002"):
        load_word(ws.items[1])
    assert [it.label for it in open_word_set(tmp_path, variant="IC13_1015").items] == ["Hello", "world"]


def test_lmdb_missing_label_key(tmp_path):
    import lmdb

    env = lmdb.open(str(tmp_path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"num-samples", b"2")
        txn.put(b"label-000000001", b"a")
        txn.put(b"image-000000001", _png())
    env.close()
    with pytest.raises(HarnessError, match="label-000000002"):
        open_word_set(tmp_path)


def test_plain_list_space_and_tab_and_image_subfolder(tmp_path):
    (tmp_path / "image").mkdir()
    (tmp_path / "image" / "a.png").write_bytes(_png())
    (tmp_path / "b.png").write_bytes(_png())
    (tmp_path / "gt.txt").write_text("a.png HELLO\nb.png\tTwo Words")
    ws = open_word_set(tmp_path)
    assert ws.format == "list"
    assert [(it.id, it.label) for it in ws.items] == [("a.png", "HELLO"), ("b.png", "Two Words")]
    assert ws.items[0].source == tmp_path / "image" / "a.png"
    assert load_word(ws.items[1]).dtype == np.uint8


def test_plain_list_malformed_line(tmp_path):
    (tmp_path / "gt.txt").write_text("a.png HELLO\nlonely\n")
    with pytest.raises(HarnessError, match=r"gt.txt:2: malformed"):
        open_word_set(tmp_path)


def test_missing_image_fails_at_load_not_at_open(tmp_path):
    (tmp_path / "gt.txt").write_text("gone.png WORD\n")
    ws = open_word_set(tmp_path)
    with pytest.raises(ImageLoadError, match="gone.png"):
        load_word(ws.items[0])


def test_no_gt_file(tmp_path):
    with pytest.raises(HarnessError, match="gt.txt"):
        open_word_set(tmp_path)


def test_svt_folder_is_a_list_of_647_words():
    folder = require_shared_data("text", "svt_test")
    ws = open_word_set(folder)
    assert ws.format == "list" and len(ws.items) == 647
    assert ws.items[0].id == "18_01_1.png" and ws.items[0].source.parent.name == "image"
    assert len(open_word_set(folder, variant="IC13_857").items) == 647  # every SVT label is alnum, >= 3
