"""Run benchmark tasks with one or more preprocessors (restorers); the one command users type.

    python run_all.py --task quality --preproc bicubic cajnn --data SET5 SET14 --qf 10 20 40
    python run_all.py --task icdar13 --preproc none cajnn cajnn+down
    python run_all.py --task widerface --preproc cajnn
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from harness.cli import (ArgumentParser, OutLock, agree_on_error, check_data_paths, check_device,
                         check_out_dir, close_distributed, init_distributed, positive_int, run_command)
from harness.errors import HarnessError
from harness.registry import PLAIN_STAGES, BuildOptions, known_names, plugin_weight_names
from harness.degrade import parse_degradations
from harness.runner import run
from harness.task import Task
from tasks import TASKS, load_task


def build_parser() -> tuple[ArgumentParser, dict]:
    parser = ArgumentParser(prog="run_all.py", description=__doc__.split("\n")[0])
    parser.add_argument("--task", nargs="+", default=None,
                        help=f"task(s) to run: {', '.join(TASKS)} or all (default: quality; with --leaderboard: all)")
    parser.add_argument("--preproc", nargs="+", default=None,
                        help="preprocessor specs, e.g. none bicubic cajnn cajnn+down spandrel:PATH "
                             "my_module:restore (default: the task's own list)")
    parser.add_argument("--data", nargs="+", default=None,
                        help="dataset path(s); without it, a small embedded smoke set")
    parser.add_argument("--out", default="results", help="output folder (default: results)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    parser.add_argument("--limit", type=positive_int, default=None, help="use only the first N items")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch CPU threads (default: torch's own choice); fixed for reproducible runs")
    parser.add_argument("--weights", nargs="+", default=[], metavar="NAME=PATH",
                        help="weights for a named stage, e.g. cajnn=my_cajnn.pth")
    parser.add_argument("--tile", type=positive_int, default=None,
                        help="tile size (LR pixels) for network restorers; bounds memory")
    parser.add_argument("--self-ensemble", action="store_true",
                        help="network restorers average their outputs over the 8 flips/rotations of the "
                             "input (x8 self-ensemble; 8x slower)")
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32",
                        help="arithmetic of network restorers: fp32 (default, the reference), bf16 (autocast, CPU "
                             "or CUDA; on this CPU with AVX512-BF16 cajnn_small and rrdb 2.6-3x and the paper-configuration "
                             "cajnn about 4x faster than fp32: benchmarks/restorers.py, docs/scaling.md; "
                             "Table I on Set5 + Set14 moves by at most 0.015 dB (DnCNN stays fp32)) or fp16 (CUDA only); "
                             "recorded with every result (docs/restorers.md, 'Precision')")
    parser.add_argument("--cache", default=None, metavar="DIR",
                        help="keep restored images in DIR, keyed by input content and restorer (weights "
                             "included), so a later run with another detector or recogniser skips the "
                             "restorer")
    parser.add_argument("--degrade", nargs="+", default=None, metavar="xS[,qQ]",
                        help="degradations of the inputs: MATLAB bicubic x1/S, then JPEG at quality Q, e.g. "
                             "x4,q10 x4,q20; each task checks what it accepts (one table per degradation)")
    parser.add_argument("--force", action="store_true",
                        help="recompute every item even if it is recorded (default: a re-run skips finished "
                             "items and retries failed ones)")
    parser.add_argument("--leaderboard", action="store_true",
                        help="rank restorers on every task (or the --task ones) over a degradation sweep (default "
                             "--degrade x4,q10 x4,q20 x4,q40 x4,q75 x4; --preproc default: every x4 restorer that "
                             "installs offline; --data TASK=PATH ...); writes OUT/leaderboard/ (docs/leaderboard.md)")
    parser.add_argument("--report", default=None, metavar="DIR",
                        help="only build DIR/report/{index.html,report.md} from the results stored in DIR "
                             "(runs no task); every run also rebuilds the report of its --out at its end")
    tasks = {name: load_task(name) for name in TASKS}
    parser.task_options = {}   # dest -> (task, flag, default) of each task's own options
    for name, task in tasks.items():
        known = {action.dest for action in parser._actions}
        task.add_arguments(parser)
        parser.task_options.update({a.dest: (name, a.option_strings[0], a.default) for a in parser._actions
                                    if a.dest not in known})
    aliases = [f"{flag} Q = --degrade {spelling.format('Q')} ({name})" for name, task in tasks.items()
               for flag, spelling in task.degrade_aliases.items()]
    parser.degrade_aliases = {flag for task in tasks.values() for flag in task.degrade_aliases}
    if aliases:
        degrade = next(a for a in parser._actions if a.dest == "degrade")
        degrade.help = degrade.help[:-1] + "; " + ", ".join(aliases) + ")"
    return parser, tasks


def parse_weights(items: list[str], specs: list[str] | None = None) -> dict[str, str]:
    """Return {stage: path} from NAME=PATH items; NAME is a registered stage with weights or names a
    plug-in stage of `specs` (its factory reads `options.weights[NAME]`); else, or for a missing file, an
    error."""
    out = {}
    stages = [name for name in known_names() if name not in PLAIN_STAGES]
    plugins = [n for spec in specs or [] for n in plugin_weight_names(spec.rpartition("=")[2])]   # TASK=SPEC too
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise HarnessError(f"bad --weights {item!r}: expected NAME=PATH, e.g. cajnn=weights.pth")
        if name not in stages and name not in plugins:
            raise HarnessError(f"--weights {item}: unknown stage {name!r}; stages with weights: "
                               f"{', '.join(stages)}, or a plug-in of --preproc by its module name "
                               f"(my_net for my_net:make; spandrel:PATH takes its file in the spec)")
        if not Path(path).is_file():
            raise HarnessError(f"--weights {item}: no such file {path}")
        out[name] = path
    return out


def main(argv: list[str] | None = None) -> int:
    parser, tasks = build_parser()
    args = parser.parse_args(argv)
    if args.report:
        return build_report(Path(args.report))
    check_device(args.device)
    check_out_dir(args.out)
    if args.cache:
        check_out_dir(args.cache, "--cache")
    # Under torchrun (WORLD_SIZE > 1) every rank runs this same code on its shard of each task's items;
    # rank 0 merges the ranks' records and writes the tables (docs/scaling.md).
    rank, world_size = init_distributed(args.device)
    lock = OutLock(args.out)
    try:
        return run_tasks(args, tasks, rank, world_size, parser, lock)
    finally:
        lock.release()
        close_distributed()


def check_options(args, parser, names: list[str]) -> None:
    """Raise HarnessError for an option that the chosen tasks do not read (e.g. --qf with --task icdar13)
    and for a restorer given twice."""
    for dest, (task, flag, default) in getattr(parser, "task_options", {}).items():
        if getattr(args, dest, default) != default:
            if task not in names:
                raise HarnessError(f"{flag} is an option of the {task} task, which this run does not run "
                                   f"(--task {' '.join(names)})")
            if args.leaderboard and flag in getattr(parser, "degrade_aliases", ()):
                raise HarnessError(f"{flag}: with --leaderboard give the degradations with --degrade")
    repeated = [spec for spec, n in Counter(args.preproc or []).items() if n > 1]
    if repeated:
        raise HarnessError(f"--preproc {repeated[0]} is given twice; give each restorer once")


def run_tasks(args, known: dict[str, Task], rank: int = 0, world_size: int = 1, parser=None,
              lock: OutLock | None = None) -> int:
    error, names, options, degradations = None, [], None, None
    try:
        names = args.task or (["all"] if args.leaderboard else ["quality"])
        names = list(TASKS) if "all" in names else names
        for name in names:
            if name not in TASKS:
                raise HarnessError(f"unknown task {name!r}; known: {', '.join(TASKS)}, all")
        check_options(args, parser, names)
        if not args.leaderboard:   # parsed once for every task (the leaderboard splits TASK=xS,qQ items first)
            degradations = parse_degradations(args.degrade)
        check_data_paths([p.partition("=")[2] if args.leaderboard and "=" in p else p for p in args.data or []])
        options = BuildOptions(device=args.device, weights=parse_weights(args.weights, args.preproc),
                               tile=args.tile, self_ensemble=args.self_ensemble,
                               precision=args.precision)
        if lock is not None and rank == 0:   # rank 0 holds it for the ranks of its torchrun
            lock.acquire()
    except HarnessError as exc:
        error = str(exc)
    agree_on_error(error, world_size)  # a rank that cannot start stops them all, not just itself
    try:
        import torch

        torch.set_flush_denormal(True)  # denormal activations run several times slower on CPU
        if args.threads:
            torch.set_num_threads(args.threads)
    except ImportError:
        pass
    if args.leaderboard:
        from tasks.leaderboard.run import run_leaderboard

        run_leaderboard(args, known, names, options, rank, world_size)   # checks every name before any work
        names = []
    for name in names:
        run(args, known[name], args.preproc or list(known[name].default_preproc), Path(args.out), options,
            degradations, rank, world_size)
    if rank == 0:
        try:
            build_report(Path(args.out))
        except HarnessError as exc:   # the run's tables are written; only the report was kept as it was
            print(f"run_all.py: warning: {exc}", file=sys.stderr)
    return 0


def build_report(out_dir: Path) -> int:
    """Write out_dir/report/{index.html,report.md} from the stored results (tasks/report)."""
    from tasks.report.build import build_report as build

    page = build(out_dir)
    print(f"report: {page} and {page.with_name('report.md')}", file=sys.stderr)
    return 0


def cli() -> None:
    """The `cajnn-bench` console command (pyproject.toml): run_all.py's options, errors and exit codes."""
    run_command(main, "cajnn-bench")


if __name__ == "__main__":
    run_command(main, "run_all.py")
