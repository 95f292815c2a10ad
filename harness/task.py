"""What a task is, as the runner sees it: groups of items, methods, one scoring call, one writer.

A task (`tasks/<name>/task.py`) fills in a `Task` subclass; `harness/runner.py` does everything else:
sharding, loading and degrading each item once, running the restorers (shared pipeline prefixes once,
in batches), the item-failure policy, resume, timings, progress and rank merging. The flow is one way:

    group.items -> load -> degrade(group.degradation) -> restorer(method.spec) -> task.score -> store
    stored records of every (group, method) -> task.summarize -> Summary
    Summary -> task.write (tables the report renders), task.leaderboard_rows (the leaderboard's rows)

`summarize` is pure and called once per run: every number people quote (paired means, APs, intervals)
is computed there, from the records in memory; `write` and `leaderboard_rows` only read the Summary.

Its report section (`report_section`) renders what `write` stored; without one, the report shows the
task's tables as written. A *group* is what one results table is made of: the items of a data set under one degradation, and the
methods to compare on them (e.g. Set5 at JPEG QF 20 with bicubic and cajnn). A *method* is one column:
a restorer spec, or none (the task scores its input as it is), fed the degraded input or the original
image. docs/adding_a_task.md walks through a new task.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.degrade import Degradation, parse_degradations
from harness.errors import HarnessError


@dataclass(frozen=True)
class Method:
    """One column of a task's table: what is scored."""

    name: str                  # as printed: "cajnn", "LR+cajnn", "GT"
    spec: str | None           # the restorer spec; None: the input itself is scored
    source: str = "degraded"   # the restorer's input: the "degraded" image or the loaded "original"


@dataclass
class Group:
    """The items of one table: a data set under one degradation (None: as loaded), and its methods."""

    name: str                            # unique within the task, e.g. "Set5_q20" (progress lines)
    items: list                          # in run order; `Task.item_id` names each
    degradation: Degradation | None
    methods: list[Method]
    info: dict = field(default_factory=dict)   # the task's own context (its data set, recogniser, ...)


@dataclass
class Sample:
    """One item ready to score under one method."""

    item: Any
    reference: np.ndarray      # the target: the modcropped original when degraded, else the original
    input: np.ndarray          # what the method's restorer got
    output: np.ndarray         # what is scored: the restorer's output, or `input` without a restorer


@dataclass
class Results:
    """The stored records of a finished run, by group and method, restricted to the items run."""

    records: dict[tuple[str, str], dict[str, dict]]   # (group name, method name) -> {item id: record}
    ids: dict[str, list[str]] = field(default_factory=dict)   # group name -> the ids of the items run, in order

    def run_ids(self, group: Group) -> list[str]:
        """Return the ids of the items of `group` this run covered (`--limit N`: the first N), in order."""
        return self.ids[group.name]

    def of(self, group: Group, method: Method | str) -> dict[str, dict]:
        """Return {item id: record} of one method on one group, in the group's item order."""
        name = method if isinstance(method, str) else method.name
        return self.records[(group.name, name)]

    def ok(self, group: Group, method: Method | str) -> dict[str, dict]:
        """Return the records of one method on one group that have no error."""
        return {i: r for i, r in self.of(group, method).items() if "error" not in r}

    def common(self, group: Group) -> list[str]:
        """Return the ids (in item order) that every method of `group` scored without error: the
        items paired statistics are computed on."""
        oks = [self.ok(group, m) for m in group.methods]
        if not oks:
            return []
        return [i for i in oks[0] if all(i in ok for ok in oks[1:])]


@dataclass
class Summary:
    """What a finished run comes to, computed once by `Task.summarize`: the records and the task's numbers."""

    results: Results
    groups: dict[str, Any] = field(default_factory=dict)   # group name -> the task's numbers of that group
    run: Any = None                                         # the task's numbers across its groups, if any


class Task:
    """A benchmark task: override `groups`, `load`, `record_key`, `score`, `summarize` and `write`."""

    name: str = "task"
    default_preproc: list[str] = ["none", "bicubic"]
    unit: str = "items"          # in progress lines
    time_field: str = "time_score"   # the record field of the scoring seconds per item

    # What the task accepts of `--degrade` (parsed once into `ctx.degradations`; see `degradations`):
    scales: tuple[int, ...] | None = None         # the scales it degrades by (None: any)
    one_degradation: bool = False                 # one degradation per run (e.g. one LR setting)
    default_degradations: tuple = (None,)         # without --degrade; None: the items as loaded
    degrade_aliases: dict[str, str] = {}          # its own options that spell --degrade, e.g. {"--qf": "x4,q{}"}
    # What the leaderboard needs (tasks/leaderboard):
    baselines: tuple[str, ...] = ()   # methods run before the restorers (e.g. "none": the input scored as is)
    score_note: str = ""              # what a row's score is, for the leaderboard's notes
    digits: int = 4                   # decimals of a printed score

    def add_arguments(self, parser) -> None:
        """Add the task's own command-line options."""

    def degradations(self, ctx) -> list[Degradation | None]:
        """Return the degradations of the run: `--degrade` (`ctx.degradations`) or one of the task's
        `degrade_aliases` options, checked against `scales` and `one_degradation`; else the defaults."""
        given = getattr(ctx, "degradations", None)
        for flag, spelling in self.degrade_aliases.items():
            value = getattr(ctx.args, flag.lstrip("-").replace("-", "_"), None)
            if value is None or value == []:
                continue
            if given is not None:
                raise HarnessError(f"{flag} and --degrade both give the {self.name} task's degradations; give one")
            given = parse_degradations([spelling.format(v) for v in (value if isinstance(value, list) else [value])])
        if given is None:
            return list(self.default_degradations)
        for d in given:
            if self.scales is not None and d.scale not in self.scales:
                s = self.scales[0]
                raise HarnessError(f"--degrade {d.tag}: the {self.name} task degrades x{s} (e.g. x{s},q20, or "
                                   f"x{s} without JPEG)")
        if self.one_degradation and len(given) != 1:
            raise HarnessError(f"--degrade {' '.join(d.tag for d in given)}: the {self.name} task runs one LR "
                               f"setting (one degradation) at a time; run it once per setting")
        return given

    def batch_size(self, ctx) -> int:
        """Return how many items are restored and scored per call (e.g. a recogniser's batch)."""
        return 1

    def groups(self, ctx) -> list[Group]:
        """Return the groups of the run (check the run's options here: errors before any work)."""
        raise NotImplementedError

    def item_id(self, item) -> str:
        """Return the id of an item, unique within its group (the key of its records)."""
        return str(item.id)

    def load(self, item) -> np.ndarray:
        """Return the item's image (HxWx3 uint8 RGB); raise HarnessError for an unreadable one."""
        raise NotImplementedError

    def record_key(self, ctx, group: Group, method: Method) -> tuple[str, dict, dict]:
        """Return (folder prefix, config, meta) of the records of `method` on `group`: `config` is
        everything that made them (it keys the folder: a change gives new records), `meta` what a
        reader needs that is not part of that identity."""
        raise NotImplementedError

    def score(self, ctx, group: Group, method: Method, samples: list[Sample]) -> list[dict]:
        """Return one record per sample (fields beside "id"; "error" for a failed item); raising
        an item error fails the batch, which the runner then scores one sample at a time."""
        raise NotImplementedError

    def failure_fields(self, item, method: Method) -> dict:
        """Return the fields a failed item's record carries beside "id" and "error"."""
        return {}

    def summarize(self, ctx, groups: list[Group], results: Results) -> Summary:
        """Return the run's numbers (paired means, corpus-level metrics such as AP, intervals), computed
        once from the records in memory; pure: it writes nothing. The default carries the records only."""
        return Summary(results)

    def write(self, ctx, groups: list[Group], summary: Summary) -> list[Path]:
        """Write the task's tables from `summary` (no recomputation); return the paths written."""
        raise NotImplementedError

    def leaderboard_rows(self, ctx, groups: list[Group], summary: Summary) -> list[dict]:
        """Return the task's leaderboard rows (harness/leaderboard.py): per group, one row per method with
        "set", "method" (the restorer spec; "none" for no restoration), "metric", "score" (higher is
        better), "n_items", the `vs_none` / `vs_bicubic` differences with intervals, "seconds_per_mp" and
        "parameters". The default, no rows, leaves the task out of `run_all.py --leaderboard`."""
        return []

    def report_section(self, out_dir: Path, report_dir: Path):
        """Return the task's section of the report (a `tasks.report.model.Section`), or None for the
        generic one: every table the task wrote under OUT/<name>/ (but `per_*` tables), as written."""
        return None
