"""Wrong user input gives one line on stderr and a non-zero exit, never a traceback."""
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
])
def test_bad_input_is_one_line(args, needle, tmp_path):
    result = _run(*args, "--out", str(tmp_path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and needle in lines[0], result.stderr
