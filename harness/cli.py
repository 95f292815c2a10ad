"""Command-line plumbing shared by `run_all.py` and the tasks: the run context and argument parsing."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NoReturn

from harness.errors import HarnessError, one_line
from harness.provenance import provenance
from harness.registry import BuildOptions, Preprocessor, build
from harness.store import RecordStore


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
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0, "an integer >= 0")


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def key_value_options(items: list[str], flag: str) -> dict:
    """Return {key: value} from `flag`'s KEY=VALUE strings (values: int, float, true/false/none, or text)."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise HarnessError(f"bad {flag} {item!r}: expected KEY=VALUE")
        low = text.lower()
        if low in ("true", "false"):
            value = low == "true"
        elif low == "none":
            value = None
        else:
            try:
                value = int(text)
            except ValueError:
                try:
                    value = float(text)
                except ValueError:
                    value = text
        out[key] = value
    return out


@dataclass
class RunContext:
    """Everything a run of one task needs: parsed arguments, where to write, and the preprocessors."""

    args: argparse.Namespace
    out_dir: Path
    preproc_specs: list[str]
    build_options: BuildOptions = field(default_factory=BuildOptions)
    rank: int = 0
    world_size: int = 1
    degradations: list | None = None   # --degrade, parsed once (harness.degrade.parse_degradations); None: not given
    _built: dict = field(default_factory=dict)

    @property
    def data(self) -> list[Path] | None:
        return [Path(p) for p in self.args.data] if self.args.data else None

    @property
    def limit(self) -> int | None:
        return self.args.limit

    def preprocessor(self, spec: str) -> Preprocessor:
        """Return the preprocessor for `spec`, built once per run (wrapped by the cache with --cache)."""
        if spec not in self._built:
            pre = build(spec, self.build_options)
            cache_dir = getattr(self.args, "cache", None)
            if cache_dir:
                from harness.cache import CachedPreprocessor, worth_caching

                if worth_caching(spec):
                    pre = CachedPreprocessor(pre, cache_dir, spec, self.build_options)
            self._built[spec] = pre
        return self._built[spec]

    def built(self, key: tuple, make: Callable[[], object]):
        """Return the object of `key` (e.g. a task's detector), made by `make()` once per run."""
        if key not in self._built:
            self._built[key] = make()
        return self._built[key]

    def shard(self, items: list) -> list:
        """Return this rank's share of `items`: a contiguous block, so that the ranks' record files,
        read in rank order, list the items in their original order."""
        n = len(items)
        return items[n * self.rank // self.world_size: n * (self.rank + 1) // self.world_size]

    @property
    def writer(self) -> str:
        """Return the record-file suffix of this rank ("" in an unsharded run); sorts in rank order."""
        return f"rank{self.rank:05d}" if self.world_size > 1 else ""

    def store(self, folder: Path, config: dict, meta: dict | None = None) -> RecordStore:
        """Return the record store of one configuration for this rank (`--force`: nothing counts as done)."""
        return RecordStore(folder, config, provenance(config), writer=self.writer, meta=meta,
                           fresh=bool(getattr(self.args, "force", False)))

    def finish_shard(self) -> bool:
        """Wait until every rank has recorded its shard; return True on the rank that writes the tables.

        Every rank must call it (harness/runner.py does, after its loop).
        """
        if self.world_size > 1:
            import torch.distributed as dist

            dist.barrier()
        return self.rank == 0

    def task_dir(self, task: str) -> Path:
        path = self.out_dir / task
        path.mkdir(parents=True, exist_ok=True)
        return path


def run_command(main: Callable[[], int], prog: str) -> NoReturn:
    """Exit with `main()`'s status; a HarnessError is one line `prog: error: ...` and exit 2, Ctrl-C exit 130
    (finished records are on disk already)."""
    try:
        sys.exit(main())
    except HarnessError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; finished items are saved, re-run to resume", file=sys.stderr)
        sys.exit(130)
    except OSError as exc:   # the machine, not the input: a full disk, a folder made read-only mid-run
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{prog}: error: cannot write or read{where} ({exc.strerror or one_line(exc)}); finished items "
              "are saved, re-run to resume", file=sys.stderr)
        sys.exit(1)


def check_data_paths(paths: list[str] | None) -> None:
    """Raise HarnessError if any `--data` path does not exist."""
    for p in paths or []:
        if not os.path.exists(p):
            raise HarnessError(f"--data {p}: no such file or folder")


def check_out_dir(path: str, flag: str = "--out") -> None:
    """Raise HarnessError unless `path` is (or can be made) a writable folder (`flag` names the option)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise HarnessError(f"{flag} {path}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-")
        probe.close()
    except OSError as exc:
        raise HarnessError(f"{flag} {path}: cannot write there ({exc.strerror or exc})") from None


class OutLock:
    """The lock of one `--out` folder, so that two runs into it at once do not both do all the work:
    the second stops with one line (filelock: an OS lock, released when the process ends, even by kill -9)."""

    NAME = ".run_all.lock"

    def __init__(self, out_dir: str | Path):
        from filelock import FileLock

        self.path = Path(out_dir) / self.NAME
        self._lock = FileLock(str(self.path))

    def acquire(self) -> None:
        """Take the lock; raise HarnessError if another run holds it."""
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise HarnessError(f"--out {self.path.parent}: another run is writing there now (it holds "
                               f"{self.path}); wait for it to finish, or give another --out") from None

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()


def check_device(device: str) -> None:
    """Raise HarnessError unless torch knows `device` and it is usable on this machine."""
    try:
        import torch
    except ImportError:
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise HarnessError(f"--device {device}: not a torch device (e.g. cpu, cuda, cuda:1)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise HarnessError(f"--device {device}: no CUDA GPU is usable on this machine (torch "
                               f"{torch.__version__}); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise HarnessError(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s)")
    elif dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise HarnessError(f"--device {device}: Apple's MPS is not usable on this machine; use --device cpu")
    elif dev.type != "cpu":
        raise HarnessError(f"--device {device}: only cpu and cuda are supported")


# Ranks may finish their shards hours apart; the default collective timeout (30 min) would abort
# the barrier that waits for the slowest one.
DISTRIBUTED_TIMEOUT_S = 7 * 24 * 3600


def init_distributed(device: str) -> tuple[int, int]:
    """Join the process group that torchrun describes in the environment; return (rank, world_size).

    Without torchrun (WORLD_SIZE unset or 1) nothing happens and the run is unsharded: (0, 1). With
    `device` "cuda" the backend is NCCL and each rank uses the GPU LOCAL_RANK (torch's "cuda" then means
    that GPU, so every rank's configuration, and its results folder, stays the same); otherwise gloo.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world_size <= 1:
        return 0, 1
    import datetime

    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise HarnessError("WORLD_SIZE > 1 (torchrun) but this torch build has no torch.distributed")
    cuda = device.startswith("cuda")
    if cuda:
        if device != "cuda":
            raise HarnessError(f"--device {device}: under torchrun use --device cuda; each rank takes the "
                               f"GPU numbered by its LOCAL_RANK")
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if not torch.cuda.is_available() or local_rank >= torch.cuda.device_count():
            raise HarnessError(f"--device cuda: rank with LOCAL_RANK {local_rank} has no GPU "
                               f"{local_rank} ({torch.cuda.device_count()} visible); use "
                               f"--nproc_per_node <= the number of GPUs")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo",
                                timeout=datetime.timedelta(seconds=DISTRIBUTED_TIMEOUT_S))
    return dist.get_rank(), dist.get_world_size()


def close_distributed() -> None:
    """Leave the process group, if this process joined one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def agree_on_error(error: str | None, world_size: int) -> None:
    """Raise HarnessError on every rank if any rank reports an error, so no rank waits for the others.

    `error` is this rank's one-line error or None. All ranks must call it at the same point.
    """
    if world_size > 1:
        import torch.distributed as dist

        errors = [None] * world_size
        dist.all_gather_object(errors, error)
        failed = [(rank, e) for rank, e in enumerate(errors) if e]
        if failed:
            rank, message = failed[0]
            raise HarnessError(message if error else f"rank {rank}: {message}")
    elif error:
        raise HarnessError(error)
