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
    (["--preproc", "cajnn", "--precision", "fp16"], "--precision fp16: CUDA only"),
    (["--device", "cuda:99"], "--device cuda:99"),
    (["--out", "README.md"], "--out README.md: exists and is not a folder"),
    (["--out", "/proc/no/such/folder"], "--out /proc/no/such/folder: cannot write there"),
])
def test_bad_input_is_one_line(args, needle, tmp_path, capsys, monkeypatch):
    """In process, through the same exit path as `python run_all.py` (a subprocess per case costs 7 s of
    imports; the test below runs the real command line once)."""
    import run_all
    from harness.cli import run_command

    monkeypatch.chdir(PROJECT_ROOT)
    out = [] if "--out" in args else ["--out", str(tmp_path)]
    argv = ["--task", "quality", "--limit", "1", "--qf", "40", "--threads", "1", *args, *out]
    with pytest.raises(SystemExit) as exit_info:
        run_command(lambda: run_all.main(argv), "run_all.py")
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and needle in lines[0], stderr


def test_the_command_line_gives_one_line_and_exit_2():
    result = _run("--task", "quality", "--device", "foo")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == ["run_all.py: error: --device foo: not a torch device (e.g. cpu, "
                                                  "cuda, cuda:1)"]


@pytest.mark.slow
def test_self_ensemble_flag_reaches_the_restorer(tmp_path):
    result = _run("--task", "quality", "--preproc", "cajnn", "--self-ensemble", "--limit", "1", "--qf", "40",
                  "--threads", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    provenance = json.loads((tmp_path / "quality" / "table1.json").read_text())["provenance"]
    assert provenance["config"]["preprocessors"]["cajnn"]["self_ensemble"] is True


def test_precision_flag_reaches_the_restorer_and_its_records(tmp_path):
    result = _run("--task", "quality", "--preproc", "bicubic", "cajnn", "--precision", "bf16", "--limit", "1",
                  "--qf", "40", "--threads", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    provenance = json.loads((tmp_path / "quality" / "table1.json").read_text())["provenance"]
    assert provenance["config"]["preprocessors"]["cajnn"]["precision"] == "bf16"
    assert "precision" not in provenance["config"]["preprocessors"]["bicubic"]   # not a network


def test_degrade_is_one_option_for_all_tasks(tmp_path):
    import pandas as pd

    import run_all
    from harness.errors import HarnessError

    common = ["--preproc", "bicubic", "--limit", "1", "--threads", "1"]
    run_all.main(["--task", "quality", "--qf", "30", *common, "--out", str(tmp_path / "a")])
    run_all.main(["--task", "quality", "--degrade", "x4,q30", *common, "--out", str(tmp_path / "b")])
    a, b = (pd.read_csv(tmp_path / d / "quality" / "table1.csv") for d in "ab")
    assert a.qf.tolist() == b.qf.tolist() == [30] and a.psnr.tolist() == b.psnr.tolist()
    with pytest.raises(HarnessError, match="--qf and --degrade both"):
        run_all.main(["--task", "quality", "--qf", "30", "--degrade", "x4,q30", *common, "--out", str(tmp_path)])
    with pytest.raises(HarnessError, match="--degrade x2_q30: the quality task degrades x4"):
        run_all.main(["--task", "quality", "--degrade", "x2,q30", *common, "--out", str(tmp_path)])
    run_all.main(["--task", "widerface", "--degrade", "x4,q40", "--detector", "haar", *common,
                  "--out", str(tmp_path / "c")])
    configs = [json.loads(p.read_text())["config"] for p in (tmp_path / "c" / "widerface" / "records").glob("LR_*/config.json")]
    assert [c["lr_qf"] for c in configs] == [40]
    with pytest.raises(HarnessError, match="runs one LR setting"):
        run_all.main(["--task", "widerface", "--degrade", "x4,q40", "x4,q20", "--detector", "haar", *common,
                      "--out", str(tmp_path / "c")])
