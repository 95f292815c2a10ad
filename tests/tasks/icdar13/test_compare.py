"""`python -m tasks.icdar13 compare`: two methods of one text run, word by word (counts by hand)."""
from __future__ import annotations

import re

import pytest

from harness.errors import HarnessError
from tasks.icdar13.__main__ import main


def _per_word(tmp_path, a_correct: set[int], b_correct: set[int], n: int = 10):
    lines = ["method,id,label,prediction,confidence,correct,time_restore,time_recognize,error"]
    for method, right in (("none", set()), ("a", a_correct), ("b", b_correct)):
        lines += [f"{method},{i:03d},WORD,{'word' if i in right else 'ward'},0.9,{i in right},0,0," for i in range(n)]
    path = tmp_path / "per_word_set_rapidocr_x4_q20.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _numbers(out: str) -> tuple[int, int, int, int, int, float]:
    m = re.search(r"only a reads (\d+), only b reads (\d+): a - b = ([+-]\d+) words \[([+-]\d+), ([+-]\d+)\].*"
                  r"McNemar p ([\d.e-]+)", out)
    return (*(int(g) for g in m.groups()[:5]), float(m.group(6)))


def test_counts_and_mcnemar_by_hand(tmp_path, capsys):
    # a reads words 0-5, b reads 2-7: only a 0 and 1, only b 6 and 7 -> net 0, McNemar 2 vs 2: p = 1
    assert main(["compare", str(_per_word(tmp_path, set(range(6)), set(range(2, 8)))), "a", "b"]) == 0
    only_a, only_b, net, low, high, p = _numbers(capsys.readouterr().out)
    assert (only_a, only_b, net, p) == (2, 2, 0, 1.0) and low <= 0 <= high


def test_one_sided_difference_by_hand(tmp_path, capsys):
    # a reads 0-4, b none: net +5; McNemar 5 vs 0: p = 2 * 0.5**5 = 0.0625; every resample's sum is in [0, 10]
    assert main(["compare", str(_per_word(tmp_path, set(range(5)), set())), "a", "b"]) == 0
    only_a, only_b, net, low, high, p = _numbers(capsys.readouterr().out)
    assert (only_a, only_b, net) == (5, 0, 5) and p == pytest.approx(0.0625)
    assert 0 <= low <= 5 <= high <= 10


def test_agreeing_methods_have_a_zero_interval(tmp_path, capsys):
    assert main(["compare", str(_per_word(tmp_path, {1, 3}, {1, 3})), "a", "b"]) == 0
    assert _numbers(capsys.readouterr().out) == (0, 0, 0, 0, 0, 1.0)


def test_bad_input_is_one_clear_error(tmp_path):
    path = _per_word(tmp_path, {1}, {2})
    with pytest.raises(HarnessError, match=r"no method 'c' \(it has: none, a, b\)"):
        main(["compare", str(path), "a", "c"])
    with pytest.raises(HarnessError, match="file not found"):
        main(["compare", str(tmp_path / "missing.csv"), "a", "b"])
    (tmp_path / "other.csv").write_text("x,y\n1,2\n")
    with pytest.raises(HarnessError, match="not a per-word CSV"):
        main(["compare", str(tmp_path / "other.csv"), "a", "b"])
