"""Tasks of the benchmark. Each task module defines `TASK`, a `harness.task.Task` that harness/runner.py runs."""

# The name table of tasks: name -> module. `run_all.py --task all` runs them in this order.
TASKS: dict[str, str] = {
    "quality": "tasks.quality.task",
    "icdar13": "tasks.icdar13.task",
    "widerface": "tasks.widerface.task",
}

# The report's sections beyond one per task, after them: name -> module with `section(out_dir, report_dir)`
# (a `tasks.report.model.Section`, or None when that folder has nothing of it).
EXTRA_SECTIONS: dict[str, str] = {
    "leaderboard": "tasks.leaderboard.report",
}


def load_task(name: str):
    """Return the `Task` registered as `name` (its module's `TASK`)."""
    import importlib

    return importlib.import_module(TASKS[name]).TASK
