"""Shipping a training run: the weights file exported from its output folder, and its Markdown model card
(see `preproc.train`)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from harness.errors import HarnessError
from preproc.training.config import TrainConfig


def export_weights(out_dir: str | Path, destination: str | Path, half: bool = False, note: str = "") -> dict:
    """Copy OUT/best.pth (or, before the first validation, OUT/last.pth's weights) to `destination`.

    The shippable weights file records the machine and the export time; `half` stores the tensors as fp16
    (half the size of a committed file; the loaders read them into fp32), `note` adds a line of metadata.

    Returns the file's metadata (everything but the tensors).
    """
    source = Path(out_dir) / "best.pth"
    if source.is_file():
        obj = torch.load(source, map_location="cpu", weights_only=True)
    elif (Path(out_dir) / "last.pth").is_file():  # before the first validation: the latest weights
        ckpt = torch.load(Path(out_dir) / "last.pth", map_location="cpu", weights_only=False)
        config = TrainConfig(**ckpt["config"])
        obj = {"params": ckpt["model"], "config": {k: v for k, v in config.model.items() if k != "name"},
               "model_name": config.model["name"], "pair": config.pair, "iterations": ckpt["iteration"],
               "train_config": config.name, "train_wall_s": round(ckpt.get("elapsed_s", 0.0))}
    else:
        raise HarnessError(f"{source}: no best weights yet, and no last.pth checkpoint either")
    if note:
        obj["note"] = note
    return save_weights(obj, destination, half)


def save_weights(obj: dict, destination: str | Path, half: bool = False) -> dict:
    """Write the shippable weights dict `obj` to `destination` atomically, its tensors as fp16 when `half`
    (else fp32), stamped with the machine and the export time; return its metadata (all but the tensors)."""
    import io
    import platform

    from harness.store import atomic_write_bytes

    obj = dict(obj)
    obj["params"] = {k: (v.half() if half else v.float()).contiguous() for k, v in obj["params"].items()}
    obj["machine"] = f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, " \
                     f"torch {torch.__version__}".replace("  ", " ")
    obj["exported"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(Path(destination), buffer.getvalue())
    return {k: v for k, v in obj.items() if k != "params"}



ACCEPTANCE_GAIN_DB = {10: 0.5, 20: 0.8, 40: 1.0}  # issue 8: required Y-PSNR gain over bicubic per QF



def model_card(weights: str | Path, table_csv: str | Path, out_dir: str | Path, command: str,
               note: str = "", continue_config: str | None = None) -> str:
    """Return a Markdown model card for `weights`: config, training, the quality table and the curve.

    `table_csv` is the quality task's `table1.csv` of a run with `bicubic` and the network; `out_dir`
    the training folder (its `log.jsonl` gives the validation curve); `continue_config` the config that
    the card's "continue" commands name (default: the one the weights were trained with).
    """
    import pandas as pd

    from harness.store import file_sha256

    weights = Path(weights)
    meta = torch.load(weights, map_location="cpu", weights_only=True)
    n_params = sum(v.numel() for v in meta["params"].values())
    table = pd.read_csv(table_csv)
    methods = [m for m in table["method"].unique() if m != "bicubic"]
    method = methods[0] if methods else "bicubic"
    lines = [f"# Model card: `{weights.name}`", "",
             f"- File: `{weights.as_posix()}`, {weights.stat().st_size / 1e6:.2f} MB, sha256 "
             f"`{file_sha256(weights)}`",
             f"- Network: {meta.get('model_name', '?')} {meta.get('config')}, {n_params:,d} parameters "
             f"(paper configuration nf 64 / gc 32 / nb 20: 14,847,491)",
             f"- Pair mode: {meta.get('pair')} (LR-JPEG -> HR x4); training config `{meta.get('train_config')}` "
             f"(`preproc/configs/{meta.get('train_config')}.json`)",
             f"- Iterations: {meta.get('iterations')}; training wall time {meta.get('train_wall_s', 0) / 3600:.2f} h "
             f"on {meta.get('machine')}",
             f"- Data: `../shared/data/train/T91` + `BSD200` minus the first 10 BSD200 images (held out for "
             f"validation); 128 px HR patches degraded on the fly (MATLAB bicubic x1/4 + JPEG QF uniform "
             f"10..100), 8 dihedral transforms, L1, Adam(0.9, 0.99), cosine annealing with restarts",
             f"- Validation Y-PSNR at export (10 held-out BSD200 images): " +
             ", ".join(f"{k} {v:.3f} dB" for k, v in (meta.get("val_psnr") or {}).items()),
             f"- Exported {meta.get('exported')}"] + ([f"- Note: {note}"] if note else []) + ["",
             "## Quality (Y-PSNR / Y-SSIM, x4, the paper's recipe; gain over bicubic)", "",
             f"Measured with `{command}`.", "",
             "| set | QF | bicubic | " + method + " | gain dB | target dB | met |", "|---|---|---|---|---|---|---|"]
    all_met = True
    for (set_name, qf), group in table.groupby(["set", "qf"], sort=True):
        rows = {r.method: r for r in group.itertuples()}
        if "bicubic" not in rows or method not in rows:
            continue
        b, m = rows["bicubic"], rows[method]
        gain = m.psnr - b.psnr
        target = ACCEPTANCE_GAIN_DB.get(int(qf))
        met = target is not None and gain >= target
        all_met &= bool(met)
        lines.append(f"| {set_name} | {qf} | {b.psnr:.2f} / {b.ssim:.4f} | {m.psnr:.2f} / {m.ssim:.4f} | "
                     f"{gain:+.2f} | {target} | {'yes' if met else 'no'} |")
    lines += ["", f"Acceptance (gain >= 0.5 / 0.8 / 1.0 dB at QF 10 / 20 / 40 on Set5 and Set14): "
                  f"**{'met' if all_met else 'not met yet'}**.", "",
              "## Validation curve (mean Y-PSNR gain over bicubic on the held-out images)", "",
              "| iteration | QF gains (dB) | train L1 (last logged) |", "|---|---|---|"]
    log_path = Path(out_dir) / "log.jsonl"
    last_loss = None
    if log_path.exists():
        entries = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
        vals = [e for e in entries if "val_gain" in e]
        step = max(1, len(vals) // 20)
        for e in entries:
            if "loss" in e:
                last_loss = e["loss"]
            if "val_gain" in e and (vals.index(e) % step == 0 or e is vals[-1]):
                gains = ", ".join(f"{k} {v:+.3f}" for k, v in e["val_gain"].items())
                lines.append(f"| {e['iter']} | {gains} | {last_loss:.5f} |" if last_loss else
                             f"| {e['iter']} | {gains} | - |")
    continue_config = continue_config or meta.get("train_config")
    lines += ["", "## Reproduce / continue", "",
              "```", f"nohup nice -n 10 python -m preproc.train --config {continue_config} "
              f"--out /work/cajnn_train --threads 2 &   # resumes /work/cajnn_train/last.pth, or starts "
              f"from this file", f"python -m preproc.train --config {continue_config} "
              f"--out /work/cajnn_train --export {weights.as_posix()}", command, "```", ""]
    return "\n".join(lines)

