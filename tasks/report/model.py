"""What a report is made of: sections holding tables, figures, missing items and provenance."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError


@dataclass
class Table:
    """A table to show: `frame` holds display strings; `key` names it (an HTML id, e.g. `table1`)."""

    key: str
    title: str
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        from tasks.report.settings import footnote_settings

        self.frame, self.notes = footnote_settings(self.frame, self.notes)


@dataclass
class Figure:
    """A picture written under the report folder; `dataset_pixels` pictures are never committed."""

    path: Path                 # relative to the report folder
    caption: str
    dataset_pixels: bool


@dataclass
class Provenance:
    """Where one result came from: its label, and the provenance block stored beside it."""

    label: str
    block: dict


@dataclass
class Section:
    """One task's part of the report. `missing` lists what a complete reproduction would add."""

    key: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    glance: list[str] = field(default_factory=list)   # one line per restorer: does it help here?
    missing: list[str] = field(default_factory=list)
    provenance: list[Provenance] = field(default_factory=list)
    error: str = ""            # set when reading the stored results failed; the report still builds

    def add_figures(self, draw, *args) -> None:
        """Append the figures `draw(*args)` returns; a picture that cannot be drawn (e.g. a data file
        that moved) becomes a missing item instead of hiding the section's tables."""
        try:
            self.figures += draw(*args)
        except (HarnessError, OSError, ValueError, KeyError) as exc:
            self.missing.append(f"{self.key}: {getattr(draw, '__name__', 'a picture')} could not be drawn: {exc}")


def fmt(value, digits: int, signed: bool = False) -> str:
    """Return `value` with `digits` decimals ('-' for None/NaN); `signed` adds '+', and a difference
    that rounds to zero prints as 0.00 (not -0.00)."""
    if value is None or value != value:
        return "-"
    value = float(value)
    if signed and round(value, digits) == 0:
        return f"{0:.{digits}f}"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
