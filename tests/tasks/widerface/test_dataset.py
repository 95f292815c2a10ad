"""The WIDER FACE annotation parser, the official layout loader and the embedded smoke set."""
from __future__ import annotations

import numpy as np
import pytest

from harness.errors import HarnessError
from tasks.widerface.dataset import load_dataset, parse_annotations, smoke_dataset


def test_parse_zero_face_entry(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1--E/a.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n1--E/b.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n"
                    "5 6 7 8 1 0 0 0 0 0\n")
    entries = parse_annotations(path)
    assert [e[0] for e in entries] == ["1--E/a.jpg", "1--E/b.jpg"]
    assert entries[0][1].shape == (0, 4)
    assert entries[1][1].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert entries[1][2][1].tolist() == [1, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("text, line", [
    ("1--E/a.jpg\nx\n", 2),
    ("1--E/a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", 4),
    ("1--E/a.jpg\n1\n1 2 3 4 0 0\n", 3),
    ("1--E/a.jpg\n1\n1 2 three 4 0 0 0 0 0 0\n", 3),
    ("not a name\n1\n", 1),
])
def test_parse_malformed_names_line(tmp_path, text, line):
    path = tmp_path / "gt.txt"
    path.write_text(text)
    with pytest.raises(HarnessError, match=rf"gt\.txt: line {line}:"):
        parse_annotations(path)


def test_official_annotations(widerface_root):
    entries = parse_annotations(widerface_root / "wider_face_split" / "wider_face_val_bbx_gt.txt")
    assert len(entries) == 3226 and sum(len(e[1]) for e in entries) == 39708


def test_load_shared_subset(widerface_root):
    dataset = load_dataset(widerface_root)
    assert len(dataset.images) == 488 and dataset.num_annotated == 3226
    assert sum(len(im.boxes) for im in dataset.images) == 5420   # data README
    assert dataset.ground_truth.num_images == 3226               # the official .mat


def test_load_without_mat_keeps_every_face(tmp_path):
    (tmp_path / "WIDER_val" / "images" / "1--E").mkdir(parents=True)
    (tmp_path / "WIDER_val" / "images" / "1--E" / "a.jpg").write_bytes(b"not decoded here")
    (tmp_path / "wider_face_split").mkdir()
    (tmp_path / "wider_face_split" / "wider_face_val_bbx_gt.txt").write_text(
        "1--E/a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n1--E/missing.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n")
    dataset = load_dataset(tmp_path)
    assert [im.name for im in dataset.images] == ["1--E/a"]
    assert dataset.ground_truth.names == ["1--E/a", "1--E/missing"]
    assert all(k.all() for k in dataset.ground_truth.keep.values())


def test_load_wrong_layout(tmp_path):
    with pytest.raises(HarnessError, match="wider_face_val_bbx_gt.txt"):
        load_dataset(tmp_path)


def test_smoke_set_is_labelled_and_offline(tmp_path):
    dataset = smoke_dataset(tmp_path / "smoke")
    assert dataset.embedded and "smoke set" in dataset.label
    assert [im.name for im in dataset.images] == ["0--Smoke/astronaut", "1--Smoke/lfw_grid"]
    assert [len(im.boxes) for im in dataset.images] == [1, 12]
    again = smoke_dataset(tmp_path / "smoke2")
    assert np.array_equal(again.ground_truth.boxes, dataset.ground_truth.boxes)
