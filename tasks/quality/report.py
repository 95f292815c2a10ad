"""The quality section: Table I beside the paper, runtime and parameters, and Fig. 3-style image grids.

Reads the quality task's record stores (`OUT/quality/records/<set>_q<qf>_<spec>_<key>/`), not its last
`table1.json`, so that results of several runs and of an interrupted run all show up; the means are the
same as the task's own table. Example crops come from `OUT/quality/examples/` (`--examples N`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness.store import read_records, slug
from harness.tables import read_table
from tasks.paper import TABLE1_METHODS, paper_values, table1_value
from tasks.report import figures
from tasks.report.model import Figure, Provenance, Section, Table, fmt
from tasks.report.settings import restorer_setting, setting_text

PAPER_SETS = ("Set5", "Set14", "BSD100", "Urban100", "Manga109")
PAPER_RUNTIME = {"cajnn": "CAJNN", "rrdb": "RRDB"}  # spec -> key of the paper's Set5 runtime column
PAPER_PARAMS = {"cajnn": "CAJNN", "rrdb": "RRDB", "arcnn": "ARCNN", "dncnn": "DnCNN"}


@dataclass
class Store:
    """One record store of the quality task: a (set, QF, preprocessor) and its per-image records."""

    folder: Path
    config: dict
    provenance: dict
    records: list[dict]

    @property
    def key(self) -> tuple[str, int, str]:
        return self.config["set"], int(self.config["qf"]), self.spec

    @property
    def spec(self) -> str:
        return str((self.config.get("preprocessor") or {}).get("name", "?"))

    @property
    def ok(self) -> list[dict]:
        return [r for r in self.records if "error" not in r and "psnr" in r]


def read_stores(task_dir: Path) -> tuple[list[Store], list[str]]:
    """Return the newest store per (set, QF, spec), and notes about older ones that were skipped."""
    found: dict[tuple, list[Store]] = {}
    no_jpeg = 0
    for config_path in sorted((task_dir / "records").glob("*/config.json")):
        blob = json.loads(config_path.read_text(encoding="utf-8"))
        if blob.get("config", {}).get("qf") is None:   # `--degrade x4`: not a Table I setting
            no_jpeg += 1
            continue
        store = Store(config_path.parent, blob.get("config", {}), blob.get("provenance", {}),
                      list(read_records(config_path.parent).values()))
        found.setdefault(store.key, []).append(store)
    stores, notes = [], []
    for key, group in found.items():
        group.sort(key=lambda s: s.provenance.get("date", ""))
        stores.append(group[-1])
        if len(group) > 1:
            notes.append(f"{key[0]} QF {key[1]} {key[2]}: {len(group) - 1} older record store(s) with another "
                         f"configuration (e.g. other weights) ignored; the newest is shown.")
    if no_jpeg:
        notes.append(f"{no_jpeg} record store(s) of LR inputs without JPEG (`--degrade x4`) are not a Table I "
                     "setting and are not shown here; their numbers are in quality/table1.md.")
    return stores, notes


def _expected_images(task_dir: Path, stores: list[Store]) -> dict[str, int]:
    """Return set name -> images a complete run scores: the set's size, capped by the `--limit` of the
    last run that wrote table1 (a run interrupted before that is measured against the whole set)."""
    limit = None
    if (task_dir / "table1.json").is_file():
        limit = read_table(task_dir / "table1").provenance.get("config", {}).get("limit")
    return {name: min(count, limit) if limit else count for name, count in set_sizes(stores).items()}


def set_sizes(stores: list[Store]) -> dict[str, int]:
    """Return set name -> its number of images (on this machine; the most recorded when it is not here)."""
    from tasks.quality.datasets import embedded_set, folder_set

    out = {}
    for s in stores:
        name, root = s.config["set"], Path(s.config.get("set_root", ""))
        try:
            count = len(embedded_set().files if name == "skimage-smoke" else folder_set(root).files)
        except HarnessError:
            count = len(s.records)  # the set is not on this machine any more
        out[name] = max(out.get(name, 0), count)
    return out


def _order(spec: str) -> tuple:
    known = list(TABLE1_METHODS)
    return (known.index(spec) if spec in known else len(known), spec)



def paired_ok(stores: list[Store]) -> dict[tuple, list[dict]]:
    """Return key -> the store's scored records restricted to the images that every method scored at
    the same set and QF, so that means and differences compare the same images."""
    common: dict[tuple, set] = {}
    for s in stores:
        ids = {r["id"] for r in s.ok}
        key = s.key[:2]
        common[key] = common[key] & ids if key in common else ids
    return {s.key: [r for r in s.ok if r["id"] in common[s.key[:2]]] for s in stores}


def table1(stores: list[Store], sizes: dict[str, int] | None = None) -> pd.DataFrame:
    """Return Table I in long form: one row per (QF, method, set), ours beside the paper's value; means
    over the images every method scored (paired). A row over fewer images than its set has (`sizes`: a
    `--limit`, failures, an interrupted run) says so in its setting and gets no difference from the paper."""
    rows = []
    sizes = sizes or {}
    paired = paired_ok(stores)
    for s in sorted(stores, key=lambda s: (s.key[1], _order(s.spec), _set_order(s.key[0]))):
        set_name, qf, spec = s.key
        ok = paired[s.key]
        psnr = float(np.mean([r["psnr"] for r in ok])) if ok else float("nan")
        ssim = float(np.mean([r["ssim"] for r in ok])) if ok else float("nan")
        paper = table1_value(spec, set_name, qf)
        subs = [restorer_setting(s.config.get("preprocessor"))]
        if set_name not in PAPER_SETS:
            subs.append(f"{set_name} is not a paper test set")
        if int(s.config.get("crop_border", 0)):
            subs.append(f"crop border {s.config['crop_border']} (paper: 0)")
        if len(ok) < len(s.ok):
            subs.append(f"{len(s.ok) - len(ok)} image(s) excluded: another method failed on them")
        subset = len(ok) < sizes.get(set_name, 0)
        if subset:
            subs.append(f"subset: {len(ok)} of the {sizes[set_name]} images of {set_name} (no Δ: the paper "
                        "averages the whole set)")
            paper_delta = None
        else:
            paper_delta = paper
        rows.append({
            "QF": qf, "Method": spec, "Set": set_name, "N": len(ok),
            "PSNR": fmt(psnr, 2), "PSNR paper": fmt(paper[0] if paper else None, 2),
            "ΔPSNR": fmt(psnr - paper_delta[0] if paper_delta else None, 2, True),
            "SSIM": fmt(ssim, 4), "SSIM paper": fmt(paper[1] if paper else None, 4),
            "ΔSSIM": fmt(ssim - paper_delta[1] if paper_delta else None, 4, True),
            "Setting": setting_text(subs) if paper or spec in TABLE1_METHODS else
            setting_text(subs + [f"{spec} is not in the paper's Table I"]),
        })
    return pd.DataFrame(rows)


def _set_order(name: str) -> tuple:
    return (PAPER_SETS.index(name) if name in PAPER_SETS else len(PAPER_SETS), name)


def runtime_table(stores: list[Store]) -> pd.DataFrame:
    """Return restore time per whole set and parameter counts per method, beside the paper's."""
    paper = paper_values()["table1"]
    rows = []
    by_spec: dict[str, list[Store]] = {}
    for s in stores:
        by_spec.setdefault(s.spec, []).append(s)
    for spec in sorted(by_spec, key=_order):
        group = by_spec[spec]
        describe = group[0].config.get("preprocessor") or {}
        stages = describe.get("stages") or [describe]
        counts = [d.get("parameters") for d in stages if d.get("name") in PAPER_PARAMS]
        ours_params = f"{sum(counts) / 1e6:.3f} M" if counts and all(counts) else "-"
        paper_parts = [paper["parameters"].get(PAPER_PARAMS[d["name"]]) for d in stages
                       if d.get("name") in PAPER_PARAMS]
        paper_params = (" + ".join(f"{p / 1e6:g} M" for p in paper_parts)
                        if paper_parts and all(paper_parts) else "-")
        set5 = [s for s in group if s.key[0] == "Set5" and s.ok]
        times = {s.key[1]: sum(r.get("time_restore", 0.0) for r in s.ok) for s in set5}
        paper_time = paper["runtime_set5_s"].get(PAPER_RUNTIME.get(spec, ""), None)
        device = describe.get("device") or "cpu"
        rows.append({
            "Method": spec,
            "Set5 restore time, ours (s, whole set, per QF)": ", ".join(
                f"QF {q}: {t:.2f}" for q, t in sorted(times.items())) or "-",
            "ours on": f"{device}, {group[0].provenance.get('torch_threads', '?')} threads",
            "paper (s, Titan Xp)": f"{paper_time:g}" if paper_time else "-",
            "Parameters, ours": ours_params, "Parameters, paper": paper_params,
        })
    return pd.DataFrame(rows)


def section(out_dir: Path, report_dir: Path) -> Section:
    """Return the quality section built from `out_dir/quality`."""
    task_dir = out_dir / "quality"
    sec = Section("quality", "Image quality (Table I)",
                  "Y-channel PSNR/SSIM of x4 restoration of LR-JPEG inputs (MATLAB bicubic x1/4, then JPEG "
                  "at QF), mean over each set, beside the paper's Table I.")
    stores, notes = read_stores(task_dir)
    if not stores:
        sec.missing.append("quality: no results (run `python run_all.py --task quality --data SET5 SET14`)")
        return sec
    expected = _expected_images(task_dir, stores)
    for s in stores:
        set_name, qf, spec = s.key
        if len(s.records) < expected[set_name]:
            sec.missing.append(f"quality: {set_name} QF {qf} {spec}: {len(s.records)} of {expected[set_name]} "
                               f"images scored (interrupted? re-run the same command to resume)")
        if len(s.ok) < len(s.records):
            errors = [r.get("error", "") for r in s.records if r not in s.ok]
            sec.missing.append(f"quality: {set_name} QF {qf} {spec}: {len(errors)} image(s) failed "
                               f"({errors[0][:120]})")
    ran = {(s.key[2], s.key[1]) for s in stores}
    not_run: dict[str, list[int]] = {}
    for row in paper_values()["table1"]["rows"]:
        specs = [k for k, v in TABLE1_METHODS.items() if v == row["method"]]
        if specs and (specs[0], row["qf"]) not in ran:
            not_run.setdefault(specs[0], []).append(row["qf"])
    if not_run:
        sec.missing.append("quality: paper rows not run: " + "; ".join(
            f"{TABLE1_METHODS[spec]} at QF {', '.join(map(str, qfs))} (`--preproc {spec} --qf "
            f"{' '.join(map(str, qfs))}`)" for spec, qfs in not_run.items()))
    sets_run = {s.key[0] for s in stores}
    absent = [name for name in PAPER_SETS if name not in sets_run]
    if absent:
        sec.missing.append("quality: paper test sets not run: " + ", ".join(absent))
    sec.tables.append(Table("table1", "Table I: Y-PSNR / Y-SSIM, x4, ours beside the paper",
                            table1(stores, set_sizes(stores)), [
        "Δ = ours - paper. Paper values: tasks/paper_values.json (Table I).",
        "The paper prints one CAJNN row, after the QF 40 block and with no QF of its own; it is read as "
        "QF 40 (REFERENCE.md section 2). There is no paper CAJNN figure for QF 10 or QF 20.",
        f"Recipe: {stores[0].config.get('recipe', '?')}.",
        *notes]))
    sec.glance += glance(stores)
    sec.tables.append(Table("runtime", "Runtime and parameters", runtime_table(stores), [
        "Paper: whole Set5 on a Titan Xp (Table I). Ours: sum of per-image restore times on Set5 on the "
        "device shown; runtimes are not part of the reproducibility check."]))
    sec.add_figures(grids, task_dir, report_dir, stores)
    for s in sorted(stores, key=lambda s: (s.key[0], s.key[1], _order(s.spec))):
        sec.provenance.append(Provenance(f"quality {s.key[0]} QF {s.key[1]} {s.spec} ({s.folder.name})",
                                         s.provenance))
    return sec


def grids(task_dir: Path, report_dir: Path, stores: list[Store]) -> list[Figure]:
    """Return one Fig. 3-style grid per saved example image (rows: QF; tiles: HR, LR-JPEG, outputs)."""
    out = []
    by_key = {s.key: s for s in stores}
    specs = sorted({s.spec for s in stores}, key=_order)
    for image_dir in sorted((task_dir / "examples").glob("*/*"), key=lambda d: (_set_order(d.parent.name), d.name)):
        set_name, image_id = image_dir.parent.name, image_dir.name
        if not (image_dir / "hr.png").is_file():
            continue
        qfs = sorted(int(p.stem[4:]) for p in image_dir.glob("lr_q*.png"))
        rows = []
        for qf in qfs:
            tiles = [("HR", image_dir / "hr.png", None, 1), (f"LR-JPEG QF {qf}", image_dir / f"lr_q{qf}.png", None, 4)]
            for spec in specs:
                path = image_dir / f"q{qf}_{slug(spec)}.png"
                store = by_key.get((set_name, qf, spec))
                record = next((r for r in store.ok if r["id"] == image_id), None) if store else None
                if path.is_file() and record:
                    tiles.append((spec, path, f"{record['psnr']:.2f} dB / {record['ssim']:.4f}", 1))
            rows.append(tiles)
        if not rows:
            continue
        rel = Path("images") / f"quality_{set_name}_{Path(image_id).stem}.png"
        figures.image_grid(rows, report_dir / rel)
        out.append(Figure(rel, f"{set_name} {image_id}: centre crop; rows QF {', '.join(map(str, qfs))}. "
                               "LR-JPEG is shown nearest-upscaled x4; under each output: Y-PSNR / Y-SSIM of "
                               "the whole image.", dataset_pixels=True))
    return out


def glance(stores: list[Store]) -> list[str]:
    """Return one line per restorer: its Y-PSNR gain over bicubic per QF, averaged over the sets run
    (each set's gain over the images both scored)."""
    mean = {key: float(np.mean([r["psnr"] for r in ok])) for key, ok in paired_ok(stores).items() if ok}
    lines = []
    for spec in sorted({k[2] for k in mean if k[2] != "bicubic"}, key=_order):
        gains = {}
        for (set_name, qf, other), value in mean.items():
            if other == spec and (set_name, qf, "bicubic") in mean:
                gains.setdefault(qf, []).append(value - mean[(set_name, qf, "bicubic")])
        if gains:
            sets = sorted({k[0] for k in mean if k[2] == spec}, key=_set_order)
            lines.append(f"Image quality: {spec} vs bicubic, Y-PSNR " + ", ".join(
                f"{fmt(float(np.mean(g)), 2, True)} dB at QF {qf}" for qf, g in sorted(gains.items()))
                + f" (mean over {', '.join(sets)}).")
    return lines
