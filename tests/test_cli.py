"""Wrong user input gives one line on stderr and a non-zero exit, never a traceback."""
import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT


def _run(*args):
    return subprocess.run([sys.executable, "run_all.py", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args, needle", [
    (["--task", "nosuchtask"], "unknown task"),
    (["--preproc", "nosuchrestorer"], "unknown preprocessor"),
    (["--qf", "0"], "--qf"),
    (["--qf", "ten"], "--qf"),
    (["--data", "/no/such/folder"], "/no/such/folder"),
    (["--weights", "cajnn=/no/such.pth"], "/no/such.pth"),
    (["--weights", "cajn=README.md"], "unknown stage 'cajn'; stages with weights: arcnn, cajnn"),
    (["--weights", "cajnn=README.md"], "README.md"),
    (["--device", "foo"], "--device foo: not a torch device"),
    (["--device", "cuda:99"], "--device cuda:99"),
    (["--out", "README.md"], "--out README.md: exists and is not a folder"),
    (["--out", "/proc/no/such/folder"], "--out /proc/no/such/folder: cannot write there"),
])
def test_bad_input_is_one_line(args, needle, tmp_path):
    out = [] if "--out" in args else ["--out", str(tmp_path)]
    result = _run("--task", "quality", "--limit", "1", "--qf", "40", "--threads", "1", *args, *out)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_self_ensemble_flag_reaches_the_restorer(tmp_path):
    result = _run("--task", "quality", "--preproc", "cajnn", "--self-ensemble", "--limit", "1", "--qf", "40",
                  "--threads", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    provenance = json.loads((tmp_path / "quality" / "table1.provenance.json").read_text())
    assert provenance["config"]["preprocessors"]["cajnn"]["self_ensemble"] is True
