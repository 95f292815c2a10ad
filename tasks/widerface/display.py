"""The printed layouts of the WIDER FACE tables (Table III, AP differences, gap shares), one function per
table: the task writes them and the report renders them, from the stored frames."""
from __future__ import annotations

import pandas as pd

from tasks.widerface.groundtruth import SETTINGS


def _display(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in summary.itertuples():
        row = {"Condition": r.condition, "N images": r.n_images}
        for s in SETTINGS:
            row[f"{s.capitalize()} (ours)"] = _ap(getattr(r, s), "{:.4f}")
        for s in SETTINGS:
            v = getattr(r, f"paper_{s}")
            row[f"{s.capitalize()} (paper)"] = f"{v:.3f}" if v is not None and not pd.isna(v) else "-"
        times = [(k, getattr(r, f"time_{k}_s_per_image")) for k in ("load", "degrade", "restore", "detect")]
        row["s/img load/degrade/restore/detect"] = " / ".join(
            f"{v:.3f}" if v is not None and not pd.isna(v) else "-" for _, v in times)
        rows.append(row)
    return pd.DataFrame(rows)


def _display_diffs(diffs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in diffs.itertuples():
        rows.append({"Comparison": f"{r.condition} - {r.baseline}", "Setting": r.setting,
                     "AP difference": _ap(r.difference, "{:+.4f}"),
                     "95% CI": "n/a" if pd.isna(r.ci_low) else f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]"})
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


def _ap(value, pattern: str) -> str:
    return NO_FACES if value is None or pd.isna(value) else pattern.format(value)


def no_face_note(face_counts: dict[str, int], n_images: int) -> str | None:
    """Return the note that explains `n/a` APs: the settings with no face in the evaluated images."""
    empty = [s for s, n in face_counts.items() if n == 0]
    if not empty:
        return None
    return (f"n/a: the {n_images} evaluated image(s) hold no {' / '.join(empty)} face, so AP (and its "
            "difference) is undefined there; run more images (--limit) for a number.")
