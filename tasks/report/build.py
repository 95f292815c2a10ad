"""Build the report of a results folder: `OUT/report/index.html` and `OUT/report/report.md`.

    python -m tasks.report OUT [--report-dir DIR]

Reads only what the tasks stored under OUT; a task that did not run, or a run that stopped half-way,
shows up under "What is missing" instead of failing the build.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import os
import shutil
import tempfile
import sys
import traceback
from pathlib import Path

from harness.errors import HarnessError
from harness.provenance import git_commit
from harness.store import atomic_write_text
from harness.tables import read_table, table_stems
from tasks import EXTRA_SECTIONS, TASKS, load_task
from tasks.report import html, markdown
from tasks.report.model import Provenance, Section, Table, fmt

TITLE = "CAJNN reproduction: restorers before high-level vision, beside the paper"
GENERATED = ("images", "plots")  # sub-folders the build rewrites from scratch


def build_sections(out_dir: Path, report_dir: Path) -> list[Section]:
    """Return every section; one whose stored results cannot be read carries the error instead."""
    sections = []
    for key in TASKS:   # in the order of the task table
        try:
            task = load_task(key)
            sections.append(task.report_section(out_dir, report_dir) or generic_section(key, out_dir))
        except Exception as exc:  # a damaged results file must not hide the other tasks' results
            print(f"report: {key}: could not read results: {exc}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            sections.append(Section(key, key, error=f"{type(exc).__name__}: {exc}"))
    for key, module in EXTRA_SECTIONS.items():   # then the explicit list of extra sections
        try:
            extra = importlib.import_module(module).section(out_dir, report_dir)
            if extra is not None:
                sections.append(extra)
        except Exception as exc:  # as above
            print(f"report: {key}: could not read results: {exc}", file=sys.stderr)
            sections.append(Section(key, key, error=f"{type(exc).__name__}: {exc}"))
    return sections


def generic_section(key: str, out_dir: Path) -> Section:
    """Return the section of a task without its own: every table it wrote (`OUT/<key>/*.json`, but the
    per-item `per_*` tables), numbers to 4 decimals (whole numbers without), with the provenance of each."""
    sec = Section(key, key)
    stems = [stem for stem in table_stems(out_dir / key) if not stem.name.startswith("per_")]
    if not stems:
        sec.missing.append(f"{key}: no results (run `python run_all.py --task {key}`)")
    for stem in stems:
        stored = read_table(stem)
        frame = stored.frame.map(_cell)
        sec.tables.append(Table(f"{key}-{stem.name}", stored.title or stem.name, frame, stored.notes))
        sec.provenance.append(Provenance(f"{key} {stem.name}", stored.provenance))
    return sec


def _cell(value):
    """Return a number as printed in a generic table: whole numbers without decimals, others to 4."""
    if isinstance(value, float) and value == value and value.is_integer():
        return str(int(value))
    return fmt(value, 4) if isinstance(value, float) else value


def build_report(out_dir: str | Path, report_dir: str | Path | None = None) -> Path:
    """Write `report.md` and `index.html` for the results in `out_dir`; return the HTML path.

    A rebuild never replaces a report with less than it had: when the stored results no longer give a
    table (or rows of one) that the existing `report.md` shows (e.g. a committed report whose records are
    not committed), nothing is written and HarnessError says which; its plots stay."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise HarnessError(f"--report {out_dir}: no such results folder")
    report_dir = Path(report_dir) if report_dir else out_dir / "report"
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=report_dir, prefix=".write-test-").close()
    except OSError as exc:
        raise HarnessError(f"report: cannot write {report_dir} ({exc.strerror or exc})") from None
    old_plots = {name: Path(tempfile.mkdtemp(dir=report_dir, prefix=f".{name}-before-")) for name in GENERATED}
    for name, keep in old_plots.items():   # set aside; put back if the new report would have less
        if (report_dir / name).is_dir():
            os.replace(report_dir / name, keep / name)
    try:
        sections = build_sections(out_dir, report_dir)
        date = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        header = [f"Built {date} from the results in {out_dir} (report code at commit {git_commit()}).",
                  "Every number is read from the results the tasks stored; nothing is recomputed. "
                  "Each row says whether its setting is the paper's or what was substituted."]
        text = markdown.render(TITLE, header, sections)
        _refuse_to_shrink(report_dir / "report.md", text)
    except BaseException:
        for name, keep in old_plots.items():
            shutil.rmtree(report_dir / name, ignore_errors=True)
            if (keep / name).is_dir():
                os.replace(keep / name, report_dir / name)
        raise
    finally:
        for keep in old_plots.values():
            shutil.rmtree(keep, ignore_errors=True)
    atomic_write_text(report_dir / "report.md", text)
    page = report_dir / "index.html"
    atomic_write_text(page, html.render(TITLE, header, sections, report_dir))
    return page


def _refuse_to_shrink(path: Path, new_text: str) -> None:
    """Raise HarnessError if the report at `path` has a table, or table rows, that `new_text` lacks."""
    from tasks.report.compare import tables

    if not path.is_file():
        return
    old, new = tables(path.read_text(encoding="utf-8")), tables(new_text)
    old = {title: rows for title, rows in old.items() if not title.endswith("[settings]")}
    lost = [title for title, rows in old.items() if len(new.get(title, [])) < len(rows)]
    if lost:
        raise HarnessError(f"report: not rebuilt: the results in {path.parent.parent} no longer give "
                           f"{len(lost)} of the {len(old)} tables of {path} (or all their rows; e.g. "
                           f"{lost[0]!r}); are its records "
                           f"missing (only the report of results/reference is committed)? The report is kept "
                           f"as it was; move it away to build a new one")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasks.report", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="results folder (the --out of the runs)")
    parser.add_argument("--report-dir", default=None, help="where to write (default: OUT/report)")
    args = parser.parse_args(argv)
    try:
        page = build_report(args.out, args.report_dir)
    except HarnessError as exc:
        print(f"python -m tasks.report: error: {exc}", file=sys.stderr)
        return 1
    print(f"report: {page} and {page.with_name('report.md')}")
    return 0
