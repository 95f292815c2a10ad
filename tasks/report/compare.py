"""Compare the numbers of two report.md files (e.g. the committed reference and a fresh run).

    python -m tasks.report.compare results/reference/report/report.md results/report/report.md

Every table is compared cell by cell as printed (PSNR/SSIM, accuracies, APs, counts, intervals), except
those that hold runtimes, which are not reproducible; the settings spelled out under each table (e.g. which
weights) are compared too; dates and provenance are not. Exit
status 0 when equal, 1 with the differences listed.
"""
from __future__ import annotations

import sys
from pathlib import Path

SKIP_TABLES = ("Runtime",)       # titles starting with these hold runtimes
SKIP_COLUMNS = ("time", "Time", "s/MP")  # columns whose header contains these (runtimes)


def tables(markdown: str) -> dict[str, list[list[str]]]:
    """Return {table title (the `### ` heading above it): rows of cells, the header first}."""
    out, title, rows = {}, None, None
    for line in markdown.splitlines() + [""]:
        if line.startswith("### "):
            title, rows = line[4:].strip(), None
        elif line.startswith("- Setting (") and title:  # what stood in for the paper (e.g. which weights)
            out.setdefault(f"{title} [settings]", [["Setting", "text"]]).append(line[2:].split(": ", 1))
        elif line.startswith("|") and title:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if rows is None:
                rows = out.setdefault(title, [])
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif rows is not None and not line.startswith("|"):
            rows = None
    return out


def differences(a: str, b: str) -> list[str]:
    """Return the differences between the tables of two reports (empty when they agree)."""
    ta, tb = tables(a), tables(b)
    diffs = [f"table only in the first report: {t}" for t in ta if t not in tb]
    diffs += [f"table only in the second report: {t}" for t in tb if t not in ta]
    for title in [t for t in ta if t in tb and not t.startswith(SKIP_TABLES)]:
        ra, rb = ta[title], tb[title]
        if not ra or not rb or ra[0] != rb[0]:
            diffs.append(f"{title}: different columns")
            continue
        keep = [i for i, c in enumerate(ra[0]) if not any(s in c for s in SKIP_COLUMNS)]
        if len(ra) != len(rb):
            diffs.append(f"{title}: {len(ra) - 1} rows vs {len(rb) - 1}")
        for row_a, row_b in zip(ra[1:], rb[1:]):
            for i in keep:
                if i < len(row_a) and i < len(row_b) and row_a[i] != row_b[i]:
                    where = f"row {row_a[0]!r}" + (f" {row_a[1]}" if len(row_a) > 1 and i != 1 else "")
                    diffs.append(f"{title}: {where}, {ra[0][i]}: {row_a[i]!r} vs {row_b[i]!r}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    diffs = differences(*(Path(p).read_text(encoding="utf-8") for p in argv))
    for d in diffs:
        print(d)
    print("reports agree" if not diffs else f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
