"""The printed layouts of the quality task's tables (Table I beside the paper, runtime and parameters), one
function per table: the task writes `table1.md` with them and the report renders them, from the stored rows."""
from __future__ import annotations

import pandas as pd

from tasks.paper import TABLE1_METHODS, paper_values, table1_value
from tasks.report.model import fmt
from tasks.report.settings import restorer_setting, setting_text

PAPER_SETS = ("Set5", "Set14", "BSD100", "Urban100", "Manga109")
PAPER_RUNTIME = {"cajnn": "CAJNN", "rrdb": "RRDB"}  # spec -> key of the paper's Set5 runtime column
PAPER_PARAMS = {"cajnn": "CAJNN", "rrdb": "RRDB", "arcnn": "ARCNN", "dncnn": "DnCNN"}


def method_order(spec: str) -> tuple:
    """Return the sort key of a method: the paper's Table I order, then by name."""
    known = list(TABLE1_METHODS)
    return (known.index(spec) if spec in known else len(known), spec)


def set_order(name: str) -> tuple:
    """Return the sort key of a set: the paper's order, then by name."""
    return (PAPER_SETS.index(name) if name in PAPER_SETS else len(PAPER_SETS), name)


def qf_of(row: dict) -> int | None:
    """Return the JPEG quality of a `table1` row (None: an LR input without JPEG)."""
    qf = row.get("qf")
    return None if qf is None or pd.isna(qf) else int(qf)


def sorted_rows(rows: pd.DataFrame, jpeg_only: bool = True) -> list[dict]:
    """Return Table I's rows (one per set, QF and method) in the report's order: QF, method, set; rows
    without JPEG last, or (`jpeg_only`, as the report: they are not a Table I setting) left out."""
    records = [r for r in rows.to_dict("records") if qf_of(r) is not None or not jpeg_only]
    return sorted(records, key=lambda r: (qf_of(r) is None, qf_of(r) or 0, method_order(str(r["method"])),
                                          set_order(str(r["set"]))))


def table1(rows: pd.DataFrame, configs: dict[tuple, dict], sizes: dict[str, int],
           jpeg_only: bool = True) -> pd.DataFrame:
    """Return Table I in long form: one row per (QF, method, set) of the task's `table1` rows, ours beside
    the paper's value. `configs[(set, qf, method)]` is the configuration its records were made with (the
    restorer's description, the crop border); `sizes[set]` the images of the set. A row over fewer images
    than its set has (a `--limit`, failures, an interrupted run) says so in its setting and gets no
    difference from the paper. Rows without JPEG (QF "none") only with `jpeg_only=False`."""
    out = []
    for r in sorted_rows(rows, jpeg_only):
        set_name, qf, spec = str(r["set"]), qf_of(r), str(r["method"])
        config = configs.get((set_name, qf, spec), {})
        n, excluded = int(r["n_images"]), int(r.get("n_excluded") or 0)
        psnr, ssim = (float(r["psnr"]), float(r["ssim"])) if n else (float("nan"), float("nan"))
        paper = table1_value(spec, set_name, qf)
        subs = [restorer_setting(config.get("preprocessor"))]
        if set_name not in PAPER_SETS:
            subs.append(f"{set_name} is not a paper test set")
        if int(config.get("crop_border", 0)):
            subs.append(f"crop border {config['crop_border']} (paper: 0)")
        if excluded:
            subs.append(f"{excluded} image(s) excluded: another method failed on them")
        paper_delta = paper
        if n < sizes.get(set_name, 0):
            subs.append(f"subset: {n} of the {sizes[set_name]} images of {set_name} (no Δ: the paper "
                        "averages the whole set)")
            paper_delta = None
        out.append({
            "QF": "none" if qf is None else qf, "Method": spec, "Set": set_name, "N": n,
            "PSNR": fmt(psnr, 2), "PSNR paper": fmt(paper[0] if paper else None, 2),
            "ΔPSNR": fmt(psnr - paper_delta[0] if paper_delta else None, 2, True),
            "SSIM": fmt(ssim, 4), "SSIM paper": fmt(paper[1] if paper else None, 4),
            "ΔSSIM": fmt(ssim - paper_delta[1] if paper_delta else None, 4, True),
            "Setting": setting_text(subs) if paper or spec in TABLE1_METHODS else
            setting_text(subs + [f"{spec} is not in the paper's Table I"]),
        })
    return pd.DataFrame(out)


def runtime(rows: pd.DataFrame, configs: dict[tuple, dict], threads: dict[str, object]) -> pd.DataFrame:
    """Return restore time per whole Set5 and parameter counts per method, beside the paper's, from the
    task's `table1` rows (`restore_s_total`), the records' configurations and `threads[method]` (the torch
    threads of its run)."""
    paper = paper_values()["table1"]
    by_spec: dict[str, list[dict]] = {}
    for r in sorted_rows(rows):
        by_spec.setdefault(str(r["method"]), []).append(r)
    out = []
    for spec in sorted(by_spec, key=method_order):
        first = by_spec[spec][0]
        describe = configs.get((str(first["set"]), int(first["qf"]), spec), {}).get("preprocessor") or {}
        stages = describe.get("stages") or [describe]
        counts = [d.get("parameters") for d in stages if d.get("name") in PAPER_PARAMS]
        ours_params = f"{sum(counts) / 1e6:.3f} M" if counts and all(counts) else "-"
        paper_parts = [paper["parameters"].get(PAPER_PARAMS[d["name"]]) for d in stages
                       if d.get("name") in PAPER_PARAMS]
        paper_params = (" + ".join(f"{p / 1e6:g} M" for p in paper_parts)
                        if paper_parts and all(paper_parts) else "-")
        times = {int(r["qf"]): float(r["restore_s_total"]) for r in by_spec[spec]
                 if r["set"] == "Set5" and int(r["n_images"])}
        paper_time = paper["runtime_set5_s"].get(PAPER_RUNTIME.get(spec, ""), None)
        out.append({
            "Method": spec,
            "Set5 restore time, ours (s, whole set, per QF)": ", ".join(
                f"QF {q}: {t:.2f}" for q, t in sorted(times.items())) or "-",
            "ours on": f"{describe.get('device') or 'cpu'}, {threads.get(spec, '?')} threads",
            "paper (s, Titan Xp)": f"{paper_time:g}" if paper_time else "-",
            "Parameters, ours": ours_params, "Parameters, paper": paper_params,
        })
    return pd.DataFrame(out)


def display_inputs(status) -> tuple[dict[tuple, dict], dict[str, int], dict[str, object]]:
    """Return what Table I's display needs beside its rows, from the task's status file (harness/status.py):
    {(set, QF or None, method): the configuration of its records}, {set: its images}, {method: torch threads}."""
    configs, sizes, threads = {}, {}, {}
    for group_name, method, entry in status.entries():
        # the restorer as the report describes it (its training data too), where the status file has it
        config = {**entry.config, "preprocessor": entry.about} if entry.about else entry.config
        configs[(config["set"], None if config.get("qf") is None else int(config["qf"]), method)] = config
        sizes[config["set"]] = max(sizes.get(config["set"], 0), status.groups[group_name].total)
        threads.setdefault(method, entry.provenance.get("torch_threads", "?"))
    return configs, sizes, threads
