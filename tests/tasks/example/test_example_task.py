"""The worked example of docs/adding_a_task.md end to end: a task added with one registry line runs
through run_all.py with its table, resume, --force, a new record key, and a failing item.

Expected values are computed by hand from the data set (the smoke crops' heights), not by the task: the
smoke words are rendered dark ink (<= 80) on a light background (>= 170) and the task inverts every
odd-numbered one, so a reader that reads a crop at all reads its polarity right; it reads nothing from a
crop under 24 px high, and `bicubic` makes every crop 4x higher.
"""
from __future__ import annotations

import pandas as pd
import pytest

import run_all
import tasks
from harness.store import read_records
from tasks.icdar13.smoke import SMOKE_WORDS, smoke_set
from tests.tasks.example import digits_task

MIN_HEIGHT = 24   # the reader's default --digits-min-height


@pytest.fixture
def reads(monkeypatch) -> list:
    """Register the task (the one registry line) and return the list of crops its reader reads."""
    monkeypatch.setitem(tasks.TASKS, "digits", "tests.tasks.example.digits_task")
    calls = []
    real = digits_task.read_polarity

    def counting(image, min_height):
        calls.append(image.shape)
        return real(image, min_height)

    monkeypatch.setattr(digits_task, "read_polarity", counting)
    return calls


def heights() -> dict[str, int]:
    return {word.id: word.source.shape[0] for word in smoke_set().items}


def table(out) -> pd.DataFrame:
    return pd.read_csv(out / "digits" / "table.csv").set_index("method")


def record_lines(out) -> int:
    return sum(len(p.read_text().splitlines()) for p in (out / "digits" / "records").glob("*/records*.jsonl"))


def test_table_resume_force_and_record_key(tmp_path, reads):
    h = heights()
    small = sum(1 for v in h.values() if v < MIN_HEIGHT)
    assert len(h) == len(SMOKE_WORDS) == 24 and 0 < small < 24 and 4 * min(h.values()) >= MIN_HEIGHT
    out = tmp_path / "out"
    args = ["--task", "digits", "--preproc", "none", "bicubic", "--out", str(out)]

    run_all.main(args)
    assert len(reads) == 2 * 24
    t = table(out)
    assert list(t.index) == ["none", "bicubic"] and (t.n == 24).all() and (t.failed == 0).all()
    assert t.loc["none", "correct"] == 24 - small and t.loc["bicubic", "correct"] == 24
    assert t.loc["none", "accuracy"] == pytest.approx(100 * (24 - small) / 24)
    assert (t.loc["bicubic", "fixed"], t.loc["bicubic", "broken"]) == (small, 0)
    assert t.loc["bicubic", "p_mcnemar"] == pytest.approx(2 * 0.5 ** small)   # 2 P(X <= 0), X ~ Bin(small, 1/2)
    assert pd.isna(t.loc["none", "fixed"])
    md = (out / "digits" / "table.md").read_text()
    assert "Toy digit reading" in md and "Provenance" in md and "commit" in md
    report = (out / "report" / "report.md").read_text()   # the generic section: the table as written
    assert "### Toy digit reading" in report and f"| bicubic | 24 | 24 | 100 | 0 | {small} | 0 | 0.0078 |" in report

    run_all.main(args)   # resume: everything is recorded
    assert len(reads) == 2 * 24 and record_lines(out) == 2 * 24
    run_all.main(args + ["--force"])   # recompute all; the new records win
    assert len(reads) == 4 * 24 and record_lines(out) == 4 * 24
    assert table(out).equals(t)

    run_all.main(args + ["--digits-min-height", "16"])   # a new reader setting: new records, all readable
    assert len(reads) == 6 * 24
    assert len(list((out / "digits" / "records").iterdir())) == 4
    assert (table(out).correct == 24).all()


def test_a_failing_item_is_recorded_and_the_run_goes_on(tmp_path, reads, monkeypatch):
    h = heights()
    small = [i for i, v in h.items() if v < MIN_HEIGHT]
    bad = small[0]
    real_score = digits_task.TASK.score

    def score(ctx, group, method, samples):   # the batch holding `bad` fails, then `bad` alone
        if any(s.item.id == bad for s in samples):
            raise ValueError(f"cannot read {bad}")
        return real_score(ctx, group, method, samples)

    monkeypatch.setattr(digits_task.TASK, "score", score)
    out = tmp_path / "out"
    args = ["--task", "digits", "--preproc", "none", "bicubic", "--out", str(out)]
    run_all.main(args)
    assert len(reads) == 2 * 23   # the other 7 of bad's batch were scored one at a time
    t = table(out)
    assert (t.failed == 1).all() and (t.n == 23).all()
    assert t.loc["none", "correct"] == 24 - len(small) and t.loc["bicubic", "correct"] == 23
    assert t.loc["bicubic", "fixed"] == len(small) - 1
    for folder in (out / "digits" / "records").iterdir():
        record = read_records(folder)[bad]
        assert f"cannot read {bad}" in record["error"] and record["correct"] is False

    monkeypatch.setattr(digits_task.TASK, "score", real_score)
    run_all.main(args)   # a re-run retries only the failed item
    assert len(reads) == 2 * 23 + 2
    t = table(out)
    assert (t.failed == 0).all() and (t.n == 24).all() and t.loc["bicubic", "fixed"] == len(small)
