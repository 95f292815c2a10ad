"""The icdar13 task end to end: Table II layout with paired statistics, failures, resume, bad input.

Most tests use a fake recogniser (the task logic does not depend on which one runs); the real
recognisers are exercised in test_recognizers.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import run_all
from harness.errors import HarnessError
from harness.store import read_records
from tasks.icdar13 import task as text_task
from tasks.icdar13.recognizers import Recognizer


class BrightnessReader(Recognizer):
    """Reads 'good' from a bright image and 'bad' from a dark one (mean over pixels, 128 split)."""

    name = "fake"
    calls = 0

    def recognize(self, images):
        BrightnessReader.calls += len(images)
        texts = ["good" if img.mean() > 128 else "bad" for img in images]
        return texts, [0.9] * len(images)


@pytest.fixture
def fake_recognizer(monkeypatch):
    BrightnessReader.calls = 0
    monkeypatch.setattr(text_task, "build_recognizer", lambda name, options: BrightnessReader())
    return BrightnessReader


def _folder(tmp_path, rows, broken=()):
    """Write gt.txt and crops: rows of (name, label, brightness, (h, w))."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, label, value, shape in rows:
        if name in broken:
            (tmp_path / name).write_bytes(b"not a png")
        else:
            Image.fromarray(np.full(shape + (3,), value, np.uint8)).save(tmp_path / name)
        lines.append(f"{name} {label}")
    (tmp_path / "gt.txt").write_text("\n".join(lines))
    return tmp_path


def test_table2_paired_counts_and_failure(tmp_path, fake_recognizer):
    # 'brighten' (a MODULE:CALLABLE preprocessor below) makes every crop bright: dark crops labelled
    # 'good' are fixed, dark-labelled 'bad' ones broken.
    rows = [("a.png", "good", 200, (16, 40)), ("b.png", "good", 30, (16, 40)), ("c.png", "good", 40, (16, 40)),
            ("d.png", "bad", 20, (16, 40)), ("e.png", "good", 220, (16, 40)), ("f.png", "good", 10, (16, 40))]
    data = _folder(tmp_path / "set", rows, broken={"f.png"})
    out = tmp_path / "out"
    run_all.main(["--task", "icdar13", "--preproc", "none", "tests.tasks.icdar13.test_task:brighten",
                  "--data", str(data), "--out", str(out)])
    tables = list((out / "icdar13").glob("table2_*.csv"))
    assert len(tables) == 1
    table = pd.read_csv(tables[0]).set_index("method")
    none, bright = table.loc["none"], table.loc["tests.tasks.icdar13.test_task:brighten"]
    # none: a, d, e right (3/6; f failed); brighten: a, b, c, e right (4/6), d broken.
    assert (none.correct, none.n, none.failed) == (3, 6, 1)
    assert (bright.correct, bright.n, bright.failed) == (4, 6, 1)
    assert (bright.fixed, bright.broken, bright.delta_words) == (2, 1, 1)
    assert bright.p_mcnemar == pytest.approx(1.0)  # 2 * P(X <= 1 | n=3) = 2 * 4/8 -> capped at 1
    per_word = pd.read_csv(next((out / "icdar13").glob("per_word_*.csv")))
    failed = per_word[per_word.id == "f.png"]
    assert len(failed) == 2 and failed.error.str.contains("f.png").all()
    md = tables[0].with_suffix(".md").read_text()
    assert "instead of ICDAR 2013" in md and "instead of the paper's TRBA" in md and "Fixed/Broken" in md
    assert "Paper, for reference only (TRBA on the 1095 ICDAR 2013 words" in md and "none 85.30% (934/1095)" in md


def brighten(image):
    """A test preprocessor (MODULE:CALLABLE): every pixel becomes 250."""
    return np.full_like(image, 250)


brighten.scale = 1


def test_resume_recognises_nothing_twice(tmp_path, fake_recognizer):
    data = _folder(tmp_path / "set", [(f"w{i}.png", "good", 200, (12, 30)) for i in range(5)])
    args = ["--task", "icdar13", "--preproc", "none", "--data", str(data), "--out", str(tmp_path / "out")]
    run_all.main(args + ["--limit", "3"])
    assert fake_recognizer.calls == 3
    run_all.main(args)
    assert fake_recognizer.calls == 5
    table = pd.read_csv(next((tmp_path / "out" / "icdar13").glob("table2_*.csv")))
    assert (table.correct.iloc[0], table.n.iloc[0]) == (5, 5)


def test_degrade_makes_tiny_crops_failures(tmp_path, fake_recognizer):
    rows = [("big.png", "good", 200, (32, 64)), ("tiny.png", "good", 200, (3, 40))]
    data = _folder(tmp_path / "set", rows)
    out = tmp_path / "out"
    run_all.main(["--task", "icdar13", "--preproc", "none", "bicubic", "--degrade", "x4,q20", "--data", str(data),
                  "--out", str(out)])
    per_word = pd.read_csv(next((out / "icdar13").glob("per_word_*x4_q20.csv")))
    tiny = per_word[per_word.id == "tiny.png"]
    assert len(tiny) == 2 and tiny.error.str.contains("smaller than the scale factor").all()
    big = per_word[(per_word.id == "big.png") & (per_word.method == "none")]
    assert big.correct.all()
    records = next((out / "icdar13" / "records").glob("*_x4_q20_bicubic_*")) / "records.jsonl"
    big_bicubic = read_records(records.parent)["big.png"]
    assert big_bicubic["input_shape"] == [8, 16, 3] and big_bicubic["recognizer_input_shape"] == [32, 64, 3]
    assert "x4_q20" in next((out / "icdar13").glob("table2_*.md")).read_text()


def test_unknown_recognizer_lists_known(tmp_path):
    with pytest.raises(HarnessError, match="known: easyocr, rapidocr, trba"):
        run_all.main(["--task", "icdar13", "--recognizer", "tesseract", "--out", str(tmp_path)])


def test_recognizer_option_parsing():
    assert text_task.parse_recognizer_options(["pad=0", "contrast_ths=0.1", "allowlist=none", "quantize=true",
                                               "decoder=greedy"]) == {
        "pad": 0, "contrast_ths": 0.1, "allowlist": None, "quantize": True, "decoder": "greedy"}
    with pytest.raises(HarnessError, match="KEY=VALUE"):
        text_task.parse_recognizer_options(["pad"])


def test_embedded_smoke_set_runs_offline(tmp_path, monkeypatch):
    """No --data: the rendered smoke set, the default recogniser, and no network."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    run_all.main(["--task", "icdar13", "--out", str(tmp_path), "--limit", "6", "--threads", "1"])
    table = pd.read_csv(next((tmp_path / "icdar13").glob("table2_smoke*.csv")))
    assert table.n.iloc[0] == 6 and table.failed.iloc[0] == 0
    assert table.correct.iloc[0] >= 5  # clean rendered words; rapidocr reads them
    assert "SMOKE SET" in next((tmp_path / "icdar13").glob("table2_smoke*.md")).read_text()


def test_shared_stage_runs_once_for_x_and_x_plus_down(tmp_path, fake_recognizer, monkeypatch):
    from harness import registry

    class CountingUpscaler(registry.Preprocessor):
        name, scale, calls = "counting", 2, 0

        def __call__(self, image):
            CountingUpscaler.calls += 1
            return np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)

    monkeypatch.setitem(registry.REGISTRY, "counting", lambda options: CountingUpscaler())
    data = _folder(tmp_path / "set", [(f"w{i}.png", "good", 200, (12, 30)) for i in range(3)])
    run_all.main(["--task", "icdar13", "--preproc", "none", "counting", "counting+down", "--data", str(data),
                  "--out", str(tmp_path / "out")])
    assert CountingUpscaler.calls == 3
    per_word = pd.read_csv(next((tmp_path / "out" / "icdar13").glob("per_word_*.csv")))
    assert len(per_word) == 9 and per_word.correct.all()
    records = next((tmp_path / "out" / "icdar13" / "records").glob("*_counting+down_*")) / "records.jsonl"
    assert {r["recognizer_input_shape"] == [12, 30, 3] for r in read_records(records.parent).values()} == {True}


def test_recognizer_option_with_a_dot_names_the_table(tmp_path, monkeypatch):
    monkeypatch.setattr(text_task, "build_recognizer", lambda name, options: BrightnessReader())
    data = _folder(tmp_path / "set", [("a.png", "good", 200, (12, 30))])
    run_all.main(["--task", "icdar13", "--preproc", "none", "--data", str(data), "--out", str(tmp_path / "out"),
                  "--recognizer-option", "contrast_ths=0.1"])
    assert [p.name for p in (tmp_path / "out" / "icdar13").glob("table2_*.csv")] == [
        "table2_set_fake-contrast_ths_0_1.csv"]
    report = (tmp_path / "out" / "report" / "report.md").read_text()
    assert "Table II was not written" not in report and "set_fake-contrast_ths_0_1" in report


def test_table_name_has_no_dot_and_keeps_long_tags():
    tag = "svt_test_rapidocr_" + "width=compact_contrast_ths=0.1_" * 2
    assert text_task.table_name(tag) == ("svt_test_rapidocr_" + "width_compact_contrast_ths_0_1_" * 2)[:120]
    assert "." not in text_task.table_name("set_fake-contrast_ths=0.1")


def test_a_restorer_broken_on_every_word_stops_the_run(tmp_path, fake_recognizer, monkeypatch):
    from harness import registry

    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    registry.register("as_float", lambda image: image.astype(np.float32), scale=1)   # wrong dtype every time
    data = _folder(tmp_path / "set", [(f"w{i}.png", "good", 200, (12, 30)) for i in range(3)])
    with pytest.raises(HarnessError, match=r"restorer 'as_float' failed on each of its first 3 item\(s\)"):
        run_all.main(["--task", "icdar13", "--preproc", "none", "as_float", "--data", str(data),
                      "--out", str(tmp_path / "out")])


def test_several_degradations_give_one_table_each(tmp_path, fake_recognizer):
    data = _folder(tmp_path / "set", [("a.png", "good", 200, (32, 64)), ("b.png", "good", 200, (32, 64))])
    run_all.main(["--task", "icdar13", "--preproc", "none", "--data", str(data), "--out", str(tmp_path / "out"),
                  "--degrade", "x2,q30", "x4,q20"])
    names = sorted(p.name for p in (tmp_path / "out" / "icdar13").glob("table2_*.csv"))
    assert names == ["table2_set_fake_x2_q30.csv", "table2_set_fake_x4_q20.csv"]
