"""Command-line plumbing shared by `run_all.py` and the tasks: the run context and argument parsing."""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.registry import BuildOptions, Preprocessor, build


class ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def quality_factor(text: str) -> int:
    """argparse type: a JPEG quality factor, an integer in 1..100."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --qf value {text!r}: expected an integer in 1..100")
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"bad --qf value {value}: must be in 1..100")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


@dataclass
class RunContext:
    """Everything a task's `run` needs: parsed arguments, where to write, and the preprocessors."""

    args: argparse.Namespace
    out_dir: Path
    preproc_specs: list[str]
    build_options: BuildOptions = field(default_factory=BuildOptions)
    rank: int = 0
    world_size: int = 1
    _built: dict = field(default_factory=dict)

    @property
    def data(self) -> list[Path] | None:
        return [Path(p) for p in self.args.data] if self.args.data else None

    @property
    def limit(self) -> int | None:
        return self.args.limit

    def preprocessor(self, spec: str) -> Preprocessor:
        """Return the preprocessor for `spec`, built once per run."""
        if spec not in self._built:
            self._built[spec] = build(spec, self.build_options)
        return self._built[spec]

    def shard(self, items: list) -> list:
        """Return this rank's share of `items` (every world_size-th item, starting at rank)."""
        return items[self.rank::self.world_size]

    def task_dir(self, task: str) -> Path:
        path = self.out_dir / task
        path.mkdir(parents=True, exist_ok=True)
        return path


def check_data_paths(paths: list[str] | None) -> None:
    """Raise HarnessError if any `--data` path does not exist."""
    for p in paths or []:
        if not os.path.exists(p):
            raise HarnessError(f"--data {p}: no such file or folder")
