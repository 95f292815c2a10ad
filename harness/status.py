"""The status file of a task's results, `OUT/<task>/status.json`: what its runs expected, did and failed.

harness/runner.py writes it (atomically, rank 0 only): when a run starts, at most every `INTERVAL_S`
seconds while it runs, and when every rank has finished (from the records of all ranks). Per group of
the task and per method it holds the items the run covers (`expected`), those recorded without error
(`done`) and with one (`failed`, and the first error), the newest record time, and the record store's
name, configuration and provenance. A group run again replaces its entry; groups of earlier runs into
the same folder stay. Reports read this file instead of the runner's record stores: a method with
fewer records than expected is a run that stopped (or is still running).

Results folders written before this file existed have none: the report then says so in one line (a
re-run of the same command writes it, reusing every finished record).
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.store import atomic_write_json

STATUS_FILE = "status.json"
FORMAT = 1
INTERVAL_S = 10.0   # while a run works, the status is rewritten at most this often (a few ms each)


@dataclass
class MethodStatus:
    """One method on one group: what the run expected, did and failed, and which store holds it."""

    store: str                # the record store's folder name (under OUT/<task>/records/)
    config: dict              # what made its records (the task's record_key config)
    provenance: dict
    expected: int             # items the run covers (`--limit N`: the first N)
    done: int                 # of those, recorded without error
    failed: int               # of those, recorded with an error (counted wrong or left out by the task)
    error: str = ""           # the first failed item's error
    newest_record: float = 0.0   # the newest record's time (seconds since the epoch; 0: none)
    meta: dict = field(default_factory=dict)   # the task's record_key meta (e.g. the table its records go to)
    older_stores: list[str] = field(default_factory=list)   # stores of earlier runs with another config
    about: dict = field(default_factory=dict)   # the restorer as the report describes it (registry.report_description)

    @property
    def recorded(self) -> int:
        """Return the items recorded, with or without error."""
        return self.done + self.failed


@dataclass
class GroupStatus:
    """One group (one results table): its size, the items run and its methods."""

    total: int                # items in the group (the whole data set)
    expected: int             # items the run covers
    finished: bool            # every rank finished its share (False: the run is going on or stopped)
    methods: dict[str, MethodStatus]


@dataclass
class TaskStatus:
    """A task's status file: its groups, by name, in the order they were run."""

    task: str
    updated: str
    groups: dict[str, GroupStatus]

    def entries(self) -> list[tuple[str, str, MethodStatus]]:
        """Return (group name, method name, status) of every method of every group."""
        return [(g, m, s) for g, group in self.groups.items() for m, s in group.methods.items()]


def method_status(store, ids: list[str], records: dict[str, dict] | None = None) -> MethodStatus:
    """Return the status of `store` (a harness.store.RecordStore) over the items `ids`: from `records`
    ({id: record}, e.g. every rank's) when given, else from what this process's store knows."""
    done = failed = 0
    error = ""
    for i in ids:
        if records is not None:
            record = records.get(i)
            message = None if record is None else record.get("error", "")
            ok = record is not None and "error" not in record
        else:
            ok, message = store.has(i), store.error(i)
        if ok:
            done += 1
        elif message is not None:
            failed += 1
            error = error or str(message)
    files = list(store.folder.glob("records*.jsonl"))
    return MethodStatus(store.folder.name, store.config, store.provenance, len(ids), done, failed, error,
                        max((f.stat().st_mtime for f in files), default=0.0), store.meta)


def update_status(task_dir: Path, task: str, groups: dict[str, GroupStatus]) -> Path:
    """Write `groups` into `task_dir/status.json` (replacing those groups, keeping others); return its path."""
    path = Path(task_dir) / STATUS_FILE
    old = read_status(task_dir, strict=False)
    merged = dict(old.groups) if old else {}
    for name, group in groups.items():
        before = merged.get(name)
        for method, status in group.methods.items():
            previous = before.methods.get(method) if before else None
            if previous is not None:
                older = previous.older_stores + ([previous.store] if previous.store != status.store else [])
                status.older_stores = [s for s in dict.fromkeys(status.older_stores + older) if s != status.store]
        merged[name] = group
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    atomic_write_json(path, {"format": FORMAT, "task": task, "updated": now,
                             "groups": {name: _plain(g) for name, g in merged.items()}})
    return path


def _plain(group: GroupStatus) -> dict:
    return {"total": group.total, "expected": group.expected, "finished": group.finished,
            "methods": {name: vars(m) for name, m in group.methods.items()}}


def read_status(task_dir: Path, strict: bool = True) -> TaskStatus | None:
    """Return the status file of `task_dir`, or None when there is none; a damaged file raises
    HarnessError (`strict=False`: None, so that the next run writes a fresh one)."""
    path = Path(task_dir) / STATUS_FILE
    if not path.is_file():
        return None
    try:
        blob = json.loads(path.read_text(encoding="utf-8"))
        groups = {name: GroupStatus(g["total"], g["expected"], g["finished"],
                                    {m: MethodStatus(**s) for m, s in g["methods"].items()})
                  for name, g in blob["groups"].items()}
        return TaskStatus(blob["task"], blob["updated"], groups)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if strict:
            raise HarnessError(f"{path}: not a status file ({exc}); re-run the task to rewrite it") from None
        return None


def no_status_line(task: str, task_dir: Path) -> str:
    """Return the report's line for a results folder whose runs predate the status file."""
    return (f"{task}: {Path(task_dir) / STATUS_FILE} not found (results of an older version): completeness is "
            "not checked; re-run the same command to write it (finished items are reused, not recomputed)")
