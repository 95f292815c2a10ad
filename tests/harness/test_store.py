"""Record stores: atomic writes, resume, torn lines, several writers."""
import json

from harness.store import RecordStore, atomic_write_text, config_key, read_records


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]


def test_records_resume_and_torn_last_line(tmp_path):
    store = RecordStore(tmp_path / "s", {"a": 1})
    store.append({"id": "img1", "v": 1})
    store.append({"id": "img2", "v": 2})
    with open(store.path, "a") as fh:
        fh.write('{"id": "img3", "v"')  # interrupted mid-line
    again = RecordStore(tmp_path / "s", {"a": 1})
    assert again.done() == {"img1", "img2"}
    assert json.loads((tmp_path / "s" / "config.json").read_text())["config"] == {"a": 1}


def test_several_writers_merge(tmp_path):
    RecordStore(tmp_path, {}, writer="rank0").append({"id": "a"})
    RecordStore(tmp_path, {}, writer="rank1").append({"id": "b"})
    assert set(read_records(tmp_path)) == {"a", "b"}


def test_config_key_is_order_independent():
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})


def test_slug_keeps_safe_characters_and_cuts():
    from harness.store import slug

    assert slug("cajnn+down spandrel:/a/b.pth") == "cajnn+down_spandrel__a_b.pth"
    assert slug("x" * 50) == "x" * 40
    assert slug("x" * 50, 45) == "x" * 45


def test_done_and_has_follow_appends_without_rereading(tmp_path, monkeypatch):
    store = RecordStore(tmp_path / "s", {})
    store.append({"id": "a"})
    import harness.store as store_module

    def no_reading(folder):
        raise AssertionError("the record files were read again")

    monkeypatch.setattr(store_module, "read_records", no_reading)
    store.append({"id": 7})                       # ids are kept as strings, as read_records keys them
    assert store.has("a") and store.has("7") and not store.has("b")
    assert store.done() == {"a", "7"}
    monkeypatch.undo()
    assert RecordStore(tmp_path / "s", {}).done() == {"a", "7"}   # a new store sees both on disk


def test_records_keep_nan_infinity_none_and_numpy_values(tmp_path):
    import math

    import numpy as np

    store = RecordStore(tmp_path, {})
    store.append({"id": "a", "psnr": math.inf, "ssim": math.nan, "error": None})
    store.append({"id": "b", "boxes": np.array([[1.5, 2.25]]), "n": np.int64(3), "x": np.float32(0.5)})
    store.close()
    rec = read_records(tmp_path)
    assert rec["a"]["psnr"] == math.inf and math.isnan(rec["a"]["ssim"]) and rec["a"]["error"] is None
    assert rec["b"] == {"id": "b", "boxes": [[1.5, 2.25]], "n": 3, "x": 0.5}
    store.append({"id": "c"})                         # appending after close reopens the file
    assert set(read_records(tmp_path)) == {"a", "b", "c"}


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "t.csv", "a,b\n")
    finally:
        os.umask(mask)
    assert (tmp_path / "t.csv").stat().st_mode & 0o777 == 0o644   # not mkstemp's 0600


def test_torn_last_line_is_reported_recomputed_and_tables_equal_an_uninterrupted_run(tmp_path, capsys):
    """Issue 25.1: a record file whose last line was torn (a full disk) is detected and reported, the
    torn item is recomputed on a new line (not glued onto the torn one), and the table equals an
    uninterrupted run's."""
    import pandas as pd

    import run_all

    argv = ["--task", "quality", "--preproc", "bicubic", "--qf", "40", "--limit", "3", "--threads", "1",
            "--examples", "0"]
    run_all.main([*argv, "--out", str(tmp_path / "whole")])
    run_all.main([*argv, "--out", str(tmp_path / "torn")])
    records, = (tmp_path / "torn" / "quality" / "records").glob("*/records.jsonl")
    data = records.read_bytes()
    records.write_bytes(data[:-25])   # the last record loses its end and its newline
    capsys.readouterr()
    run_all.main([*argv, "--out", str(tmp_path / "torn")])
    assert "1 torn line(s)" in capsys.readouterr().err
    assert len(read_records(records.parent)) == 3
    whole, torn = (pd.read_csv(tmp_path / d / "quality" / "table1.csv") for d in ("whole", "torn"))
    assert torn[["n_images", "n_failed", "psnr", "ssim"]].equals(whole[["n_images", "n_failed", "psnr", "ssim"]])
