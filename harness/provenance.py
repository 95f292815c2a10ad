"""Provenance recorded with every result: commit, package versions, machine, configuration, date."""
from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("torch", "torchvision", "numpy", "scipy", "pillow", "opencv-python-headless", "pandas",
            "rapidocr", "onnxruntime", "easyocr", "facenet-pytorch", "spandrel")


def git_commit(root: Path = PROJECT_ROOT) -> str:
    """Return the git commit of `root` (with `-dirty` if its code has changes), or `unknown`.

    Changes under `results/` do not count: runs write there (the committed reference report is one of
    their outputs), so a run's own output must not mark the next run's code as modified.
    """
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)results"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not commit:
        return "unknown"
    return commit + ("-dirty" if dirty.strip() else "")


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Return {package: version} for the packages results depend on (absent ones omitted)."""
    out = {}
    for name in PACKAGES + tuple(extra):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def provenance(config: dict | None = None) -> dict:
    """Return the provenance block stored beside results."""
    threads = None
    try:
        import torch

        threads = torch.get_num_threads()
    except ImportError:
        pass
    return {
        "commit": git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
        "packages": package_versions(),
        "config": config or {},
    }
