"""The leaderboard section of the report: the ranked table and the two figures, from OUT/leaderboard/."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from harness.tables import read_table
from tasks.report.model import Figure, Provenance, Section, Table


def section(out_dir: Path, report_dir: Path) -> Section | None:
    """Return the leaderboard section, or None when no leaderboard was run into `out_dir`."""
    from tasks.leaderboard.run import display

    folder = out_dir / "leaderboard"
    if not (folder / "leaderboard.json").is_file():
        return None
    stored = read_table(folder / "leaderboard")
    sec = Section("leaderboard", "Restorer leaderboard",
                  "Every restorer on every task over the degradation sweep; each difference with its 95% interval, "
                  "methods share a rank unless the interval of their paired difference excludes 0 "
                  "(`python run_all.py --leaderboard`, docs/leaderboard.md).")
    sec.glance += glance(stored.frame)
    sec.tables.append(Table("leaderboard", "Restorer leaderboard", display(stored.frame), stored.notes))
    for png, caption in [(p, f"{p.stem[len('score_'):]}: score per degradation and restorer (bars: 95% "
                             "interval of the difference from bicubic).") for p in sorted(folder.glob("score_*.png"))] + [
            (folder / "gain_heatmap.png", "Gain over bicubic per restorer and task (task's unit; mean over sets "
                                          "and degradations).")]:
        if png.is_file():
            rel = Path("plots") / f"leaderboard_{png.name}"
            (report_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, report_dir / rel)
            sec.figures.append(Figure(rel, caption, False))
    sec.provenance.append(Provenance("leaderboard", stored.provenance))
    return sec


def glance(frame: pd.DataFrame) -> list[str]:
    """Return one line per (task, degradation): the methods of rank 1 and their gain over bicubic."""
    lines = []
    for (task, set_name, degradation), group in frame.groupby(["task", "set", "degradation"], sort=False):
        top = group[group["rank"] == 1]
        best = ", ".join(f"{r.method} ({r.vs_bicubic:+.3g} [{r.vs_bicubic_low:+.3g}, {r.vs_bicubic_high:+.3g}] vs "
                         "bicubic)" if not pd.isna(r.vs_bicubic) else r.method for r in top.itertuples())
        lines.append(f"Leaderboard {task} {set_name} {degradation}: rank 1 (shared by methods not told apart by a "
                     f"paired 95% interval): {best}.")
    return lines
