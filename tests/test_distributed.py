"""Sharded runs: torchrun with 2 CPU ranks (gloo) gives the same records and tables as one process."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.cli import RunContext, agree_on_error
from harness.errors import HarnessError
from harness.image import save_image
from harness.store import read_records
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow   # two processes per test, each importing torch


def _write_set(folder: Path, n: int = 5) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:44, 0:52]
    for i in range(n):
        base = 128 + 90 * np.sin(x / (3.0 + i))[..., None] * np.cos(y / (4.0 + i))[..., None]
        img = np.clip(base * [1, 0.8, 0.5] + rng.normal(0, 8, (44, 52, 3)), 0, 255).astype(np.uint8)
        save_image(folder / f"img{i}.png", img)
    return folder


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(PROJECT_ROOT))
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    return env


def _start(prefix: list[str], data: Path, out: Path) -> subprocess.Popen:
    args = [*prefix, "run_all.py", "--task", "quality", "--preproc", "bicubic", "--qf", "20", "40",
            "--data", str(data), "--out", str(out), "--threads", "1"]
    return subprocess.Popen(args, cwd=PROJECT_ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait(proc: subprocess.Popen) -> None:
    stdout, stderr = proc.communicate(timeout=150)
    assert proc.returncode == 0, stdout[-2000:] + stderr[-4000:]


def _records(out: Path) -> dict:
    """Return {(store folder name, item id): record without timings}."""
    found = {}
    for folder in sorted((out / "quality" / "records").iterdir()):
        for item, rec in read_records(folder).items():
            found[(folder.name, item)] = {k: v for k, v in rec.items() if not k.startswith("time_")}
    return found


def test_two_gloo_ranks_equal_single_process(tmp_path):
    data = _write_set(tmp_path / "tiny")
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    # Both at once: most of their time is starting Python and importing torch.
    procs = [_start([sys.executable], data, single),
             _start([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"],
                    data, sharded)]
    for proc in procs:
        _wait(proc)

    # Each rank wrote its own records; the unsharded run wrote one file per store.
    for folder in (sharded / "quality" / "records").iterdir():
        names = sorted(p.name for p in folder.glob("records*.jsonl"))
        assert len(names) == 2 and all(n.startswith("records.rank") for n in names), names
    for folder in (single / "quality" / "records").iterdir():
        assert [p.name for p in folder.glob("records*.jsonl")] == ["records.jsonl"]

    want, got = _records(single), _records(sharded)
    assert len(want) == 2 * 5 and got == want  # per-item records equal (PSNR/SSIM bit for bit)

    # Tables: the same rows in the same order; numbers equal to 6 decimals (timings excepted).
    for name in ("per_image.csv", "table1.csv"):
        a, b = pd.read_csv(single / "quality" / name), pd.read_csv(sharded / "quality" / name)
        timing = [c for c in a.columns if c.startswith(("time_", "restore_s"))]
        a, b = a.drop(columns=timing), b.drop(columns=timing)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=5e-7)
    assert (sharded / "quality" / "table1.md").exists()


def _ctx(rank, world_size):
    return RunContext(args=None, out_dir=Path("."), preproc_specs=[], rank=rank, world_size=world_size)


@pytest.mark.parametrize("n, world_size", [(0, 2), (1, 3), (5, 2), (7, 3), (10, 4)])
def test_shards_are_contiguous_and_cover_every_item_once(n, world_size):
    items = list(range(n))
    shards = [_ctx(r, world_size).shard(items) for r in range(world_size)]
    assert sum(shards, []) == items  # in rank order, the original order
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_unsharded_context_needs_no_process_group():
    ctx = _ctx(0, 1)
    assert ctx.shard([3, 1, 2]) == [3, 1, 2] and ctx.writer == ""
    assert ctx.finish_shard() is True
    with pytest.raises(HarnessError, match="boom"):
        agree_on_error("boom", 1)
    agree_on_error(None, 1)


AGREE_SCRIPT = """
from pathlib import Path
from harness.cli import RunContext, agree_on_error, close_distributed, init_distributed
from harness.errors import HarnessError
rank, world_size = init_distributed("cpu")
try:
    ctx = RunContext(args=None, out_dir=Path("."), preproc_specs=[], rank=rank, world_size=world_size)
    print(ctx.writer, ctx.finish_shard())
    agree_on_error("bad weights on this node" if rank == 1 else None, world_size)
    print("no error")
except HarnessError as exc:
    print(exc)
finally:
    close_distributed()
"""


def test_finish_shard_and_an_error_on_one_rank_stops_every_rank():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, "-c", AGREE_SCRIPT], cwd=PROJECT_ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=dict(_env(), RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE="2",
                                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)))
             for r in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    # finish_shard: a barrier on every rank; only rank 0 goes on to write the tables.
    assert outs[0][0].splitlines() == ["rank00000 True", "rank 1: bad weights on this node"]
    assert outs[1][0].splitlines() == ["rank00001 False", "bad weights on this node"]
