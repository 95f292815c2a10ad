"""Pausing the background training job while a benchmark times something (shared by the benchmarks).

Machines here have 2 cores; a training job running beside a benchmark distorts every timing. If
/work/cajnn_train/pid names a live `preproc.train` process, `paused_training()` stops it (SIGSTOP) for the
duration of the block and always resumes it (SIGCONT), also when the benchmark fails.
"""
from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

TRAIN_PID = Path("/work/cajnn_train/pid")


def training_pid() -> int | None:
    """Return the pid of the background CAJNN training job if it is running."""
    try:
        pid = int(TRAIN_PID.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return None
    return pid if "preproc.train" in cmdline else None


@contextlib.contextmanager
def paused_training(enabled: bool = True):
    """Pause the background training job (if any, and if `enabled`) inside the block; yield its pid."""
    pid = training_pid() if enabled else None
    if pid:
        os.kill(pid, signal.SIGSTOP)
        print(f"paused training job {pid}")
    try:
        yield pid
    finally:
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
            print(f"resumed training job {pid}")
