"""Pausing background training jobs while a benchmark times something (shared by the benchmarks).

Machines here have 2 cores; a training job running beside a benchmark distorts every timing, and far more
than its share of the cores when the benchmark runs torch with 2 threads: a 2-thread inference beside a busy
core waits at every operator for the descheduled thread (`benchmarks/threads.py` measures it). So
`paused_training()` stops every running `python -m preproc.train` process of this user (SIGSTOP), found by
its command line rather than a pid file (a pid file written by `nohup ... &` from a wrapper shell names the
shell, and stopping the shell leaves the trainer running), and always resumes them (SIGCONT), also when the
benchmark fails.
"""
from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def training_pids() -> list[int]:
    """Return the pids of this user's running (not stopped) `preproc.train` processes."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "T":   # stopped already (by someone else): leave it stopped
            continue
        if b"preproc.train" in argv or any(a.endswith(b"preproc/train.py") for a in argv):
            pids.append(int(entry.name))
    return sorted(pids)


@contextlib.contextmanager
def paused_training(enabled: bool = True):
    """Pause the background training jobs (if any, and if `enabled`) inside the block; yield their pids."""
    pids = training_pids() if enabled else []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
    if pids:
        print(f"paused training job(s) {', '.join(map(str, pids))}")
    try:
        yield pids
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        if pids:
            print(f"resumed training job(s) {', '.join(map(str, pids))}")
