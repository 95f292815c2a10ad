"""The one task loop: shared restorer prefixes, batches retried one item at a time, the failure policy,
resume and --force, on a small task made for the test."""
import argparse
from dataclasses import dataclass

import numpy as np
import pytest

from harness import registry
from harness.cli import RunContext
from harness.degrade import Degradation
from harness.errors import HarnessError, ImageLoadError
from harness.registry import BuildOptions
from harness.resize import imresize
from harness.runner import run_task
from harness.task import Group, Method, Task


@dataclass
class Item:
    id: str


class MeanTask(Task):
    """Scores the mean of each output; item "bad" cannot be loaded; the scorer fails on `score_fails`."""

    name = "mean"

    def __init__(self, n=5, batch=2, score_fails=()):
        self.n, self.batch, self.score_fails = n, batch, set(score_fails)
        self.score_calls, self.results = [], None

    def batch_size(self, ctx):
        return self.batch

    def groups(self, ctx):
        items = [Item(str(i)) for i in range(self.n)] + [Item("bad")]
        return [Group("g", items, Degradation(4, None), [Method(s, s) for s in ctx.preproc_specs])]

    def load(self, item):
        if item.id == "bad":
            raise ImageLoadError("bad: not an image")
        if item.id == "gone":
            raise FileNotFoundError("gone.png")
        return np.full((16, 12, 3), 10 * int(item.id), np.uint8)

    def record_key(self, ctx, group, method):
        return method.name, {"method": method.spec}, {}

    def score(self, ctx, group, method, samples):
        self.score_calls.append((method.name, [s.item.id for s in samples]))
        if any(s.item.id in self.score_fails for s in samples):
            raise ValueError("boom")
        return [{"mean": float(s.output.mean()), "shape": list(s.output.shape)} for s in samples]

    def write(self, ctx, groups, summary):
        self.results = summary.results
        return []


def _ctx(tmp_path, specs, force=False):
    args = argparse.Namespace(limit=None, force=force, cache=None)
    return RunContext(args=args, out_dir=tmp_path, preproc_specs=specs, build_options=BuildOptions())


@pytest.fixture
def counting_stage(monkeypatch):
    """Registers `twice` (x4 bicubic) and returns the list of input sizes it was called on."""
    calls = []

    def twice(image):
        calls.append(image.shape)
        return imresize(image, 4)

    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    registry.register("twice", twice, scale=4)
    return calls


def test_pipelines_that_share_a_first_stage_run_it_once_per_item(tmp_path, counting_stage):
    task = MeanTask(n=5)
    run_task(_ctx(tmp_path, ["twice", "twice+down"]), task)
    assert len(counting_stage) == 5                       # not 10: twice+down reuses twice's output
    group = task.groups(_ctx(tmp_path, []))[0]
    full, down = task.results.of(group, "twice"), task.results.of(group, "twice+down")
    assert full["1"]["shape"] == [16, 12, 3] and down["1"]["shape"] == [4, 3, 3]   # x4 of the 4x3 LR input
    assert full["1"]["mean"] == pytest.approx(10) and down["1"]["mean"] == pytest.approx(10)
    for record in full.values():
        if "error" not in record:
            assert {"time_load", "time_degrade", "time_restore", "time_score"} <= set(record)


def test_a_failing_batch_is_scored_again_one_item_at_a_time(tmp_path):
    task = MeanTask(n=4, batch=2, score_fails={"1"})
    run_task(_ctx(tmp_path, ["none"]), task)
    group = task.groups(_ctx(tmp_path, ["none"]))[0]
    records = task.results.of(group, "none")
    assert records["1"]["error"] == "mean scoring failed: ValueError: boom"
    assert records["0"]["mean"] == pytest.approx(0.0) and records["2"]["mean"] == pytest.approx(20.0)
    assert records["bad"]["error"] == "bad: not an image"          # a load failure is a record too
    # batches: [0, 1] fails, then [0] and [1] alone; [2, 3]; "bad" is never scored
    assert task.score_calls == [("none", ["0", "1"]), ("none", ["0"]), ("none", ["1"]), ("none", ["2", "3"])]
    assert task.results.common(group) == ["0", "2", "3"]


def test_any_load_error_of_an_item_is_recorded(tmp_path):
    task = MeanTask(n=2)
    task.groups = lambda ctx: [Group("g", [Item("0"), Item("gone")], None, [Method("none", "none")])]
    run_task(_ctx(tmp_path, ["none"]), task)
    group = task.groups(None)[0]
    assert task.results.of(group, "none")["gone"]["error"] == "FileNotFoundError: gone.png"
    assert task.results.of(group, "none")["0"]["shape"] == [16, 12, 3]   # not degraded: as loaded


def test_a_rerun_resumes_retries_failures_and_force_recomputes(tmp_path):
    task = MeanTask(n=3, batch=1, score_fails={"2"})
    run_task(_ctx(tmp_path, ["none"]), task)
    task.score_calls.clear()
    task.score_fails = set()
    run_task(_ctx(tmp_path, ["none"]), task)
    assert task.score_calls == [("none", ["2"])]                    # only the failed item again
    task.score_calls.clear()
    run_task(_ctx(tmp_path, ["none"], force=True), task)
    assert [ids for _, ids in task.score_calls] == [["0"], ["1"], ["2"]]


def test_a_restorer_failing_on_every_first_item_stops_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    registry.register("broken", lambda image: 1 / 0, scale=4)
    with pytest.raises(HarnessError, match=r"restorer 'broken' failed on each of its first 8 item\(s\)"):
        run_task(_ctx(tmp_path, ["bicubic", "broken"]), MeanTask(n=20, batch=3))
    # Fewer items than the window, one of them unreadable: every call failed, so the run still stops
    with pytest.raises(HarnessError, match=r"restorer 'broken' failed on each of its 5 item\(s\)"):
        run_task(_ctx(tmp_path / "b", ["bicubic", "broken"]), MeanTask(n=5, batch=3))
