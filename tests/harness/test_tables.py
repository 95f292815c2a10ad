"""Result tables: the three files of a stem, whatever characters the stem has; the .json reads back."""
import json

import numpy as np
import pandas as pd

from harness.tables import read_table, to_markdown, write_table


def test_write_table_appends_suffixes_to_a_stem_with_dots(tmp_path):
    df = pd.DataFrame({"method": ["a"], "psnr": [24.5]})
    paths = write_table(df, tmp_path / "table_qf40.v2", "T", {"commit": "x"})
    assert [p.name for p in paths] == ["table_qf40.v2.csv", "table_qf40.v2.md", "table_qf40.v2.json"]
    assert pd.read_csv(paths[0]).equals(df)
    assert "| a | 24.5 |" in paths[1].read_text()
    assert json.loads(paths[2].read_text())["provenance"] == {"commit": "x"}


def test_the_json_results_read_back_at_full_precision(tmp_path):
    psnr = 1 / 3 + 24   # not representable in a few decimals
    df = pd.DataFrame({"method": ["a", "b"], "psnr": [psnr, np.nan], "n": np.array([5, 7], dtype=np.int64),
                       "error": ["", "x"], "ok": [True, False]})
    write_table(df, tmp_path / "t", "Title", {"commit": "y"}, ["a note"])
    stored = read_table(tmp_path / "t")
    assert stored.title == "Title" and stored.notes == ["a note"] and stored.provenance == {"commit": "y"}
    assert stored.frame.psnr.iloc[0] == psnr and np.isnan(stored.frame.psnr.iloc[1])
    assert stored.frame.n.tolist() == [5, 7] and stored.frame.error.tolist() == ["", "x"]
    assert stored.frame.ok.tolist() == [True, False] and list(stored.frame.columns) == list(df.columns)


def test_reading_a_file_that_is_not_a_table_is_one_error(tmp_path):
    import pytest

    from harness.errors import HarnessError

    (tmp_path / "t.json").write_text("[1, 2]")
    with pytest.raises(HarnessError, match="not a results table"):
        read_table(tmp_path / "t")


def test_to_markdown_leaves_missing_values_blank():
    df = pd.DataFrame({"x": [1.0, None]})
    assert to_markdown(df).splitlines() == ["| x |", "|---|", "| 1.0 |", "|  |"]


def test_table_stems_skip_the_provenance_files_of_earlier_versions(tmp_path):
    from harness.tables import table_stems

    (tmp_path / "table3.provenance.json").write_text("{}")           # left by an earlier version
    (tmp_path / "table3_haar.provenance.json").write_text("{}")
    write_table(pd.DataFrame({"x": [1]}), tmp_path / "table3", "T", {})
    assert not (tmp_path / "table3.provenance.json").exists()      # replaced by table3.json
    assert table_stems(tmp_path, "table3") == [tmp_path / "table3"]
