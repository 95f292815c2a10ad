"""The faces section: Table III beside the paper, bootstrap intervals, Fig. 6 PR curves, one drawing.

Renders what the widerface task stored in `OUT/widerface/`, recomputing nothing: `table3.json` (the
results and their provenance), `ap_differences.json`, `gap_recovered.json`, PR data `pr_curves.csv` if
the task wrote it (else its own `pr_<setting>.png` plots are shown), `status.json` (harness/status.py:
images expected, done and failed per condition) and `detection_example.json` (the drawing's image and
boxes, drawn on that image's pixels). Runs with a detector other than the default wrote the same files
with a `_<detector>` suffix; their Table III and differences follow the main ones.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from harness.image import load_image
from harness.status import MethodStatus, TaskStatus, no_status_line, read_status
from harness.tables import read_table, table_stems
from tasks.paper import paper_values
from tasks.report import figures
from tasks.report.model import Figure, Provenance, Section, Table, fmt
from tasks.widerface.display import _display_gap, _num, differences, paper_reference, table3
from tasks.widerface.example import read_detection_example
from tasks.widerface.groundtruth import SETTINGS


def _stores(status: TaskStatus | None, detector: str | None = None) -> dict[str, MethodStatus]:
    """Return condition -> its status (records expected, done, failed; newest record time), from the group
    of `detector` (of every detector when None) in the task's status file."""
    out: dict[str, MethodStatus] = {}
    for group_name, condition, entry in status.entries() if status else []:
        if detector is None or group_name == detector:
            out[condition] = entry
    return out


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
    status = read_status(task_dir)
    stores = _stores(status, detector)
    table_csv = task_dir / f"table3{primary}.json"
    if status is None and (task_dir / "records").is_dir():
        sec.missing.append(no_status_line("widerface", task_dir))
    if not stores and not table_csv.is_file():
        sec.missing.append("widerface: no results (run `python run_all.py --task widerface --data WIDER_ROOT`)")
        return sec
    if prov is not None:
        sec.provenance.append(Provenance(f"widerface Table III ({detector})", prov))
    for condition, entry in sorted(stores.items()):
        if entry.recorded < entry.expected:
            sec.missing.append(f"widerface: {condition}: {entry.recorded} of {entry.expected} images detected "
                               "(interrupted? re-run the same command to resume)")
    if not table_csv.is_file():
        sec.missing.append("widerface: per-image detections are stored but Table III was not written (the run "
                           "stopped before scoring); re-run the same command to finish")
        return sec
    newest = max((e.newest_record for e in stores.values()), default=0.0)
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
    sec.add_figures(detection_figure, task_dir / f"detection_example{primary}.json", report_dir)
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


def detection_figure(saved: Path, report_dir: Path) -> list[Figure]:
    """Return the drawing the task chose (tasks/widerface/example.py): ground truth and each condition's
    confident detections on one image, from `detection_example<stem>.json` and the image's pixels."""
    example = read_detection_example(saved)
    if not example:
        return []
    threshold = example["threshold"]
    panels = {c: np.asarray(b, dtype=np.float64).reshape(-1, 5) for c, b in example["conditions"].items()}
    gt = np.asarray(example["ground_truth"], dtype=np.float64).reshape(-1, 4)
    rel = Path("images") / "widerface_detections.jpg"
    figures.detections(load_image(example["path"]), panels, gt, report_dir / rel, threshold)
    return [Figure(rel, f"{example['image']}: ground truth (green) and detections with score >= {threshold} (red) "
                        "per condition, drawn on the original image; the image where a restorer changes the "
                        "number of confident detections most.", True)]
