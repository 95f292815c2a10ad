"""Result tables: the three files of a stem, whatever characters the stem has."""
import json

import pandas as pd

from harness.tables import to_markdown, write_table


def test_write_table_appends_suffixes_to_a_stem_with_dots(tmp_path):
    df = pd.DataFrame({"method": ["a"], "psnr": [24.5]})
    paths = write_table(df, tmp_path / "table_qf40.v2", "T", {"commit": "x"})
    assert [p.name for p in paths] == ["table_qf40.v2.csv", "table_qf40.v2.md", "table_qf40.v2.provenance.json"]
    assert pd.read_csv(paths[0]).equals(df)
    assert "| a | 24.5 |" in paths[1].read_text()
    assert json.loads(paths[2].read_text()) == {"commit": "x"}


def test_to_markdown_leaves_missing_values_blank():
    df = pd.DataFrame({"x": [1.0, None]})
    assert to_markdown(df).splitlines() == ["| x |", "|---|", "| 1.0 |", "|  |"]
