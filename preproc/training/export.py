"""Shipping a training run: the weights file exported from its output folder, and its Markdown model card
(see `preproc.train`)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from harness.errors import HarnessError
from preproc.training.config import TrainConfig, config_of_weights


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
        from preproc.training.loop import weights_file
        obj = weights_file(ckpt["model"], TrainConfig(**ckpt["config"]), ckpt["iteration"],
                           {"train_wall_s": round(ckpt.get("elapsed_s", 0.0))})
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



def describe_recipe(config: TrainConfig) -> str:
    """Return one Markdown line saying what `config` trains on and how (data, degradation, loss, schedule)."""
    degradation = {"joint": "LR-JPEG -> HR", "car": "LR-JPEG -> clean LR", "sr": "clean LR -> HR"}[config.pair]
    jpeg = f"JPEG QF uniform in {config.qf[0]}..{config.qf[1]}"
    if config.clean:
        jpeg = f"{config.clean:.0%} of the patches without JPEG, the rest {jpeg}"
    extras = [f"{config.context} px of surrounding image degraded with each patch"] if config.context else []
    if config.text:
        extras.append(f"a synthetic word drawn on {config.text:.0%} of the HR patches")
    warmup = f", {config.warmup} iterations of lr warm-up" if config.warmup else ""
    return (f"- Data and recipe (`{config.name}`): "
            + " + ".join(f"`{folder}`" for folder in config.train_folders)
            + f" (the first {config.val_images} images of `{config.val_folder}` held out for validation); "
            f"{config.hr_patch} px HR patches under the 8 dihedral transforms, degraded on the fly "
            f"({degradation}: MATLAB bicubic x1/{config.scale}, {jpeg}"
            + "".join(f"; {e}" for e in extras) + f"); batch {config.batch}, L1, Adam{tuple(config.betas)}, "
            f"cosine from {config.lr:g} to {config.eta_min:g} restarted after {config.periods}{warmup}, "
            f"{config.precision}" + (f", EMA of the weights ({config.ema:g})" if config.ema else ""))


def model_card(weights: str | Path, table_csv: str | Path, out_dir: str | Path, command: str,
               note: str = "", continue_config: str | None = None) -> str:
    """Return a Markdown model card for `weights`: config, training, the quality table and the curve.

    `table_csv` is the quality task's `table1.csv` of a run with `bicubic` and the network; `out_dir`
    the training folder (its `log.jsonl` gives the validation curve); `continue_config` the config that
    the card's "continue" commands name (default: the one the weights were trained with). The data and
    recipe line is read from the training config the weights record, where it still exists.
    """
    import pandas as pd

    from harness.store import file_sha256
    from tasks.paper import table1_value

    weights = Path(weights)
    meta = torch.load(weights, map_location="cpu", weights_only=True)
    n_params = sum(v.numel() for v in meta["params"].values())
    try:
        recipe = describe_recipe(config_of_weights(meta))
    except HarnessError as exc:
        recipe = f"- Data and recipe: unknown here ({exc})"
    table = pd.read_csv(table_csv)
    methods = [m for m in table["method"].unique() if m != "bicubic"]
    method = methods[0] if methods else "bicubic"
    lines = [f"# Model card: `{weights.name}`", "",
             f"- File: `{weights.as_posix()}`, {weights.stat().st_size / 1e6:.2f} MB, sha256 "
             f"`{file_sha256(weights)}`",
             f"- Network: {meta.get('model_name', '?')} {meta.get('config')}, {n_params:,d} parameters "
             f"(paper configuration nf 64 / gc 32 / nb 20: 14,847,491)",
             f"- Pair mode: {meta.get('pair')}; training config `{meta.get('train_config')}` "
             f"(`preproc/configs/{meta.get('train_config')}.json`)",
             f"- Iterations: {meta.get('iterations')}; training wall time {meta.get('train_wall_s', 0) / 3600:.2f} h "
             f"on {meta.get('machine')}",
             recipe,
             f"- Validation Y-PSNR at export ({meta.get('val_images', 'the')} held-out images): " +
             ", ".join(f"{k} {v:.3f} dB" for k, v in (meta.get("val_psnr") or {}).items()),
             f"- Exported {meta.get('exported')}"] + ([f"- Note: {note}"] if note else []) + ["",
             "## Quality (Y-PSNR / Y-SSIM, x4, the paper's recipe; gain over bicubic)", "",
             f"Measured with `{command}`.", "",
             "| set | QF | bicubic | " + method + " | gain dB | paper's CAJNN |", "|---|---|---|---|---|---|"]
    for (set_name, qf), group in table.groupby(["set", "qf"], sort=True):
        rows = {r.method: r for r in group.itertuples()}
        if "bicubic" not in rows or method not in rows:
            continue
        b, m = rows["bicubic"], rows[method]
        paper = table1_value("cajnn", set_name, int(qf)) if pd.notna(qf) else None
        lines.append(f"| {set_name} | {qf} | {b.psnr:.2f} / {b.ssim:.4f} | {m.psnr:.2f} / {m.ssim:.4f} | "
                     f"{m.psnr - b.psnr:+.2f} | {f'{paper[0]:.2f} / {paper[1]:.4f}' if paper else '-'} |")
    lines += ["", "The paper prints CAJNN figures at QF 40 only (REFERENCE.md section 2).", "",
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
              "```", f"setsid nohup python -m preproc.train --config {continue_config} "
              f"--out /work/cajnn_train --threads 1 &   # resumes /work/cajnn_train/last.pth, or starts "
              f"from the config's init", f"python -m preproc.train --config {continue_config} "
              f"--out /work/cajnn_train --export {weights.as_posix()}", command, "```", ""]
    return "\n".join(lines)

