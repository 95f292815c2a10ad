"""Extra training data (`preproc.training_data`): no test set among the sources, and the extraction
from a local git copy (listing check, small-image skip, held-out copies, LFS pointers, missing copy)
on a synthetic repository."""
from __future__ import annotations

import hashlib
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.errors import HarnessError
from preproc.training_data import (BSD100_IDS, SET5_SET14_NAMES, SOURCES, TEST_SET_WORDS, HeldOutIndex,
                                   Source, extract, list_digest, main, too_small)


def test_sources_are_no_test_set():
    assert len(BSD100_IDS) == 100 and len(SET5_SET14_NAMES) == 19
    for s in SOURCES:
        where = f"{s.name} {s.repo} {s.path}".lower()
        assert not [w for w in TEST_SET_WORDS if w in where], s
        stems = s.names.split()
        assert len(stems) == len(set(stems)) == s.count
        assert not set(stems) & (BSD100_IDS | SET5_SET14_NAMES), s.name
        assert len(s.commit) == 40 and len(s.list_sha256) == 64 and s.licence


def test_too_small():
    assert too_small((127, 500)) and too_small((500, 127))
    assert not too_small((128, 128)) and not too_small((481, 321))


def _png(path: Path, w: int, h: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # smooth content so that thumbnails are meaningful
    base = rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    arr = np.asarray(Image.fromarray(base).resize((w, h), Image.BICUBIC))
    Image.fromarray(arr).save(path)
    return arr


def _repo(root: Path, files: dict[str, bytes]) -> tuple[Path, str]:
    repo = root / "owner+name"
    (repo / "imgs").mkdir(parents=True)
    for name, data in files.items():
        (repo / "imgs" / name).write_bytes(data)
    (repo / "imgs" / "README.txt").write_text("not an image\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    commit = subprocess.run(git[:3] + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    return repo, commit.stdout.strip()


def test_extract_checks_listing_skips_small_and_held_out(tmp_path):
    src, held = tmp_path / "src", tmp_path / "held"
    src.mkdir(), held.mkdir()
    _png(src / "big.png", 200, 150, 0)
    _png(src / "small.png", 100, 300, 1)
    test_img = _png(held / "testimg.png", 160, 140, 2)
    Image.fromarray(np.rot90(test_img)).save(src / "rotated_test.png")  # a copy, turned
    files = {p.name: p.read_bytes() for p in src.iterdir()}
    repo, commit = _repo(tmp_path / "mirrors", files)
    source = Source(name="synthetic", repo="owner/name", commit=commit, path="imgs", count=3,
                    list_sha256=list_digest(list(files.items())), licence="none", names="big small rotated_test")

    report = extract(source, tmp_path / "out", tmp_path / "mirrors", HeldOutIndex([held]))
    assert report["written"] == 1 and report["skipped_small"] == ["small.png"]
    assert [s.split(" = ")[0] for s in report["skipped_test_copies"]] == ["rotated_test.png"]
    assert sorted(p.name for p in (tmp_path / "out" / "synthetic").iterdir()) == ["big.png"]
    written = (tmp_path / "out" / "synthetic" / "big.png").read_bytes()
    assert hashlib.sha256(written).digest() == hashlib.sha256(files["big.png"]).digest()
    assert report["megapixels"] == pytest.approx(0.03)

    with pytest.raises(HarnessError, match="expected 4"):
        extract(replace(source, count=4), tmp_path / "out2", tmp_path / "mirrors")
    with pytest.raises(HarnessError, match="does not contain commit"):
        extract(replace(source, commit="0" * 40), tmp_path / "out2", tmp_path / "mirrors")


def test_lfs_pointer_is_refused(tmp_path):
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 130\n"
    _repo_dir, commit = _repo(tmp_path / "mirrors", {"a.png": pointer})
    source = Source(name="lfs", repo="owner/name", commit=commit, path="imgs", count=1,
                    list_sha256=list_digest([("a.png", pointer)]), licence="none", names="a")
    with pytest.raises(HarnessError, match="Git LFS pointer"):
        extract(source, tmp_path / "out", tmp_path / "mirrors")


def test_missing_copy_is_one_clear_line(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "out"), "--mirror-root", str(tmp_path / "none"),
                 "--check-against"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fetch github:" in err and "git clone" in err
