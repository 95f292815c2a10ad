"""Run the leaderboard: each task at each degradation of the sweep, then rank and write.

    python run_all.py --leaderboard                                   # embedded smoke data, all restorers
    python run_all.py --leaderboard --preproc bicubic cajnn --degrade x4,q10 x4,q20 \\
        --data quality=../shared/data/sr/Set5 quality=../shared/data/sr/Set14 \\
               icdar13=../shared/data/text/svt_test widerface=../shared/data/widerface

Runs go to OUT/leaderboard/runs/<degradation>/<task>/ (records, the task's own tables); the leaderboard
to OUT/leaderboard/leaderboard.{json,csv,md}, with plots under OUT/leaderboard/.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from harness.degrade import parse_degradations
from harness.errors import HarnessError
from harness.leaderboard import rank_rows
from harness.provenance import provenance
from harness.registry import BuildOptions, build, report_description
from harness.runner import run
from harness.tables import read_table, write_table
from harness.task import Task
from tasks import TASKS, load_task

DEFAULT_SWEEP = ["x4,q10", "x4,q20", "x4,q40", "x4,q75", "x4"]
# The x4 restorers that install offline (docs/restorers.md), cheapest first; those that cannot be built
# here (e.g. `dat` without its wheel) are left out with a note.
DEFAULT_RESTORERS = ["bicubic", "cajnn", "arcnn+rrdb", "dncnn+rrdb", "waifu2x", "dat", "dncnn+dat", "realesrgan"]


def task_data(items: list[str] | None, names: list[str]) -> dict[str, list[str]]:
    """Return task -> its --data paths from TASK=PATH items (a bare PATH only when one task runs)."""
    out: dict[str, list[str]] = {}
    for item in items or []:
        task, sep, path = item.partition("=")
        if sep and task in names:
            out.setdefault(task, []).append(path)
        elif len(names) == 1 and not sep:
            out.setdefault(names[0], []).append(item)
        else:
            raise HarnessError(f"--data {item}: with --leaderboard give each path as TASK=PATH, TASK one of "
                               f"{', '.join(names)} (e.g. quality=../shared/data/sr/Set5)")
    return out


def default_restorers(options: BuildOptions) -> tuple[list[str], list[str]]:
    """Return (the default restorers that can be built here, notes on those that cannot)."""
    specs, notes = [], []
    for spec in DEFAULT_RESTORERS:
        try:
            build(spec, options)
            specs.append(spec)
        except HarnessError as exc:
            notes.append(f"{spec} left out: {exc}")
    return specs, notes


def split_per_task(items: list[str] | None, names: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Return (the items for every task, task -> its own items) from a --preproc or --degrade list: an item
    `TASK=VALUE` (TASK one of `names`) belongs to that task only, and a task with items of its own uses those
    instead of the common ones, e.g. `--preproc bicubic cajnn dat widerface=bicubic widerface=cajnn`."""
    common, own = [], {}
    for item in items or []:
        task, sep, value = item.partition("=")
        if sep and task in names:
            own.setdefault(task, []).append(value)
        else:
            common.append(item)
    return common, own


def leaderboard_plan(args: argparse.Namespace, names: list[str], options: BuildOptions):
    """Return ({task: restorer specs}, {task: degradations}, notes) of a --leaderboard run; every spec is built
    once here, so a bad name stops the run before any work."""
    common, own = split_per_task(args.preproc, names)
    notes = []
    if not common and len(own) < len(names):
        common, notes = default_restorers(options)
    plan = {}
    for name in names:
        specs = own.get(name, common)
        specs = ["bicubic"] + [s for s in dict.fromkeys(specs) if s not in ("bicubic", "none")]  # reference row
        for spec in specs:
            build(spec, options)
        plan[name] = specs
    common_sweep, own_sweep = split_per_task(args.degrade, names)
    sweeps = {n: parse_degradations(own_sweep.get(n) or common_sweep or DEFAULT_SWEEP) for n in names}
    return plan, sweeps, notes


def ranked_tasks(tasks: dict[str, Task], names: list[str], named: bool) -> tuple[list[str], list[str]]:
    """Return (the tasks of `names` that give leaderboard rows, notes on those left out). A task without
    `leaderboard_rows` is an error when named with --task, and left out with a note under `--task all`."""
    without = [n for n in names if type(tasks[n]).leaderboard_rows is Task.leaderboard_rows]
    if without and named:
        raise HarnessError(f"--leaderboard --task {without[0]}: the {without[0]} task gives no leaderboard rows "
                           f"(its Task defines no leaderboard_rows)")
    return [n for n in names if n not in without], [f"{n} left out: it gives no leaderboard rows" for n in without]


def run_leaderboard(args: argparse.Namespace, tasks: dict[str, Task], names: list[str], options: BuildOptions,
                    rank: int = 0, world_size: int = 1) -> list[Path]:
    """Run `names` over the sweep with the chosen restorers (each run by harness.runner.run, the one driver);
    on rank 0 write the leaderboard."""
    names, left_out = ranked_tasks(tasks, names, named=bool(args.task) and "all" not in args.task)
    data = task_data(args.data, names)
    plan, sweeps, notes = leaderboard_plan(args, names, options)
    notes = [*left_out, *notes]
    out = Path(args.out) / "leaderboard"
    rows = []
    for name in names:
        task = tasks[name]
        for d in sweeps[name]:
            run_args = argparse.Namespace(**vars(args))
            run_args.data = data.get(name)
            done = run(run_args, task, list(task.baselines) + plan[name], out / "runs" / d.tag, options, [d],
                       rank, world_size)
            if done.summary is None:   # not the writing rank
                continue
            rows += [{"task": name, "degradation": d.tag, **r}
                     for r in task.leaderboard_rows(done.ctx, done.groups, done.summary)]
    if rank != 0:
        return []
    specs = list(dict.fromkeys(s for name in names for s in plan[name]))
    config = {"tasks": names, "degradations": list(dict.fromkeys(d.tag for n in names for d in sweeps[n])),
              "restorers": {s: report_description(build(s, options)) for s in specs},
              "restorers_per_task": plan, "data": data, "limit": args.limit,
              "precision": {name: options.precision for name in names}}
    rows, config, notes = keep_earlier_rows(out, rows, config, notes)
    return write_leaderboard(out, rows, config, notes)


GROUP = ["task", "set", "degradation"]


def keep_earlier_rows(out: Path, rows: list[dict], config: dict, notes: list[str]) -> tuple[list, dict, list]:
    """Add to `rows` the rows of the earlier leaderboard in `out` whose (task, set, degradation) this run did
    not produce, so that tasks run by separate commands (each with its own restorers and sweep) build one
    leaderboard. Return (rows, config, notes), the config naming where the kept rows came from."""
    if not (out / "leaderboard.json").is_file():
        return rows, config, notes
    try:
        earlier = read_table(out / "leaderboard")
    except HarnessError as exc:
        return rows, config, [*notes, f"earlier leaderboard not kept: {exc}"]
    done = {tuple(r[k] for k in GROUP) for r in rows}
    frame = earlier.frame
    if frame.empty or not set(GROUP) <= set(frame.columns):
        return rows, config, notes
    kept = frame[[tuple(v) not in done for v in frame[GROUP].itertuples(index=False)]]
    if kept.empty:
        return rows, config, notes
    groups = sorted({tuple(v) for v in kept[GROUP].itertuples(index=False)})
    commit = earlier.provenance.get("commit", "?")
    previous = earlier.provenance.get("config", {})
    kept_tasks = {g[0] for g in groups} - set(config.get("precision", {}))
    precision = {**{t: previous.get("precision", {}).get(t, "fp32") for t in sorted(kept_tasks)},
                 **config.get("precision", {})}
    config = {**config, "degradations": list(dict.fromkeys(previous.get("degradations", []) + config["degradations"])),
              "precision": precision,
              "kept_from_earlier_runs": {"groups": [list(g) for g in groups], "provenance": earlier.provenance}}
    keep = [{k: v for k, v in r.items() if not pd.isna(v)} for r in kept.drop(columns=["rank", "ranked_against"],
                                                                               errors="ignore").to_dict("records")]
    note = (f"{len(groups)} (task, set, degradation) groups kept from the earlier leaderboard in this folder "
            f"(commit {str(commit)[:12]}; not re-run by this command): "
            + ", ".join("/".join(g) for g in groups))
    return rows + keep, config, [*notes, note]


COLUMNS = ["task", "set", "degradation", "rank", "method", "metric", "score", "n_items", "above", "vs_above",
           "vs_above_low", "vs_above_high", "ties", "vs_none", "vs_none_low", "vs_none_high", "p_vs_none",
           "vs_bicubic", "vs_bicubic_low", "vs_bicubic_high", "gap_recovered", "gap_recovered_low",
           "gap_recovered_high", "seconds_per_mp", "parameters"]


def write_leaderboard(out: Path, rows: list[dict], config: dict, notes: list[str]) -> list[Path]:
    """Rank `rows`, write leaderboard.{json,csv,md} and the plots; return the paths."""
    from tasks.leaderboard.plots import plot_gain_heatmap, plot_score_vs_degradation

    if not rows:
        raise HarnessError("--leaderboard: no task produced leaderboard rows")
    frame = rank_rows(pd.DataFrame(rows))
    frame = frame[[c for c in COLUMNS if c in frame.columns]]
    prov = provenance(config)
    tasks = [load_task(n) for n in TASKS if n in set(frame["task"])]
    notes = [
        *(["Score: " + ", ".join(t.score_note for t in tasks if t.score_note) + "."]
          if any(t.score_note for t in tasks) else []),
        "vs none / vs bicubic: paired difference on the same items with a 95% bootstrap interval (1000 resamples, "
        "seed 0; over images for PSNR and AP, over words for accuracy); p: exact McNemar against none (words).",
        "Rank: by score within each task, set and degradation; two methods share a rank when the 95% interval of "
        "their paired difference contains 0 (directly or through a chain of such pairs), so no two are ranked apart "
        "unless that interval excludes 0 (1, 1, 3). vs above: the paired difference from the method listed just "
        "above (bootstrap as below).",
        "s/MP: the restorer's seconds per output megapixel on this machine; not reproducible across machines.",
        *(["LR-to-GT gap recovered (faces): (AP of LR+x - AP of LR) / (AP of GT - AP of LR), hard setting, with "
           "its paired bootstrap 95% interval over images: 100% = as good as the original image."]
          if "gap_recovered" in frame and frame["gap_recovered"].notna().any() else []),
        *precision_notes(config.get("precision", {})),
        *notes]
    paths = write_table(frame, out / "leaderboard", "Restorer leaderboard", prov, notes, display=display(frame))
    paths += plot_score_vs_degradation(frame, out, config["degradations"])
    paths += plot_gain_heatmap(frame, out)
    print((out / "leaderboard.md").read_text().split("<details>")[0])
    return paths


def precision_notes(precision: dict[str, str]) -> list[str]:
    """Return a note naming the tasks whose network restorers ran in reduced precision ({task: --precision})."""
    reduced = {task: p for task, p in precision.items() if p != "fp32"}
    if not reduced:
        return []
    return ["Arithmetic: the network restorers ran under autocast on "
            + ", ".join(f"{task} (--precision {p})" for task, p in reduced.items())
            + (", in fp32 on " + ", ".join(t for t in precision if t not in reduced) if len(reduced) < len(precision)
               else "") + " (docs/restorers.md, Precision and memory format)."]


def interval(value, low, high, digits: int) -> str:
    """Return `+d [low, high]` or '-' when there is no value."""
    if value is None or pd.isna(value):
        return "-"
    return f"{value:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def gap_text(row: dict) -> str:
    """Return a row's share of the LR-to-GT gap recovered with its interval, or '-'."""
    value = row.get("gap_recovered")
    if value is None or pd.isna(value):
        return "-"
    low, high = row.get("gap_recovered_low"), row.get("gap_recovered_high")
    return f"{value:.1%}" + ("" if low is None or pd.isna(low) else f" [{low:.1%}, {high:.1%}]")


def display(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the printed leaderboard: one row per (task, set, degradation, method), best first."""
    digits = {n: load_task(n).digits for n in dict.fromkeys(frame["task"]) if n in TASKS}
    gaps = "gap_recovered" in frame and frame["gap_recovered"].notna().any()   # the face task's rows
    rows = []
    for r in frame.to_dict("records"):
        k = digits.get(r["task"], 4)
        params = r.get("parameters")
        seconds = r.get("seconds_per_mp")
        p = r.get("p_vs_none")
        rows.append({
            "Task": r["task"], "Set": r["set"], "Degradation": r["degradation"], "Rank": r["rank"],
            "Method": r["method"], "Score": f"{r['score']:.{k}f}" if not pd.isna(r["score"]) else "-",
            "vs above [95%]": interval(r.get("vs_above"), r.get("vs_above_low"), r.get("vs_above_high"), k),
            "vs none [95%]": interval(r.get("vs_none"), r.get("vs_none_low"), r.get("vs_none_high"), k),
            "p vs none": f"{p:.3g}" if p is not None and not pd.isna(p) else "-",
            "vs bicubic [95%]": interval(r.get("vs_bicubic"), r.get("vs_bicubic_low"), r.get("vs_bicubic_high"), k),
            **({"LR-to-GT gap recovered [95%]": gap_text(r)} if gaps else {}),
            "s/MP": f"{seconds:.2f}" if seconds is not None and not pd.isna(seconds) else "-",
            "Params": f"{params / 1e6:.3f} M" if params is not None and not pd.isna(params) else "-",
        })
    return pd.DataFrame(rows)
