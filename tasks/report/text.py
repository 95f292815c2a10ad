"""The text section: Table II beside the paper (placeholder until the icdar13 task stores results)."""
from __future__ import annotations

from pathlib import Path

from tasks.report.model import Section


def section(out_dir: Path, report_dir: Path) -> Section:
    sec = Section("icdar13", "Text recognition (Table II)")
    if not (out_dir / "icdar13").is_dir():
        sec.missing.append("icdar13: no results (run `python run_all.py --task icdar13 --data WORDS`)")
    return sec
