"""Writing result tables: CSV for machines, Markdown (with provenance) for people."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.store import atomic_write_json, atomic_write_text


def to_markdown(df: pd.DataFrame) -> str:
    """Return `df` as a GitHub Markdown table (values printed as they are formatted in `df`)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |")
    return "\n".join(lines)


def write_table(df: pd.DataFrame, stem: str | Path, title: str, provenance: dict,
                notes: list[str] = (), display: pd.DataFrame | None = None) -> list[Path]:
    """Write `stem.csv` (full precision), `stem.md` (title, notes, `display` table, provenance) and
    `stem.provenance.json`; return the paths. The suffixes are appended: a dot in `stem` stays."""
    stem = Path(stem)
    csv_path, md_path, prov_path = (stem.parent / f"{stem.name}{suffix}"
                                    for suffix in (".csv", ".md", ".provenance.json"))
    atomic_write_text(csv_path, df.to_csv(index=False))
    body = [f"# {title}", ""]
    body += [f"- {n}" for n in notes]
    body += ["", to_markdown(display if display is not None else df), "",
             "<details><summary>Provenance</summary>", "", "```json",
             json.dumps(provenance, indent=2, sort_keys=True, default=str), "```", "</details>", ""]
    atomic_write_text(md_path, "\n".join(body))
    atomic_write_json(prov_path, provenance)
    return [csv_path, md_path, prov_path]
