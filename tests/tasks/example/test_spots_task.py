"""The acceptance example of issue 26: a fourth task with a corpus-level metric (AP of a toy detector),
added with one registry line, appears in a run, the report and the leaderboard.

Expected values are computed by hand from how the images are drawn (spots_task.pictures: image k holds
k % 4 squares, so 3 * (0 + 1 + 2 + 3) = 18 squares; the detector finds every square of an undegraded image
exactly), not by the task.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

import run_all
import tasks
from tests.tasks.example import spots_task


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(tasks.TASKS, "spots", "tests.tasks.example.spots_task")   # the one registry line


def test_average_precision_by_hand():
    # 0.9 right, 0.8 wrong, 0.7 right of 3 squares: precision 1 at recall 1/3, 2/3 at recall 2/3.
    matched = [[(0.9, True), (0.8, False)], [(0.7, True)]]
    assert spots_task.average_precision(matched, [2, 1]) == pytest.approx(1 / 3 + 1 / 3 * 2 / 3)
    # A resample that draws image 0 twice and image 1 never: 2 of its 4 squares found at precision 1.
    assert spots_task.average_precision(matched, [2, 1], [2.0, 0.0]) == pytest.approx(0.5)


def test_run_report_and_leaderboard(tmp_path, registered):
    out = tmp_path / "out"
    assert run_all.main(["--task", "spots", "--preproc", "none", "--threads", "1", "--out", str(out)]) == 0
    t = pd.read_csv(out / "spots" / "table_spots.csv").set_index("method")
    assert t.loc["none", "ap"] == 1.0 and t.loc["none", "squares"] == 18 and t.loc["none", "detections"] == 18
    assert t.loc["none", "n_images"] == 12
    report = (out / "report" / "report.md").read_text()
    assert "## spots" in report and "Toy spot detection AP, spots (worked example)" in report

    board = tmp_path / "board"
    assert run_all.main(["--leaderboard", "--task", "spots", "--preproc", "bicubic", "--degrade", "x4", "x4,q20",
                         "--threads", "1", "--out", str(board)]) == 0
    rows = pd.DataFrame(json.loads((board / "leaderboard" / "leaderboard.json").read_text())["rows"])
    assert set(rows.task) == {"spots"} and set(rows.degradation) == {"x4", "x4_q20"}
    assert sorted(rows.method) == ["bicubic", "bicubic", "none", "none"]   # the task's baseline `none` added
    assert (rows.metric == "AP").all() and (rows.n_items == 12).all() and rows["rank"].min() == 1
    assert "| spots | drawn squares | x4 |" in (board / "report" / "report.md").read_text()


def test_it_accepts_only_x4_degradations(tmp_path, registered):
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="the spots task degrades x4"):
        run_all.main(["--task", "spots", "--degrade", "x2", "--threads", "1", "--out", str(tmp_path)])
