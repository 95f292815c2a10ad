"""The one loop of every task: shard, load and degrade once, restore, score, store, resume, write.

    run_task(ctx, task)

For each group of the task (harness/task.py) the runner opens one record store per method, skips the
items every store has done (a re-run resumes; failed items are retried; `--force` recomputes), and
works through this rank's share of the rest in batches of `task.batch_size(ctx)` items:

1. load each item once and degrade it once (the group's degradation);
2. per method, run its restorer on the batch; pipelines that share leading stages (`cajnn` and
   `cajnn+down`, `arcnn+rrdb` and `arcnn+dncnn`) run the shared stages once per item;
3. hand the outputs to `task.score` and append one record per item, with the seconds spent loading,
   degrading, restoring and scoring.

Failure policy, the same for every task: an item that cannot be loaded, degraded, restored or scored
is a record with an "error" (the run goes on; a batch that fails is retried one item at a time); a
restorer that fails on each of its first FIRST_ITEMS items is broken (a wrong plug-in or checkpoint,
not bad data) and stops the run with one line. Finished records are never lost. After every rank has
finished its share (`torchrun`), rank 0 reads all records, calls `task.summarize` once and hands the
Summary to `task.write`. Rank 0 keeps the task's status file (expected / done / failed per group and
method, harness/status.py) as the run starts, while it runs and when every rank has finished: reports
read it, never the record stores.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from harness.degrade import degrade
from harness.errors import HarnessError, one_line
from harness.progress import progress_bar
from harness.registry import Pipeline, Preprocessor, report_description, run_stages, stage_names
from harness.status import INTERVAL_S, GroupStatus, method_status, update_status
from harness.store import RecordStore, config_key
from harness.task import Group, Method, Results, Sample, Summary, Task

# What a restorer or scorer may raise on one odd item (e.g. a crop a few pixels high): recorded as a
# failure of that item. Anything else is a bug and ends the run (records so far are kept).
ITEM_ERRORS: tuple[type[BaseException], ...] = (HarnessError, RuntimeError, ValueError)
try:
    import cv2

    ITEM_ERRORS += (cv2.error,)
except ImportError:   # OpenCV is a dependency of the recognisers and detectors, not of the harness
    pass

FIRST_ITEMS = 8   # a restorer that fails on each of its first 8 items (or all, if fewer) stops the run


@dataclass
class TaskRun:
    """A finished run of one task: its context, groups and, on the rank that writes, its Summary and the
    paths written."""

    ctx: object
    groups: list[Group]
    summary: Summary | None
    paths: list[Path]


def run(args, task: Task, specs: list[str], out_dir: Path, options, degradations: list | None = None,
        rank: int = 0, world_size: int = 1) -> TaskRun:
    """Run `task` with the restorers `specs` under `degradations` (None: the task's own) into `out_dir`: the
    one driver of `run_all.py` and the leaderboard. Every spec is built first (a bad name stops every rank
    before any work)."""
    from harness.cli import RunContext, agree_on_error

    ctx = RunContext(args=args, out_dir=Path(out_dir), preproc_specs=list(specs), build_options=options,
                     rank=rank, world_size=world_size, degradations=degradations)
    error = None
    try:
        for spec in ctx.preproc_specs:   # fail fast on a bad name before any long work
            ctx.preprocessor(spec)
    except HarnessError as exc:
        error = str(exc)
    agree_on_error(error, world_size)
    done = run_task(ctx, task)   # every rank runs its shard; rank 0 merges the records and writes the tables
    for spec in ctx.preproc_specs:
        pre = ctx.preprocessor(spec)
        if hasattr(pre, "cache_summary"):
            print(("rank %d: " % rank if world_size > 1 else "") + pre.cache_summary(), file=sys.stderr)
    return done


def run_task(ctx, task: Task) -> TaskRun:
    """Run `task` as `ctx` says (every rank its share); return its groups and, on rank 0, its Summary and
    the paths written."""
    groups, summary = execute(ctx, task)
    return TaskRun(ctx, groups, summary, task.write(ctx, groups, summary) if summary is not None else [])


def execute(ctx, task: Task) -> tuple[list[Group], Summary | None]:
    """Score every pending item of `task` (this rank's share); return its groups and, on the rank that
    writes (rank 0, after every rank has finished), the task's summary of the stored records of the items
    run (`task.summarize`, called once). Rank 0 keeps the task's status file (harness/status.py) up to date."""
    groups = task.groups(ctx)
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise HarnessError(f"task {task.name}: two groups share a name ({names}); rename one")
    broken = BrokenRestorerCheck()
    stores = {g.name: {m.name: open_store(ctx, task, g, m) for m in g.methods} for g in groups}
    status = StatusWriter(ctx, task, groups, stores)
    status.write(force=True)
    for group in groups:
        items = run_items(ctx, group)
        mine = ctx.shard(items)
        todo = [it for it in mine if any(not s.has(task.item_id(it)) for s in stores[group.name].values())]
        report_resume(ctx, task, group, stores[group.name], mine, todo)
        with progress_bar(len(todo), f"{task.name} {group.name}", task.unit) as bar:
            size = task.batch_size(ctx)
            for start in range(0, len(todo), size):
                chunk = todo[start:start + size]
                run_batch(ctx, task, group, chunk, stores[group.name], broken, len(items))
                bar.update(len(chunk))
                status.write()
        for store in stores[group.name].values():
            store.close()
        status.write(force=True)

    def has_results(spec: str) -> bool:
        return any(stores[g.name][m.name].done() for g in groups for m in g.methods if m.spec == spec)

    broken.finish(has_results)
    if not ctx.finish_shard():   # every rank waits for all shards; rank 0 merges and writes
        return groups, None
    results = collect(task, ctx, groups, stores)
    status.write(results)
    return groups, task.summarize(ctx, groups, results)


class StatusWriter:
    """Rank 0's writer of the task's status file: expected / done / failed per group and method."""

    def __init__(self, ctx, task: Task, groups: list[Group], stores: dict):
        self.ctx, self.task, self.groups, self.stores = ctx, task, groups, stores
        self.ids = {g.name: [task.item_id(it) for it in run_items(ctx, g)] for g in groups}
        self.about = {m.spec: report_description(ctx.preprocessor(m.spec)) for g in groups for m in g.methods if m.spec}
        self.last = 0.0

    def write(self, results: Results | None = None, force: bool = False) -> None:
        """Write the status: from `results` (every rank's records; the run finished) or from this rank's
        stores, then at most every INTERVAL_S seconds unless `force`."""
        now = time.monotonic()
        if self.ctx.rank != 0 or (results is None and not force and now - self.last < INTERVAL_S):
            return
        self.last = now
        entries = {}
        for g in self.groups:
            ids = self.ids[g.name]
            methods = {m.name: method_status(self.stores[g.name][m.name], ids,
                                             results.of(g, m) if results is not None else None)
                       for m in g.methods}
            for m in g.methods:
                methods[m.name].about = self.about.get(m.spec, {})
            entries[g.name] = GroupStatus(len(g.items), len(ids), results is not None, methods)
        update_status(self.ctx.task_dir(self.task.name), self.task.name, entries)


def report_resume(ctx, task: Task, group: Group, stores: dict[str, RecordStore], mine: list, todo: list) -> None:
    """Print how much of `group` a resumed run takes from stored records (nothing when it reuses none)."""
    reused = sum(s.has(task.item_id(it)) for it in mine for s in stores.values())
    if not reused:
        return
    prefix = f"rank {ctx.rank}: " if ctx.world_size > 1 else ""
    partly = len(todo) and reused - (len(mine) - len(todo)) * len(stores)
    print(f"{prefix}{task.name} {group.name}: resumed: {len(mine) - len(todo)} of {len(mine)} {task.unit} from "
          f"stored records" + (f" ({partly} more method result(s) reused for the {len(todo)} left)" if partly else ""),
          file=sys.stderr)


def run_items(ctx, group: Group) -> list:
    """Return the items of `group` this run covers (`--limit N`: the first N)."""
    return group.items[: ctx.limit] if ctx.limit else list(group.items)


def open_store(ctx, task: Task, group: Group, method: Method) -> RecordStore:
    """Return the record store of `method` on `group`: OUT/<task>/records/<prefix>_<config hash>."""
    prefix, config, meta = task.record_key(ctx, group, method)
    folder = ctx.task_dir(task.name) / "records" / f"{prefix}_{config_key(config)}"
    return ctx.store(folder, config, meta=meta or None)


def collect(task: Task, ctx, groups: list[Group], stores: dict) -> Results:
    """Return the stored records (all ranks) of the items run, in item order."""
    records, run = {}, {}
    for group in groups:
        ids = run[group.name] = [task.item_id(it) for it in run_items(ctx, group)]
        for method in group.methods:
            stored = {str(r["id"]): r for r in stores[group.name][method.name].records()}
            records[(group.name, method.name)] = {i: stored[i] for i in ids if i in stored}
    return Results(records, run)


@dataclass
class Prepared:
    """An item loaded and degraded once for all methods of its group."""

    original: np.ndarray | None = None
    reference: np.ndarray | None = None
    degraded: np.ndarray | None = None
    time_load: float = 0.0
    time_degrade: float | None = None
    error: str | None = None            # the item could not be loaded
    degrade_error: str | None = None    # the item could not be degraded (methods on the original still run)


def prepare(task: Task, item, group: Group) -> Prepared:
    """Return the item loaded and degraded (errors recorded, not raised)."""
    t0 = time.perf_counter()
    try:
        original = task.load(item)
    except ITEM_ERRORS + (OSError,) as exc:   # an unreadable item, whatever the task's loader raised
        return Prepared(error=_message(exc))
    p = Prepared(original=original, reference=original, degraded=original, time_load=time.perf_counter() - t0)
    d = group.degradation
    if d is not None:
        t0 = time.perf_counter()
        try:
            p.reference, p.degraded = degrade(original, d.scale, d.quality)
            p.time_degrade = time.perf_counter() - t0
        except HarnessError as exc:
            p.degrade_error = str(exc)
    return p


def run_batch(ctx, task: Task, group: Group, chunk: list, stores: dict[str, RecordStore],
              broken: "BrokenRestorerCheck", total: int) -> None:
    """Restore and score one batch of items under every method that has not done them."""
    pending = {m.name: [it for it in chunk if not stores[m.name].has(task.item_id(it))] for m in group.methods}
    prepared = {task.item_id(it): prepare(task, it, group) for it in chunk
                if any(it in todo for todo in pending.values())}
    prefixes = {i: {} for i in prepared}   # item id -> {restorer stage prefix: (output, seconds)}
    for method in group.methods:
        store, ready = stores[method.name], []
        for item in pending[method.name]:
            p = prepared[task.item_id(item)]
            error = p.error or (p.degrade_error if method.source == "degraded" else None)
            if error:
                store.append(failure(task, item, method, error))
            else:
                ready.append(item)
        if not ready:
            continue
        ids = [task.item_id(it) for it in ready]
        inputs = [prepared[i].original if method.source == "original" else prepared[i].degraded for i in ids]
        if method.spec is None:
            outputs, restore_s = inputs, [None] * len(ready)
        else:
            restored = restore(ctx.preprocessor(method.spec), method.spec, inputs, [prefixes[i] for i in ids])
            outputs, restore_s, keep = [], [], []
            for item, (out, seconds, error) in zip(ready, restored):
                broken.count(method.spec, error, total)
                if error:
                    store.append(failure(task, item, method, error))
                else:
                    keep.append(item), outputs.append(out), restore_s.append(seconds)
            ready, ids = keep, [task.item_id(it) for it in keep]
            inputs = [prepared[i].original if method.source == "original" else prepared[i].degraded for i in ids]
        if not ready:
            continue
        samples = [Sample(item, prepared[i].reference, x, y) for item, i, x, y in zip(ready, ids, inputs, outputs)]
        for sample, i, seconds, (fields, score_s) in zip(samples, ids, restore_s, score(ctx, task, group, method,
                                                                                       samples)):
            if "error" in fields:
                store.append({**failure(task, sample.item, method, fields["error"]), **fields})
                continue
            p = prepared[i]
            record = {"id": i, "time_load": p.time_load}
            if method.source == "degraded" and p.time_degrade is not None:
                record["time_degrade"] = p.time_degrade
            if seconds is not None:
                record["time_restore"] = seconds
            record[task.time_field] = score_s
            store.append({**record, **fields})


def failure(task: Task, item, method: Method, error: str) -> dict:
    """Return the record of an item that failed under `method`."""
    return {"id": task.item_id(item), **task.failure_fields(item, method), "error": error}


def score(ctx, task: Task, group: Group, method: Method, samples: list[Sample]) -> list[tuple[dict, float]]:
    """Return (fields, seconds) per sample; a batch that raises is scored again one sample at a time."""
    t0 = time.perf_counter()
    try:
        out = _checked(task.score(ctx, group, method, samples), len(samples), task)
        seconds = (time.perf_counter() - t0) / len(samples)
        return [(fields, seconds) for fields in out]
    except ITEM_ERRORS as exc:
        if len(samples) == 1:
            return [({"error": f"{task.name} scoring failed: {_message(exc)}"}, time.perf_counter() - t0)]
    return [pair for sample in samples for pair in score(ctx, task, group, method, [sample])]


def _checked(out: list[dict], n: int, task: Task) -> list[dict]:
    if len(out) != n:   # a bug in the task, not bad data: not an item error
        raise TypeError(f"task {task.name}: score() returned {len(out)} records for {n} samples")
    return out


def _message(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, HarnessError) else one_line(exc)


def restore(pre: Preprocessor, spec: str, images: list[np.ndarray], prefixes: list[dict]
            ) -> list[tuple[np.ndarray | None, float, str | None]]:
    """Return (output, seconds, error) per image of `pre` (the restorer of `spec`).

    Leading stages another method of the batch already ran on an image are reused from its `prefixes`
    dict (the seconds reported include them); the rest run in one batch, or one image at a time when
    the batch fails."""
    stages = pre.stages if isinstance(pre, Pipeline) else [pre]
    names = stage_names(spec) if isinstance(pre, Pipeline) else [spec]
    if len(names) != len(stages):
        names = [f"{spec}#{i}" for i in range(len(stages))]
    keys = ["+".join(names[:i + 1]) for i in range(len(stages))]
    starts = []
    for cache in prefixes:
        start = next((i + 1 for i in range(len(keys) - 1, -1, -1) if keys[i] in cache), 0)
        starts.append(start)
    results: list = [None] * len(images)
    for start in sorted(set(starts)):
        idx = [k for k, s in enumerate(starts) if s == start]
        batches = [idx] if len(idx) == 1 else [idx] + [[k] for k in idx]   # then one at a time
        for batch in batches:
            try:
                outs = _run_stages(stages, keys, start, [images[k] for k in batch], [prefixes[k] for k in batch])
            except ITEM_ERRORS + (SystemExit,) as exc:   # a plug-in's sys.exit() fails its item, never the run silently
                if len(batch) == 1:
                    results[batch[0]] = (None, 0.0, str(exc) if isinstance(exc, HarnessError)   # names the stage
                                          else f"preprocessor {spec!r} failed: {one_line(exc)}")
                continue
            for k, (out, seconds) in zip(batch, outs):
                results[k] = (out, seconds, None)
            if batch is idx:
                break
    return results


def _run_stages(stages: list[Preprocessor], keys: list[str], start: int, images: list[np.ndarray],
                prefixes: list[dict]) -> list[tuple[np.ndarray, float]]:
    """Return (output, seconds) per image of stages[start:] (registry.run_stages), each starting from its
    cached prefix; every stage's output is cached in `prefixes` for the methods that share it."""
    if start:
        outs = [cache[keys[start - 1]][0] for cache in prefixes]
        elapsed = [cache[keys[start - 1]][1] for cache in prefixes]
    else:
        outs, elapsed = None, [0.0] * len(images)
    clock = [time.perf_counter()]

    def after_stage(i: int, stage_outs: list[np.ndarray]) -> None:
        now = time.perf_counter()
        seconds = (now - clock[0]) / len(stage_outs)
        clock[0] = now
        for k, (cache, o) in enumerate(zip(prefixes, stage_outs)):
            elapsed[k] += seconds
            cache[keys[i]] = (o, elapsed[k])

    outs = run_stages(stages, images, start, outs, after_stage)
    return list(zip(outs, elapsed))


class BrokenRestorerCheck:
    """Stops a run whose restorer fails on each of its first min(FIRST_ITEMS, N) items."""

    def __init__(self):
        self.calls: dict[str, list] = {}   # spec -> [calls, failures, last error] over its first items

    def count(self, spec: str, error: str | None, total: int) -> None:
        """Count one call of restorer `spec` (failed with `error`, or not); raise HarnessError when it
        failed on every one of its first min(FIRST_ITEMS, total) items."""
        calls = self.calls.setdefault(spec, [0, 0, None])
        window = max(1, min(FIRST_ITEMS, total))
        if calls[0] >= window:
            return
        calls[0] += 1
        calls[1] += error is not None
        calls[2] = error
        if calls[0] == window and calls[1] == window:
            raise HarnessError(f"restorer {spec!r} failed on each of its first {window} item(s); stopping "
                               f"(last error: {error})")

    def finish(self, has_results: Callable[[str], bool]) -> None:
        """Raise HarnessError for a restorer that failed on every item it was called on and has no
        result at all (`has_results(spec)` False), e.g. a set smaller than the window with unreadable
        items: its table would say nothing. (A re-run retrying a few items that fail again goes on.)"""
        for spec, (calls, failures, error) in self.calls.items():
            if 0 < calls == failures and not has_results(spec):
                raise HarnessError(f"restorer {spec!r} failed on each of its {calls} item(s) (last error: {error})")
