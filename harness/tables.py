"""Result tables: `<stem>.json` (the results: rows at full precision, title, notes, provenance) that the
report and `tasks.report.compare` read, `<stem>.csv` for spreadsheets, `<stem>.md` for people."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError
from harness.store import atomic_write_json, atomic_write_text

RESULTS_FORMAT = 1   # the version of the <stem>.json layout


@dataclass
class StoredTable:
    """A table as a task wrote it: rows (full precision), its title, notes and provenance."""

    frame: pd.DataFrame
    title: str
    notes: list[str]
    provenance: dict


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
    `stem.json` (the results: rows, title, notes, provenance; `read_table` reads it); return the paths.
    The suffixes are appended: a dot in `stem` stays."""
    stem = Path(stem)
    csv_path, md_path, json_path = (stem.parent / f"{stem.name}{suffix}" for suffix in (".csv", ".md", ".json"))
    atomic_write_text(csv_path, df.to_csv(index=False))
    (stem.parent / f"{stem.name}.provenance.json").unlink(missing_ok=True)   # written by earlier versions
    body = [f"# {title}", ""]
    body += [f"- {n}" for n in notes]
    body += ["", to_markdown(display if display is not None else df), "",
             "<details><summary>Provenance</summary>", "", "```json",
             json.dumps(provenance, indent=2, sort_keys=True, default=str), "```", "</details>", ""]
    atomic_write_text(md_path, "\n".join(body))
    rows = [{k: _plain(v) for k, v in row.items()} for row in df.to_dict("records")]
    atomic_write_json(json_path, {"format": RESULTS_FORMAT, "title": title, "notes": list(notes),
                                  "columns": [str(c) for c in df.columns], "rows": rows, "provenance": provenance})
    return [csv_path, md_path, json_path]


def _plain(value):
    """Return a cell as a JSON value: NumPy scalars as Python numbers, NaN/None as null."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def table_stems(folder: str | Path, prefix: str = "") -> list[Path]:
    """Return the stems of the tables `write_table` wrote in `folder` whose names start with `prefix`,
    sorted (not the runner's `status.json`, nor the `.provenance.json` files earlier versions wrote)."""
    paths = sorted(Path(folder).glob(f"{prefix}*.json"))
    return [p.with_suffix("") for p in paths if not p.name.endswith(".provenance.json") and p.name != "status.json"]


def read_table(stem: str | Path) -> StoredTable:
    """Return the table `write_table` wrote at `stem` (reads `stem.json`)."""
    path = Path(stem).parent / f"{Path(stem).name}.json"
    try:
        blob = json.loads(path.read_text(encoding="utf-8"))
        frame = pd.DataFrame(blob["rows"], columns=blob["columns"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HarnessError(f"{path}: not a results table ({exc})") from None
    return StoredTable(frame, blob.get("title", ""), blob.get("notes", []), blob.get("provenance", {}))
