"""The printed layout of Table II (accuracy, correct/N, paired change vs none, beside the paper's row when the
setting is the paper's), one function: the task writes `table2_<tag>.md` with it and the report renders it,
from the stored rows and the run's configuration."""
from __future__ import annotations

import pandas as pd

from tasks.icdar13.smoke import SMOKE_NAME
from tasks.paper import paper_values
from tasks.report.model import fmt
from tasks.report.settings import restorer_setting, setting_text

BASELINE = "none"


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


def n_words(summary: pd.DataFrame) -> int:
    """Return the words of the run (scored and not yet run) of a stored Table II summary."""
    if not len(summary):
        return 0
    return int(summary["n"].max() + (summary["missing"].max() if "missing" in summary else 0))


def paper_reference(summary: pd.DataFrame, config: dict) -> str | None:
    """Return the note that holds the paper's Table II values when the run's setting (recogniser, words,
    degradation) is not the paper's, so that they do not stand beside ours; None when it is the paper's."""
    protocol = substitutions(config, n_words(summary))
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
    comparable = not substitutions(config, n_words(summary))
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
