"""The faces section: Table III beside the paper, bootstrap intervals, Fig. 6 PR curves, one drawing.

Reads what the widerface task stored in `OUT/widerface/`: `table3.json` (the results and their provenance),
`ap_differences.json`, PR data `pr_curves.csv` if the task wrote it (else its own `pr_<setting>.png`
plots are shown), and the per-condition record stores (detections per image) for the drawing. Runs
with a detector other than the default wrote the same files with a `_<detector>` suffix; their
Table III and differences follow the main ones.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from harness.image import load_image
from harness.store import read_records
from harness.tables import read_table, table_stems
from tasks.paper import paper_values
from tasks.report import figures
from tasks.report.model import Figure, Provenance, Section, Table, fmt
from tasks.report.settings import restorer_setting, setting_text

SETTINGS = ("easy", "medium", "hard")
FULL_VAL_IMAGES = 3226
DRAW_THRESHOLD = 0.5



def _num(value):
    return None if value is None or pd.isna(value) else float(value)


def substitutions(config: dict, condition: str) -> list[str]:
    """Return what differs from the paper's setting for one condition of a run with `config`."""
    subs = protocol_substitutions(config, condition)
    if condition.startswith("LR+"):
        spec = condition[3:]
        subs.append(restorer_setting((config.get("preprocessors") or {}).get(spec)))
    return subs


def protocol_substitutions(config: dict, condition: str) -> list[str]:
    """Return what differs from the paper's measurement (detector, images, LR recipe) for one condition:
    when anything does, the paper's value does not stand beside ours (restorers are what is compared)."""
    subs = []
    detector = config.get("detector") or {}
    if detector.get("name") != "tinyfaces":
        package = f" ({detector['package']})" if detector.get("package") else ""
        subs.append(f"{str(detector.get('name', '?')).upper()}{package} instead of Tiny Faces weights")
    n = config.get("images_evaluated")
    if config.get("embedded"):
        subs.append("embedded smoke set instead of WIDER FACE val")
    elif n is not None and int(n) < FULL_VAL_IMAGES:
        subs.append(f"{n}-image WIDER val subset (paper: all {FULL_VAL_IMAGES})")
    if condition != "GT" and config.get("lr_qf"):
        subs.append(f"LR with JPEG QF {config['lr_qf']} (paper: no JPEG)")
    return subs


def paper_reference(conditions: list[str], config: dict) -> str | None:
    """Return the note that holds the paper's Table III values of `conditions` whose measurement differs
    from the paper's (they are then not beside ours); None when every one is the paper's."""
    paper = {row["condition"]: row for row in paper_values()["table3"]["rows"]}
    moved = [c for c in conditions if c in paper and protocol_substitutions(config, c)]
    if not moved:
        return None
    why = list(dict.fromkeys(s for c in moved for s in protocol_substitutions(config, c)))
    values = "; ".join(f"{c} " + "/".join(f"{paper[c][s]:.3f}" for s in SETTINGS) for c in moved)
    return (f"Paper, for reference only (Tiny Faces on the full val set, LR without JPEG; AP easy/medium/hard; "
            f"not beside ours, as the measurement differs: {'; '.join(why)}): {values}.")


def table3(summary: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Return Table III: AP per setting, ours beside the paper's, with the difference and the setting."""
    paper = {row["condition"]: row for row in paper_values()["table3"]["rows"]}
    rows = []
    for r in summary.to_dict("records"):
        condition = str(r["condition"])
        p = None if protocol_substitutions(config, condition) else paper.get(condition)
        row = {"Condition": condition, "N images": int(r.get("n_images", 0))}
        for s in SETTINGS:
            ours = _num(r.get(s))
            row[f"{s.capitalize()}"] = fmt(ours, 4)
            row[f"{s.capitalize()} paper"] = fmt(p[s], 3) if p else "-"
            row[f"Δ{s}"] = fmt(ours - p[s], 3, True) if p and ours is not None else "-"
        subs = substitutions(config, condition)
        if condition not in paper:
            subs.append("condition not in the paper's Table III")
        row["Setting"] = setting_text(subs)
        rows.append(row)
    return pd.DataFrame(rows)


def differences(diffs: pd.DataFrame, config: dict | None = None) -> pd.DataFrame:
    """Return the AP differences vs the baseline with their bootstrap interval, beside the paper's where
    both conditions are measured as in the paper."""
    paper = {row["condition"]: row for row in paper_values()["table3"]["rows"]}
    config = config or {}
    rows = []
    for r in diffs.to_dict("records"):
        c, b, s = str(r["condition"]), str(r["baseline"]), str(r["setting"])
        same = not protocol_substitutions(config, c) and not protocol_substitutions(config, b)
        pd_ = paper[c][s] - paper[b][s] if same and c in paper and b in paper else None
        rows.append({"Comparison": f"{c} - {b}", "Subset": s, "ΔAP ours": fmt(_num(r["difference"]), 4, True),
                     "95% CI": f"[{fmt(_num(r['ci_low']), 4, True)}, {fmt(_num(r['ci_high']), 4, True)}]",
                     "ΔAP paper": fmt(pd_, 3, True)})
    return pd.DataFrame(rows)


def _stores(task_dir: Path, detector: str | None = None) -> dict[str, tuple[dict, dict[str, dict], float]]:
    """Return condition -> (config, {image: record}, newest record-file mtime), newest store per condition,
    of the stores of `detector` (all detectors when None)."""
    out: dict[str, tuple] = {}
    for config_path in sorted((task_dir / "records").glob("*/config.json")):
        blob = json.loads(config_path.read_text(encoding="utf-8"))
        config = blob.get("config", {})
        if detector is not None and (config.get("detector") or {}).get("name") != detector:
            continue
        files = list(config_path.parent.glob("records*.jsonl"))
        mtime = max((f.stat().st_mtime for f in files), default=0.0)
        key = str(config.get("condition", config_path.parent.name))
        date = (blob.get("provenance") or {}).get("date", "")
        if key not in out or date >= out[key][3]:
            out[key] = (config, read_records(config_path.parent), mtime, date)
    return {k: v[:3] for k, v in out.items()}


def _images_on_disk(data: str) -> int | None:
    folder = Path(data) / "WIDER_val" / "images"
    return len(list(folder.glob("*/*.jpg"))) if folder.is_dir() else None


def _table_stems(task_dir: Path) -> list[str]:
    """Return the suffixes of the Table IIIs in `task_dir`: "" (the default detector) first, then
    "_<detector>" of runs with another detector (see tasks.widerface.task.output_stem)."""
    stems = [stem.name[len("table3"):] for stem in table_stems(task_dir, "table3")]
    return sorted(stems, key=lambda stem: (stem != "", stem))


def _run_config(task_dir: Path, stem: str) -> tuple[dict, dict | None]:
    """Return (the run configuration, the provenance) stored in `table3<stem>.json`."""
    if not (task_dir / f"table3{stem}.json").is_file():
        return {}, None
    prov = read_table(task_dir / f"table3{stem}").provenance
    return prov.get("config", {}), prov


def section(out_dir: Path, report_dir: Path) -> Section:
    """Return the faces section built from `out_dir/widerface`: Table III of the default detector (or
    the first detector run), and the Table III of every other detector run in the same folder."""
    task_dir = out_dir / "widerface"
    sec = Section("widerface", "Face detection (Table III, Fig. 6)",
                  "WIDER FACE val, AP under the official protocol for three inputs: the original image (GT), "
                  "its x4 bicubic downscale (LR), and LR restored by a x4 restorer (LR+<restorer>).")
    stems = _table_stems(task_dir)
    primary = stems[0] if stems else ""
    config, prov = _run_config(task_dir, primary)
    detector = (config.get("detector") or {}).get("name")
    stores = _stores(task_dir, detector)
    table_csv = task_dir / f"table3{primary}.json"
    if not stores and not table_csv.is_file():
        sec.missing.append("widerface: no results (run `python run_all.py --task widerface --data WIDER_ROOT`)")
        return sec
    if prov is not None:
        sec.provenance.append(Provenance(f"widerface Table III ({detector})", prov))
    for condition, (store_config, records, _) in sorted(stores.items()):
        on_disk = _images_on_disk(str(store_config.get("data", "")))
        limit = config.get("limit")
        want = min(on_disk, limit) if on_disk is not None and limit else on_disk
        if want is not None and len(records) < want:
            sec.missing.append(f"widerface: {condition}: {len(records)} of {want} images detected (interrupted? "
                               "re-run the same command to resume)")
    if not table_csv.is_file():
        sec.missing.append("widerface: per-image detections are stored but Table III was not written (the run "
                           "stopped before scoring); re-run the same command to finish")
        return sec
    newest = max((m for _, _, m in stores.values()), default=0.0)
    if newest > table_csv.stat().st_mtime + 1:
        sec.missing.append(f"widerface: some detections are newer than {table_csv.name}; re-run to rescore")
    summary = read_table(task_dir / f"table3{primary}").frame
    ran = set(summary["condition"].astype(str))
    for row in paper_values()["table3"]["rows"]:
        if row["condition"] not in ran:
            sec.missing.append(f"widerface: paper condition {row['condition']} not run")
    _add_tables(sec, task_dir, primary, summary, config, f"Table III: WIDER FACE AP ({detector}), ours beside "
                                                          "the paper", glance=True)
    for stem in stems[1:]:
        other, other_prov = _run_config(task_dir, stem)
        name = (other.get("detector") or {}).get("name", stem[1:])
        if other_prov is not None:
            sec.provenance.append(Provenance(f"widerface Table III ({name})", other_prov))
        _add_tables(sec, task_dir, stem, read_table(task_dir / f"table3{stem}").frame, other,
                    f"Table III with a second detector ({name}), ours beside the paper", glance=False)
    sec.add_figures(pr_figures, task_dir, report_dir, config, primary)
    sec.add_figures(detection_figure, stores, report_dir)
    return sec


def _add_tables(sec: Section, task_dir: Path, stem: str, summary: pd.DataFrame, config: dict, title: str,
                glance: bool) -> None:
    """Append Table III and the bootstrap differences of one detector's run (`stem`) to `sec`."""
    reference = paper_reference([str(c) for c in summary["condition"]], config)
    notes = [*([reference] if reference else []),
             "Δ = ours - paper. Paper: Tiny Faces (tiny-faces-pytorch) on the full val set, Table III "
             "(tasks/paper_values.json).",
             "Subset runs score only the faces of the images run (REFERENCE.md 5.8): not comparable to "
             "full-val numbers."]
    empty = [s for s in SETTINGS if s in summary and summary[s].isna().all()]
    if empty:
        notes.append(f"-: the {config.get('images_evaluated', '?')} evaluated image(s) hold no "
                     f"{' / '.join(empty)} face, so that AP is undefined; run more images for a number.")
    sec.tables.append(Table(f"table3{stem}", title, table3(summary, config), notes))
    if (task_dir / f"gap_recovered{stem}.json").is_file():
        sec.tables.append(gap_table(task_dir, stem, config))
    diffs_csv = task_dir / f"ap_differences{stem}.json"
    if not diffs_csv.is_file():
        sec.missing.append(f"widerface: {diffs_csv.name} (bootstrap intervals) not found")
        return
    diffs = read_table(task_dir / f"ap_differences{stem}").frame
    detector = (config.get("detector") or {}).get("name", "?")
    for (condition, baseline), group in diffs.groupby(["condition", "baseline"], sort=False):
        if glance and str(condition).startswith("LR+"):
            sec.glance.append(f"Faces ({detector}): {condition} vs {baseline}, AP " + ", ".join(
                f"{r['setting']} {fmt(_num(r['difference']), 3, True)} [{fmt(_num(r['ci_low']), 3, True)}, "
                f"{fmt(_num(r['ci_high']), 3, True)}]" for r in group.to_dict("records")) + " (95% interval).")
    first = diffs.iloc[0] if len(diffs) else {}
    sec.tables.append(Table(f"ap_differences{stem}", f"AP differences vs LR and vs LR+bicubic ({detector}), paired bootstrap 95% "
                                                     "intervals", differences(diffs, config),
                            [f"Paired bootstrap over images ({first.get('resamples', '?')} resamples, seed "
                             f"{first.get('seed', '?')}); an interval that excludes 0 means the change is "
                             "larger than the image-sampling noise."]))


def gap_table(task_dir: Path, stem: str, config: dict) -> Table:
    """Return the share of the LR-to-GT gap that each LR+<restorer> recovers, per setting, with intervals."""
    from tasks.widerface.display import _display_gap

    stored = read_table(task_dir / f"gap_recovered{stem}")
    detector = (config.get("detector") or {}).get("name", "?")
    return Table(f"gap_recovered{stem}", f"Table III: share of the LR-to-GT gap recovered ({detector})",
                 _display_gap(stored.frame),
                 ["(AP of LR+x - AP of LR) / (AP of GT - AP of LR) on the same images; 100% = as good as the "
                  "original image, 0% = no better than LR; paired bootstrap 95% interval over images "
                  f"({int(stored.frame['resamples'].iloc[0]) if len(stored.frame) else '?'} resamples); n/a: GT "
                  "is not above LR there."])


def pr_figures(task_dir: Path, report_dir: Path, config: dict, stem: str = "") -> list[Figure]:
    """Return the Fig. 6-style PR figure: from `pr_curves<stem>.csv` if stored, else the task's own plots."""
    detector = (config.get("detector") or {}).get("name", "?")
    n = config.get("images_evaluated", "?")
    data = task_dir / f"pr_curves{stem}.csv"
    if data.is_file():
        frame = pd.read_csv(data)
        curves: dict[str, dict] = {}
        for (setting, condition), group in frame.groupby(["setting", "condition"], sort=False):
            ap = float(group["ap"].iloc[0]) if "ap" in group else float("nan")
            curves.setdefault(str(setting), {})[str(condition)] = (group["recall"].to_numpy(),
                                                                  group["precision"].to_numpy(), ap)
        curves = {s: curves[s] for s in SETTINGS if s in curves}
        rel = Path("plots") / "widerface_pr.png"
        figures.pr_panels(curves, report_dir / rel, f"WIDER FACE val, {detector}, {n} images (AP in brackets)")
        return [Figure(rel, "Precision-recall per setting, one curve per condition (Fig. 6 style).", False)]
    out = []
    for setting in SETTINGS:
        src = task_dir / f"pr_{setting}{stem}.png"
        if src.is_file():
            rel = Path("plots") / f"widerface_pr_{setting}.png"
            (report_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, report_dir / rel)
            out.append(Figure(rel, f"Precision-recall, {setting} (Fig. 6 style; the task's own plot).", False))
    return out


def _boxes(record: dict | None) -> np.ndarray:
    rows = (record or {}).get("boxes") or []
    return np.asarray(rows, dtype=np.float64).reshape(-1, 5)


def detection_figure(stores: dict, report_dir: Path) -> list[Figure]:
    """Return one drawing of the image whose confident detections change most between LR and a restorer."""
    if "LR" not in stores or len(stores) < 2:
        return []
    config, lr_records, _ = stores["LR"]
    root = Path(str(config.get("data", "")))
    restored = [c for c in stores if c.startswith("LR+")]
    others = restored or [c for c in stores if c != "LR"]

    def confident(record):
        b = _boxes(record)
        return int((b[:, 4] >= DRAW_THRESHOLD).sum())

    candidates = []
    for image_id in sorted(lr_records):
        path = root / "WIDER_val" / "images" / f"{image_id}.jpg"
        if not path.is_file() or any(image_id not in stores[c][1] for c in others):
            continue
        change = max(abs(confident(stores[c][1][image_id]) - confident(lr_records[image_id])) for c in others)
        candidates.append((-change, image_id, path))
    if not candidates:
        return []
    _, image_id, path = min(candidates)
    gt = _ground_truth(root, image_id)
    order = [c for c in ("GT", "LR") if c in stores] + sorted(c for c in stores if c not in ("GT", "LR"))
    panels = {c: _boxes(stores[c][1].get(image_id)) for c in order}
    rel = Path("images") / "widerface_detections.jpg"
    figures.detections(load_image(path), panels, gt, report_dir / rel, DRAW_THRESHOLD)
    return [Figure(rel, f"{image_id}: ground truth (green) and detections with score >= {DRAW_THRESHOLD} (red) "
                        "per condition, drawn on the original image; the image where a restorer changes the "
                        "number of confident detections most.", True)]


def _ground_truth(root: Path, image_id: str) -> np.ndarray:
    from tasks.widerface.dataset import GT_TEXT, parse_annotations

    path = root / GT_TEXT
    if not path.is_file():
        return np.zeros((0, 4))
    for name, boxes, _ in parse_annotations(path):
        if name.rsplit(".", 1)[0] == image_id:
            return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.zeros((0, 4))
