"""Comparing two reports' tables: numbers must agree; runtimes, dates and provenance do not count."""
from tasks.report.compare import differences, tables

REPORT = """# Report
Built 2026-01-01 from x

### Table I: Y-PSNR
- a note
- Setting (a): CAJNN small, {iters} iterations.

| QF | Method | PSNR | restore time |
|---|---|---|---|
| 10 | bicubic | {psnr} | {t} |

### Runtime and parameters

| Method | Set5 s |
|---|---|
| bicubic | {t} |

## Provenance
{prov}
"""


def test_tables_are_parsed_by_heading():
    parsed = tables(REPORT.format(psnr="23.99", t="0.01", prov="", iters=5))
    assert parsed["Table I: Y-PSNR"] == [["QF", "Method", "PSNR", "restore time"], ["10", "bicubic", "23.99", "0.01"]]
    assert parsed["Runtime and parameters"][1] == ["bicubic", "0.01"]


def test_only_reproducible_numbers_are_compared():
    a = REPORT.format(psnr="23.99", t="0.01", prov="commit abc, 2026-01-01", iters=5)
    assert differences(a, REPORT.format(psnr="23.99", t="9.99", prov="commit def, 2027-01-01", iters=5)) == []
    diffs = differences(a, REPORT.format(psnr="23.98", t="0.01", prov="", iters=6))
    assert diffs == ["Table I: Y-PSNR [settings]: row 'Setting (a)', text: 'CAJNN small, 5 iterations.' vs "
                     "'CAJNN small, 6 iterations.'", "Table I: Y-PSNR: row '10' bicubic, PSNR: '23.99' vs '23.98'"]
    assert differences(a, "### Other\n\n| x |\n|---|\n| 1 |\n") == [
        "table only in the first report: Table I: Y-PSNR [settings]", "table only in the first report: Table I: Y-PSNR",
        "table only in the first report: Runtime and parameters", "table only in the second report: Other"]


def test_the_leaderboards_seconds_per_megapixel_is_a_runtime():
    """The leaderboard's s/MP column is measured on the machine that ran it (its docs say so): not compared."""
    board = "### Restorer leaderboard\n\n| Method | Score | s/MP |\n|---|---|---|\n| cajnn | {score} | {s} |\n"
    assert differences(board.format(score="24.89", s="13.30"), board.format(score="24.89", s="20.30")) == []
    assert differences(board.format(score="24.78", s="1"), board.format(score="24.89", s="1")) == [
        "Restorer leaderboard: row 'cajnn', Score: '24.78' vs '24.89'"]
