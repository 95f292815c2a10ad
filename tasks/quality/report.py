"""The quality section: Table I beside the paper, runtime and parameters, and Fig. 3-style image grids.

Renders what the quality task stored in `OUT/quality/`, recomputing nothing: `table1.json` (the paired
means of every (set, QF, method), with earlier runs' groups kept), `status.json` (harness/status.py: the
configuration of each method's records, and the items expected, done and failed), `per_image.json` (the
scores printed under the grids' tiles) and the example crops under `examples/` (`--examples N`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.status import TaskStatus, no_status_line, read_status
from harness.store import slug
from harness.tables import read_table
from tasks.paper import TABLE1_METHODS, paper_values
from tasks.quality.display import PAPER_SETS, display_inputs, method_order, qf_of, runtime, set_order, table1
from tasks.report import figures
from tasks.report.model import Figure, Provenance, Section, Table, fmt


def _jpeg_entries(status: TaskStatus | None) -> list[tuple[str, int, str, object]]:
    """Return (set, QF, method, status) of every method whose records have a JPEG QF (a Table I setting),
    in the order of their record stores' names."""
    out = [(e.config["set"], int(e.config["qf"]), method, e) for _, method, e in (status.entries() if status else [])
           if e.config.get("qf") is not None]
    return sorted(out, key=lambda t: t[3].store)


def store_notes(status: TaskStatus | None) -> list[str]:
    """Return notes on record stores the table does not show: older configurations, LR without JPEG."""
    notes = []
    for set_name, qf, spec, entry in _jpeg_entries(status):
        if entry.older_stores:
            notes.append(f"{set_name} QF {qf} {spec}: {len(entry.older_stores)} older record store(s) with another "
                         f"configuration (e.g. other weights) ignored; the newest is shown.")
    no_jpeg = sum(e.config.get("qf") is None for _, _, e in (status.entries() if status else []))
    if no_jpeg:
        notes.append(f"{no_jpeg} record store(s) of LR inputs without JPEG (`--degrade x4`) are not a Table I "
                     "setting and are not shown here; their numbers are in quality/table1.md.")
    return notes


def missing(status: TaskStatus | None, rows: pd.DataFrame) -> list[str]:
    """Return what a complete reproduction would add: unfinished or failed runs, paper rows and sets not run."""
    lines = []
    for set_name, qf, spec, entry in _jpeg_entries(status):
        if entry.recorded < entry.expected:
            lines.append(f"quality: {set_name} QF {qf} {spec}: {entry.recorded} of {entry.expected} images scored "
                         "(interrupted? re-run the same command to resume)")
        if entry.failed:
            lines.append(f"quality: {set_name} QF {qf} {spec}: {entry.failed} image(s) failed ({entry.error[:120]})")
    ran = {(spec, qf) for _, qf, spec, _ in _jpeg_entries(status)}
    ran |= {(str(r["method"]), qf_of(r)) for r in rows.to_dict("records")}
    not_run: dict[str, list[int]] = {}
    for row in paper_values()["table1"]["rows"]:
        specs = [k for k, v in TABLE1_METHODS.items() if v == row["method"]]
        if specs and (specs[0], row["qf"]) not in ran:
            not_run.setdefault(specs[0], []).append(row["qf"])
    if not_run:
        lines.append("quality: paper rows not run: " + "; ".join(
            f"{TABLE1_METHODS[spec]} at QF {', '.join(map(str, qfs))} (`--preproc {spec} --qf "
            f"{' '.join(map(str, qfs))}`)" for spec, qfs in not_run.items()))
    sets_run = {s for s, _, _, _ in _jpeg_entries(status)} | {str(r["set"]) for r in rows.to_dict("records")}
    absent = [name for name in PAPER_SETS if name not in sets_run]
    if absent:
        lines.append("quality: paper test sets not run: " + ", ".join(absent))
    return lines


def section(out_dir: Path, report_dir: Path) -> Section:
    """Return the quality section rendered from `out_dir/quality`."""
    task_dir = out_dir / "quality"
    sec = Section("quality", "Image quality (Table I)",
                  "Y-channel PSNR/SSIM of x4 restoration of LR-JPEG inputs (MATLAB bicubic x1/4, then JPEG "
                  "at QF), mean over each set, beside the paper's Table I.")
    status = read_status(task_dir)
    stored = read_table(task_dir / "table1") if (task_dir / "table1.json").is_file() else None
    rows = stored.frame if stored is not None else pd.DataFrame(columns=["set", "qf", "method"])
    if status is None and (task_dir / "records").is_dir():
        sec.missing.append(no_status_line("quality", task_dir))
    jpeg_rows = [r for r in rows.to_dict("records") if qf_of(r) is not None]
    if not jpeg_rows:
        if _jpeg_entries(status):
            sec.missing += missing(status, rows)
            sec.missing.append("quality: per-image records are stored but Table I was not written (the run "
                               "stopped before scoring); re-run the same command to finish")
        elif status is not None or not (task_dir / "records").is_dir():
            sec.missing.append("quality: no results (run `python run_all.py --task quality --data SET5 SET14`)")
        return sec
    configs, sizes, threads = display_inputs(status) if status else old_folder_inputs(stored.provenance, rows)
    sec.missing += missing(status, rows)
    recipe = (stored.provenance.get("config") or {}).get("recipe", "?")
    sec.tables.append(Table("table1", "Table I: Y-PSNR / Y-SSIM, x4, ours beside the paper",
                            table1(rows, configs, sizes), [
        "Δ = ours - paper. Paper values: tasks/paper_values.json (Table I).",
        "The paper prints one CAJNN row, after the QF 40 block and with no QF of its own; it is read as "
        "QF 40 (REFERENCE.md section 2). There is no paper CAJNN figure for QF 10 or QF 20.",
        f"Recipe: {recipe}.",
        *store_notes(status)]))
    sec.glance += glance(rows)
    sec.tables.append(Table("runtime", "Runtime and parameters", runtime(rows, configs, threads), [
        "Paper: whole Set5 on a Titan Xp (Table I). Ours: sum of per-image restore times on Set5 on the "
        "device shown; runtimes are not part of the reproducibility check."]))
    sec.add_figures(grids, task_dir, report_dir, rows)
    if status is None:
        sec.provenance.append(Provenance("quality table1", stored.provenance))
    for set_name, qf, spec, entry in sorted(_jpeg_entries(status), key=lambda t: (t[0], t[1], method_order(t[2]))):
        sec.provenance.append(Provenance(f"quality {set_name} QF {qf} {spec} ({entry.store})", entry.provenance))
    return sec


def old_folder_inputs(provenance: dict, rows: pd.DataFrame) -> tuple[dict, dict, dict]:
    """Return `display_inputs` for a folder without a status file, from table1's provenance: each method's
    restorer and the crop border (the sets' sizes are unknown: no row is named a subset)."""
    config = provenance.get("config") or {}
    configs = {(str(r["set"]), qf_of(r), str(r["method"])): {
        "preprocessor": (config.get("preprocessors") or {}).get(str(r["method"])),
        "crop_border": config.get("crop_border", 0)} for r in rows.to_dict("records")}
    return configs, {}, {m: provenance.get("torch_threads", "?") for m in config.get("preprocessors") or {}}


def grids(task_dir: Path, report_dir: Path, rows: pd.DataFrame) -> list[Figure]:
    """Return one Fig. 3-style grid per saved example image (rows: QF; tiles: HR, LR-JPEG, outputs), from
    the crops under `examples/` and the scores of `per_image.json`."""
    scores = {}
    if (task_dir / "per_image.json").is_file():
        for r in read_table(task_dir / "per_image").frame.to_dict("records"):
            if not r.get("error") and r.get("psnr") is not None and qf_of(r) is not None:
                scores[(str(r["set"]), qf_of(r), str(r["method"]), str(r["image"]))] = (r["psnr"], r["ssim"])
    specs = sorted({str(m) for m in rows["method"]}, key=method_order)
    out = []
    for image_dir in sorted((task_dir / "examples").glob("*/*"), key=lambda d: (set_order(d.parent.name), d.name)):
        set_name, image_id = image_dir.parent.name, image_dir.name
        if not (image_dir / "hr.png").is_file():
            continue
        qfs = sorted(int(p.stem[4:]) for p in image_dir.glob("lr_q*.png"))
        tiles_by_qf = []
        for qf in qfs:
            tiles = [("HR", image_dir / "hr.png", None, 1), (f"LR-JPEG QF {qf}", image_dir / f"lr_q{qf}.png", None, 4)]
            for spec in specs:
                path = image_dir / f"q{qf}_{slug(spec)}.png"
                score = scores.get((set_name, qf, spec, image_id))
                if path.is_file() and score:
                    tiles.append((spec, path, f"{score[0]:.2f} dB / {score[1]:.4f}", 1))
            tiles_by_qf.append(tiles)
        if not tiles_by_qf:
            continue
        rel = Path("images") / f"quality_{set_name}_{Path(image_id).stem}.png"
        figures.image_grid(tiles_by_qf, report_dir / rel)
        out.append(Figure(rel, f"{set_name} {image_id}: centre crop; rows QF {', '.join(map(str, qfs))}. "
                               "LR-JPEG is shown nearest-upscaled x4; under each output: Y-PSNR / Y-SSIM of "
                               "the whole image.", dataset_pixels=True))
    return out


def glance(rows: pd.DataFrame) -> list[str]:
    """Return one line per restorer: its Y-PSNR gain over bicubic per QF (Table I's paired means), averaged
    over the sets run."""
    mean = {(str(r["set"]), qf_of(r), str(r["method"])): float(r["psnr"]) for r in rows.to_dict("records")
            if qf_of(r) is not None and int(r["n_images"])}
    lines = []
    for spec in sorted({k[2] for k in mean if k[2] != "bicubic"}, key=method_order):
        gains = {}
        for (set_name, qf, other), value in mean.items():
            if other == spec and (set_name, qf, "bicubic") in mean:
                gains.setdefault(qf, []).append(value - mean[(set_name, qf, "bicubic")])
        if gains:
            sets = sorted({k[0] for k in mean if k[2] == spec}, key=set_order)
            lines.append(f"Image quality: {spec} vs bicubic, Y-PSNR " + ", ".join(
                f"{fmt(float(np.mean(g)), 2, True)} dB at QF {qf}" for qf, g in sorted(gains.items()))
                + f" (mean over {', '.join(sets)}).")
    return lines
