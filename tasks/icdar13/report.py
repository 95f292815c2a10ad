"""The text section: Table II beside the paper (accuracy, correct/N, fixed/broken vs none, McNemar p) and a
strip of words that a restorer fixed or broke, with both predictions.

Reads what the icdar13 task stored in `OUT/icdar13/`: one `table2_<tag>.json` (results and provenance) and
one `per_word_<tag>.json` per (word set, recogniser, degradation), and the record stores for the
completeness check. Word crops for the strip are read from the data folder named in the configuration.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from harness.store import read_records
from harness.tables import read_table, table_stems
from tasks.paper import paper_values
from tasks.report import figures
from tasks.report.model import Figure, Provenance, Section, Table, fmt
from tasks.report.settings import restorer_setting, setting_text

SMOKE_NAME = "smoke-rendered-words"  # tasks.icdar13.smoke.SMOKE_NAME, without importing the task here

BASELINE = "none"
STRIP_WORDS = 6  # fixed and broken words shown per method


def _num(value):
    return None if value is None or pd.isna(value) else float(value)


def substitutions(config: dict, n_words: int) -> list[str]:
    """Return what differs from the paper's ICDAR 2013 / TRBA setting for a run with `config`."""
    subs = []
    n_paper = paper_values()["table2"]["n_words"]
    recognizer = config.get("recognizer") or {}
    if recognizer.get("name") != "trba":
        package = f" ({recognizer['package']})" if recognizer.get("package") else ""
        subs.append(f"{recognizer.get('name', '?')}{package} instead of TRBA weights")
    set_name = str(config.get("set", "?"))
    if config.get("set") == SMOKE_NAME:
        subs.append("embedded smoke set of rendered words instead of ICDAR 2013")
    elif not (config.get("format") == "icdar" and n_words == n_paper):
        subs.append(f"{set_name} ({n_words} words) instead of ICDAR 2013 ({n_paper} words)")
    if config.get("degradation"):
        subs.append(f"inputs degraded {config['degradation']} first (paper: original crops)")
    if config.get("limit"):
        subs.append(f"first {config['limit']} words only")
    return subs


def _n_words(summary: pd.DataFrame) -> int:
    """Return the words of the run (scored and not yet run) of a stored Table II summary."""
    if not len(summary):
        return 0
    return int(summary["n"].max() + (summary["missing"].max() if "missing" in summary else 0))


def paper_reference(summary: pd.DataFrame, config: dict) -> str | None:
    """Return the note that holds the paper's Table II values when the run's setting (recogniser, words,
    degradation) is not the paper's, so that they do not stand beside ours; None when it is the paper's."""
    protocol = substitutions(config, _n_words(summary))
    if not protocol:
        return None
    table = paper_values()["table2"]
    base = next((r for r in table["rows"] if r["method"] == BASELINE), None)
    values = "; ".join(f"{r['method']} {r['accuracy']:.2f}% ({r['correct']}/{table['n_words']}"
                       + (f", {r['correct'] - base['correct']:+d} words vs none" if base and r is not base else "")
                       + ")" for r in table["rows"])
    return (f"Paper, for reference only (TRBA on the {table['n_words']} ICDAR 2013 words; not beside ours, as "
            f"this run's setting differs: {'; '.join(protocol)}): {values}.")


def table2(summary: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Return Table II: ours (accuracy, correct/N, paired change vs none), beside the paper's row when the
    setting (recogniser, words, degradation) is the paper's; otherwise those columns are '-' and the
    paper's values are in the `paper_reference` note."""
    paper = {r["method"]: r for r in paper_values()["table2"]["rows"]}
    n_paper = paper_values()["table2"]["n_words"]
    base_paper = paper.get(BASELINE)
    comparable = not substitutions(config, _n_words(summary))
    rows = []
    for r in summary.to_dict("records"):
        method = str(r["method"])
        p = paper.get(method) if comparable else None
        n = int(r.get("n") or 0)
        paired = _num(r.get("paired_n")) is not None
        acc = _num(r.get("accuracy"))
        extra = (f" ({int(r['failed'])} failed)" if r.get("failed") else "") + (
            f" ({int(r['missing'])} not run)" if r.get("missing") else "")
        subs = substitutions(config, n + int(r.get("missing") or 0))
        if method != BASELINE:
            subs.append(restorer_setting((config.get("preprocessors") or {}).get(method)))
        if method not in paper:
            subs.append("method not in the paper's Table II")
        rows.append({
            "Method": method,
            "Accuracy": f"{fmt(acc, 2)}%" if n else "-",
            "Correct/N": f"{int(r.get('correct') or 0)}/{n}{extra}",
            "Δ vs none": (f"{fmt(_num(r['delta_points']), 2, True)} pp ({int(r['delta_words']):+d})"
                          if paired else "-"),
            "Fixed/Broken": f"{int(r['fixed'])}/{int(r['broken'])}" if paired else "-",
            "p (McNemar)": f"{float(r['p_mcnemar']):.3g}" if paired else "-",
            "Paper": f"{p['accuracy']:.2f}% ({p['correct']}/{n_paper})" if p else "-",
            "Paper Δ vs baseline": (f"{p['accuracy'] - base_paper['accuracy']:+.2f} pp "
                                    f"({p['correct'] - base_paper['correct']:+d})"
                                    if p and base_paper and method != BASELINE else "-"),
            "Δ accuracy vs paper": fmt(acc - p["accuracy"], 2, True) + " pp" if p and acc is not None else "-",
            "Setting": setting_text(subs),
        })
    return pd.DataFrame(rows)


def _store_tags(task_dir: Path) -> dict[str, dict[str, tuple[int, float]]]:
    """Return table tag -> {method: (records, newest record-file mtime)} from the record stores."""
    out: dict[str, dict] = {}
    for config_path in sorted((task_dir / "records").glob("*/config.json")):
        blob = json.loads(config_path.read_text(encoding="utf-8"))
        table = (blob.get("meta") or {}).get("table")   # every store names its table (record_key's meta)
        if not table:
            continue
        method = str((blob.get("config", {}).get("preprocessor") or {}).get("name", "?"))
        files = list(config_path.parent.glob("records*.jsonl"))
        mtime = max((f.stat().st_mtime for f in files), default=0.0)
        out.setdefault(table, {})[method] = (len(read_records(config_path.parent)), mtime)
    return out


def section(out_dir: Path, report_dir: Path) -> Section:
    """Return the text section built from `out_dir/icdar13`."""
    task_dir = out_dir / "icdar13"
    n_paper = paper_values()["table2"]["n_words"]
    sec = Section("icdar13", "Text recognition (Table II)",
                  "Word recognition accuracy after each preprocessor, and the paired comparison with no "
                  "preprocessing (`none`) on the same words: words fixed (wrong -> right), broken (right -> "
                  f"wrong), exact McNemar p. The paper's whole effect is +5 of {n_paper} words.")
    tables = [stem.with_name(stem.name + ".json") for stem in table_stems(task_dir, "table2_")]
    stores = _store_tags(task_dir) if task_dir.is_dir() else {}
    if not tables and not stores:
        sec.missing.append("icdar13: no results (run `python run_all.py --task icdar13 --preproc none cajnn "
                           "cajnn+down --data WORDS`)")
        return sec
    methods_run, icdar_run = set(), False
    for path in tables:
        tag = path.stem[len("table2_"):]
        stored = read_table(path.with_suffix(""))
        prov, summary = stored.provenance, stored.frame
        config = prov.get("config", {})
        methods_run |= set(summary["method"].astype(str))
        n_all = _n_words(summary)
        icdar_run |= config.get("format") == "icdar" and n_all == n_paper
        for r in summary.to_dict("records"):
            if r.get("missing"):
                sec.missing.append(f"icdar13: {tag} {r['method']}: {int(r['missing'])} words not run "
                                   "(interrupted? re-run the same command to resume)")
        newest = max((m for _, m in stores.get(tag, {}).values()), default=0.0)
        if newest > path.stat().st_mtime + 1:
            sec.missing.append(f"icdar13: {tag}: some records are newer than {path.name}; re-run to rescore")
        sec.tables.append(Table(f"table2_{tag}", f"Table II: word recognition, {config.get('set', tag)}, "
                                f"{(config.get('recognizer') or {}).get('name', '?')}"
                                + (f", degraded {config['degradation']}" if config.get("degradation") else ""),
                                table2(summary, config),
                                [paper_reference(summary, config) or
                                 "Paper: TRBA on the 1095 ICDAR 2013 words, Table II (tasks/paper_values.json); "
                                 "its accuracies are 934, 939 and 937 of 1095 words.",
                                 "Fixed/broken and p compare each method with `none` on the same words (exact "
                                 "two-sided McNemar); p > 0.05 means the change is within chance.",
                                 f"Protocol: {config.get('protocol', '?')}."]))
        for r in summary.to_dict("records"):
            if _num(r.get("paired_n")) is not None:
                p = float(r["p_mcnemar"])
                sec.glance.append(f"Text ({tag}): {r['method']} vs none, {int(r['delta_words']):+d} words of "
                                  f"{int(r['paired_n'])} ({int(r['fixed'])} fixed, {int(r['broken'])} broken, McNemar "
                                  f"p = {p:.3g}: " + ("a real change)." if p < 0.05 else "within chance)."))
        if prov:
            sec.provenance.append(Provenance(f"icdar13 {tag}", prov))
        sec.add_figures(word_strips, task_dir, report_dir, tag, config)
    for tag, methods in sorted(stores.items()):
        if not (task_dir / f"table2_{tag}.json").is_file():
            counts = ", ".join(f"{m} {n}" for m, (n, _) in sorted(methods.items()))
            sec.missing.append(f"icdar13: {tag}: per-word records stored ({counts} words) but Table II was not "
                               "written (the run stopped before scoring); re-run the same command to finish")
    absent = [r["method"] for r in paper_values()["table2"]["rows"] if r["method"] not in methods_run]
    if absent:
        sec.missing.append("icdar13: paper rows not run: " + ", ".join(absent)
                           + f" (`--preproc {' '.join(['none'] + [m for m in absent if m != 'none'])}`)")
    if not icdar_run:
        sec.missing.append(f"icdar13: ICDAR 2013 ({n_paper} words) not run: its crops are not in the shared data "
                           "(REFERENCE.md section 3); bring your copy with `--data PATH`")
    return sec


def _word_images(config: dict, ids: list[str]) -> dict[str, np.ndarray]:
    """Return id -> the crop the recogniser saw without a restorer (degraded as the run degraded it)."""
    from harness.degrade import degrade, parse_degradation
    from tasks.icdar13.datasets import load_word, open_word_set
    from tasks.icdar13.smoke import smoke_set

    if config.get("set") == SMOKE_NAME:
        word_set = smoke_set()
    else:
        word_set = open_word_set(config["set_root"], None, config.get("variant", "all"))
    items = {it.id: it for it in word_set.items}
    degradation = parse_degradation(config["degradation"].replace("_", ",")) if config.get("degradation") else None
    out = {}
    for i in ids:
        if i in items:
            image = load_word(items[i])
            if degradation:
                image = degrade(image, degradation.scale, degradation.quality)[1]
            out[i] = image
    return out


def word_strips(task_dir: Path, report_dir: Path, tag: str, config: dict) -> list[Figure]:
    """Return one strip per method: words it fixed and broke vs `none`, with both predictions."""
    path = task_dir / f"per_word_{tag}.json"
    if not path.is_file():
        return []
    words = read_table(path.with_suffix("")).frame
    if BASELINE not in set(words["method"]):
        return []
    base = words[words["method"] == BASELINE].set_index("id")
    base_ok = base["correct"].astype(str).str.lower() == "true"
    out = []
    for method in [m for m in dict.fromkeys(words["method"]) if m != BASELINE]:
        mine = words[words["method"] == method].set_index("id")
        common = [i for i in mine.index if i in base.index]
        ok = mine["correct"].astype(str).str.lower() == "true"
        fixed = [i for i in common if ok[i] and not base_ok[i]][:STRIP_WORDS]
        broken = [i for i in common if base_ok[i] and not ok[i]][:STRIP_WORDS]
        if not fixed and not broken:
            continue
        images = _word_images(config, fixed + broken)
        tiles = []
        for kind, ids in (("fixed", fixed), ("broken", broken)):
            for i in ids:
                if i not in images:
                    continue
                tiles.append({"image": images[i], "color": "green" if kind == "fixed" else "red",
                              "title": f"{kind} by {method}: {mine.loc[i, 'label']}",
                              "caption": f"none: {base.loc[i, 'prediction']!r}\n"
                                         f"{method}: {mine.loc[i, 'prediction']!r}"})
        if not tiles:
            continue
        rel = Path("images") / f"text_{tag}_{_safe(method)}.png"
        figures.word_strip(tiles, report_dir / rel)
        out.append(Figure(rel, f"{tag}: words {method} fixed (green) and broke (red) compared with none, as the "
                               f"recogniser saw them without a restorer; first {STRIP_WORDS} of each.", True))
    return out


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "+-." else "_" for c in text)
