"""Tasks of the benchmark. Each task module defines `TASK`, a `harness.task.Task` that harness/runner.py runs."""

# The name table of tasks: name -> module. `run_all.py --task all` runs them in this order.
TASKS: dict[str, str] = {
    "quality": "tasks.quality.task",
    "icdar13": "tasks.icdar13.task",
    "widerface": "tasks.widerface.task",
}
