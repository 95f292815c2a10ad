"""The printed layouts of the WIDER FACE tables (Table III, AP differences, gap shares), one function per
table: the task writes them and the report renders them, from the stored frames and the run's configuration."""
from __future__ import annotations

import pandas as pd

from tasks.paper import paper_values
from tasks.report.model import fmt
from tasks.report.settings import restorer_setting, setting_text
from tasks.widerface.groundtruth import SETTINGS

FULL_VAL_IMAGES = 3226


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




def share_text(share, low, high) -> str:
    """Return a gap share as `64.3% [58.1%, 70.2%]` (`n/a` when undefined)."""
    if share is None or pd.isna(share):
        return NO_FACES
    interval = "" if pd.isna(low) else f" [{low:.1%}, {high:.1%}]"
    return f"{share:.1%}{interval}"


def _display_gap(gap: pd.DataFrame) -> pd.DataFrame:
    rows = {}
    for r in gap.itertuples():
        rows.setdefault(r.condition, {"Condition": r.condition})[f"{r.setting.capitalize()} [95%]"] = share_text(
            r.share, r.ci_low, r.ci_high)
    return pd.DataFrame(list(rows.values()))


NO_FACES = "n/a"   # AP of a setting with no face in the evaluated images: undefined (0 / 0), said in a note


def no_face_note(face_counts: dict[str, int], n_images: int) -> str | None:
    """Return the note that explains `n/a` APs: the settings with no face in the evaluated images."""
    empty = [s for s, n in face_counts.items() if n == 0]
    if not empty:
        return None
    return (f"n/a: the {n_images} evaluated image(s) hold no {' / '.join(empty)} face, so AP (and its "
            "difference) is undefined there; run more images (--limit) for a number.")
