"""`run_all.py --leaderboard` on the embedded smoke data: the table, its ranks and intervals, reuse of stored
records when a restorer is added, and the TASK=PATH form of --data."""
import json

import pandas as pd
import pytest

import run_all
from harness import registry
from harness.errors import HarnessError
from harness.resize import imresize
from harness.tables import read_table


@pytest.fixture
def counted(monkeypatch):
    """Registers `bicubic2` (MATLAB bicubic x4, like `bicubic`) and `brighter` (bicubic, then +8 levels),
    and returns the number of images each was called on."""
    calls = {"bicubic2": 0, "brighter": 0}

    def bicubic2(image):
        calls["bicubic2"] += 1
        return imresize(image, 4)

    def brighter(image):
        calls["brighter"] += 1
        return (imresize(image, 4).astype(int) + 8).clip(0, 255).astype("uint8")

    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    registry.register("bicubic2", bicubic2, scale=4)
    registry.register("brighter", brighter, scale=4)
    return calls


def test_leaderboard_table_ranks_and_reuse(tmp_path, counted):
    out = tmp_path / "out"
    common = ["--leaderboard", "--task", "quality", "--degrade", "x4,q30", "x4", "--limit", "3", "--threads", "1",
              "--out", str(out)]
    run_all.main([*common, "--preproc", "bicubic2"])
    board = read_table(out / "leaderboard" / "leaderboard").frame
    assert set(board.degradation) == {"x4_q30", "x4"} and set(board.method) == {"bicubic", "bicubic2"}
    for _, r in board.iterrows():   # bicubic2 is bicubic: the same score, difference 0 [0, 0], one shared rank
        assert r["rank"] == 1 and r["vs_bicubic"] == 0 and r["vs_bicubic_low"] == r["vs_bicubic_high"] == 0
    assert counted["bicubic2"] == 2 * 3

    run_all.main([*common, "--preproc", "bicubic2", "brighter"])   # one more restorer: only its cells run
    assert counted == {"bicubic2": 2 * 3, "brighter": 2 * 3}
    board = read_table(out / "leaderboard" / "leaderboard").frame
    brighter = board[board.method == "brighter"]
    # +8 grey levels everywhere costs PSNR on every image: worse than bicubic with an interval below 0, ranked
    # apart (3: after the two equal bicubics)
    assert (brighter.vs_bicubic_high < 0).all() and (brighter["rank"] == 3).all()
    md = (out / "leaderboard" / "leaderboard.md").read_text()
    assert "| quality | skimage-smoke | x4_q30 | 3 | brighter |" in md
    assert (out / "leaderboard" / "score_quality.png").is_file() and (out / "leaderboard" / "gain_heatmap.png").is_file()
    report = (out / "report" / "report.md").read_text()
    assert "## Restorer leaderboard" in report and "plots/leaderboard_gain_heatmap.png" in report
    provenance = json.loads((out / "leaderboard" / "leaderboard.json").read_text())["provenance"]
    assert provenance["config"]["degradations"] == ["x4_q30", "x4"]


def test_leaderboard_data_paths_name_their_task(tmp_path):
    with pytest.raises(HarnessError, match="with --leaderboard give each path as TASK=PATH"):
        run_all.main(["--leaderboard", "--preproc", "bicubic", "--data", str(tmp_path), "--out", str(tmp_path)])


def test_words_are_compared_with_none_by_mcnemar(tmp_path):
    out = tmp_path / "out"
    run_all.main(["--leaderboard", "--task", "icdar13", "--preproc", "bicubic", "--degrade", "x4,q30", "--limit", "6",
                  "--threads", "1", "--out", str(out)])
    board = read_table(out / "leaderboard" / "leaderboard").frame.set_index("method")
    words = pd.read_csv(next((out / "leaderboard" / "runs" / "x4_q30" / "icdar13").glob("per_word_*.csv")),
                        keep_default_na=False)
    right = words.pivot(index="id", columns="method", values="correct").astype(str) == "True"
    fixed = int((right["bicubic"] & ~right["none"]).sum())
    broken = int((~right["bicubic"] & right["none"]).sum())
    from math import comb
    n, k = fixed + broken, min(fixed, broken)
    p = 1.0 if n == 0 else min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n)
    assert board.loc["bicubic", "p_vs_none"] == pytest.approx(p)
    assert board.loc["bicubic", "vs_none"] == pytest.approx(100 * (fixed - broken) / 6)


def test_tasks_run_by_separate_commands_build_one_leaderboard(tmp_path, counted):
    out = tmp_path / "out"
    common = ["--leaderboard", "--limit", "2", "--threads", "1", "--out", str(out)]
    run_all.main([*common, "--task", "quality", "--preproc", "bicubic2", "--degrade", "x4,q30"])
    run_all.main([*common, "--task", "icdar13", "--preproc", "bicubic", "--degrade", "x4,q40"])
    table = read_table(out / "leaderboard" / "leaderboard")
    board = table.frame
    assert sorted(set(zip(board.task, board.degradation))) == [("icdar13", "x4_q40"), ("quality", "x4_q30")]
    quality = board[board.task == "quality"]
    assert sorted(quality.method) == ["bicubic", "bicubic2"] and (quality["rank"] == 1).all()
    assert any("kept from the earlier leaderboard" in n and "quality/skimage-smoke/x4_q30" in n for n in table.notes)
    assert table.provenance["config"]["degradations"] == ["x4_q30", "x4_q40"]

    # the quality command again: its rows are replaced, not added twice; the text rows are kept
    run_all.main([*common, "--task", "quality", "--preproc", "bicubic2", "--degrade", "x4,q30"])
    board = read_table(out / "leaderboard" / "leaderboard").frame
    assert len(board[board.task == "quality"]) == 2 and len(board[board.task == "icdar13"]) == 2
    assert counted["bicubic2"] == 2   # the second quality command reused every stored record


def test_reduced_precision_of_one_command_is_a_note_that_outlives_later_commands(tmp_path):
    out = tmp_path / "out"
    common = ["--leaderboard", "--limit", "2", "--threads", "1", "--out", str(out), "--preproc", "bicubic"]
    run_all.main([*common, "--task", "icdar13", "--degrade", "x4,q40", "--precision", "bf16"])
    run_all.main([*common, "--task", "quality", "--degrade", "x4,q30"])
    table = read_table(out / "leaderboard" / "leaderboard")
    assert table.provenance["config"]["precision"] == {"icdar13": "bf16", "quality": "fp32"}
    notes = [n for n in table.notes if n.startswith("Arithmetic:")]
    assert notes == ["Arithmetic: the network restorers ran under autocast on icdar13 (--precision bf16), in fp32 on "
                     "quality (docs/restorers.md, Precision and memory format)."]
    run_all.main([*common, "--task", "icdar13", "--degrade", "x4,q40"])   # the text rows again, in fp32: no note
    assert not any(n.startswith("Arithmetic:") for n in read_table(out / "leaderboard" / "leaderboard").notes)


def test_face_rows_compare_each_method_with_the_one_above(tmp_path):
    out = tmp_path / "out"
    run_all.main(["--leaderboard", "--task", "widerface", "--preproc", "bicubic", "--degrade", "x4,q30", "--limit", "4",
                  "--threads", "1", "--out", str(out)])
    board = read_table(out / "leaderboard" / "leaderboard").frame.set_index("method")
    upper, lower = board.sort_values("score", ascending=False).index
    assert board.loc[lower, "above"] == upper and pd.isna(board.loc[upper, "vs_above"])
    # the difference from the method above, on the same bootstrap resamples, mirrors the one against it
    key = "vs_none" if upper == "bicubic" else "vs_bicubic"
    assert board.loc[lower, "vs_above"] == pytest.approx(-board.loc[upper, key])
    assert board.loc[lower, "vs_above_low"] == pytest.approx(-board.loc[upper, f"{key}_high"])
    assert board.loc[lower, "vs_above_high"] == pytest.approx(-board.loc[upper, f"{key}_low"])


def test_restorers_and_degradations_per_task_in_one_command(tmp_path, counted):
    out = tmp_path / "out"
    run_all.main(["--leaderboard", "--task", "quality", "icdar13", "--preproc", "bicubic2", "icdar13=brighter",
                  "--degrade", "x4,q30", "icdar13=x4,q40", "--limit", "2", "--threads", "1", "--out", str(out)])
    board = read_table(out / "leaderboard" / "leaderboard").frame
    quality, text = board[board.task == "quality"], board[board.task == "icdar13"]
    assert sorted(quality.method) == ["bicubic", "bicubic2"] and set(quality.degradation) == {"x4_q30"}
    assert sorted(text.method) == ["bicubic", "brighter", "none"] and set(text.degradation) == {"x4_q40"}
    assert counted == {"bicubic2": 2, "brighter": 2}


def test_unknown_restorer_for_one_task_is_one_error_before_any_work(tmp_path):
    with pytest.raises(HarnessError, match="unknown preprocessor 'nope'"):
        run_all.main(["--leaderboard", "--task", "quality", "--preproc", "bicubic", "quality=nope",
                      "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out" / "leaderboard" / "runs").exists()


def test_a_task_without_leaderboard_rows_is_an_error_when_named_and_a_note_under_all():
    """Issue 26: no silent drop of a task that gives no leaderboard rows."""
    from harness.task import Task
    from tasks import load_task
    from tasks.leaderboard.run import ranked_tasks

    class Plain(Task):
        name = "plain"

    known = {"plain": Plain(), "quality": load_task("quality")}
    with pytest.raises(HarnessError, match="plain task gives no leaderboard rows"):
        ranked_tasks(known, ["plain", "quality"], named=True)
    assert ranked_tasks(known, ["plain", "quality"], named=False) == (
        ["quality"], ["plain left out: it gives no leaderboard rows"])
