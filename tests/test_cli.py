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
    # issue 25.5: options of a task that does not run, and a restorer given twice
    (["--task", "icdar13"], "--qf is an option of the quality task, which this run does not run"),
    (["--lr-qf", "30"], "--lr-qf is an option of the widerface task"),
    (["--preproc", "bicubic", "bicubic"], "--preproc bicubic is given twice"),
    # issue 25.6: --cache naming a file or an unwritable place, --device mps without MPS
    (["--cache", "README.md"], "--cache README.md: exists and is not a folder"),
    (["--cache", "/proc/no/such/cache"], "--cache /proc/no/such/cache: cannot write there"),
    (["--device", "mps"], "--device mps: Apple's MPS is not usable on this machine"),
    # issue 25.10: --crop-border below 0 or larger than the images
    (["--crop-border", "-1"], "--crop-border: expected an integer >= 0, got -1"),
    (["--crop-border", "300"], "--crop-border 300: leaves less than 11 px of"),
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
    # cajnn_small: any CAJNN shows the flag; the default `cajnn` (paper configuration) is 23x the work on CPU
    result = _run("--task", "quality", "--preproc", "cajnn_small", "--self-ensemble", "--limit", "1", "--qf", "40",
                  "--threads", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    provenance = json.loads((tmp_path / "quality" / "table1.json").read_text())["provenance"]
    assert provenance["config"]["preprocessors"]["cajnn_small"]["self_ensemble"] is True


def test_precision_flag_reaches_the_restorer_and_its_records(tmp_path):
    result = _run("--task", "quality", "--preproc", "bicubic", "cajnn_small", "--precision", "bf16", "--limit", "1",
                  "--qf", "40", "--threads", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    provenance = json.loads((tmp_path / "quality" / "table1.json").read_text())["provenance"]
    assert provenance["config"]["preprocessors"]["cajnn_small"]["precision"] == "bf16"
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


def _one_line_exit(argv, capsys, code=2, prog="run_all.py"):
    import run_all
    from harness.cli import run_command

    with pytest.raises(SystemExit) as exit_info:
        run_command(lambda: run_all.main(argv), prog)
    stderr = capsys.readouterr().err
    lines = [line for line in stderr.splitlines() if line.strip() and "warning" not in line]
    assert exit_info.value.code == code and "Traceback" not in stderr and len(lines) == 1, stderr
    return lines[0]


QUICK = ["--task", "quality", "--preproc", "bicubic", "--limit", "1", "--qf", "40", "--threads", "1", "--examples", "0"]


def test_a_text_file_as_weights_is_one_line(tmp_path, capsys, monkeypatch):
    """Issue 25.6: `KeyError: 101` from torch's reader on a text file."""
    monkeypatch.chdir(PROJECT_ROOT)
    text = tmp_path / "notes.txt"
    text.write_text("hello, these are not weights\n")
    line = _one_line_exit([*QUICK, "--preproc", "cajnn", "--weights", f"cajnn={text}", "--out", str(tmp_path)], capsys)
    assert "not a PyTorch checkpoint" in line and "notes.txt" in line


def test_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    """Issue 25.6: OSError ENOSPC from the record store and from the report write."""
    import errno

    from harness.store import RecordStore
    from tasks.report import build

    monkeypatch.chdir(PROJECT_ROOT)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(RecordStore, "append", full)
    line = _one_line_exit([*QUICK, "--out", str(tmp_path / "a")], capsys, code=1)
    assert "No space left on device" in line
    monkeypatch.undo()
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.setattr(build, "atomic_write_text", full)
    line = _one_line_exit(["--report", str(PROJECT_ROOT / "tests")], capsys, code=1)
    assert "No space left on device" in line


def test_report_into_an_unwritable_folder_is_one_line(capsys):
    """Issue 25.6: `--report` on a folder that cannot be written."""
    line = _one_line_exit(["--report", "/proc/self"], capsys)
    assert "report: cannot write /proc/self/report" in line


def test_a_plugin_calling_sys_exit_is_reported(tmp_path, capsys, monkeypatch):
    """Issue 25.6: a plug-in raising SystemExit(3) ended the run with nothing printed."""
    (tmp_path / "exiting_plugin.py").write_text("def restore(image):\n    raise SystemExit(3)\nrestore.scale = 4\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(PROJECT_ROOT)
    line = _one_line_exit([*QUICK, "--preproc", "exiting_plugin:restore", "--out", str(tmp_path / "o")], capsys)
    assert "exiting_plugin:restore" in line and "SystemExit: 3" in line


def test_a_second_run_into_the_same_out_stops_with_one_line(tmp_path, capsys, monkeypatch):
    """Issue 25.8: two runs into one --out at once both did all the work."""
    from filelock import FileLock

    monkeypatch.chdir(PROJECT_ROOT)
    out = tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / ".run_all.lock")):   # the first run, still working
        line = _one_line_exit([*QUICK, "--out", str(out)], capsys)
    assert "another run is writing there now" in line
    import run_all

    assert run_all.main([*QUICK, "--out", str(out)]) == 0   # once it is done, the next run goes ahead


def test_weights_for_a_plugin_stage_from_the_command_line(tmp_path, monkeypatch):
    """Issue 25.9: `--weights my_net=PATH` for a plug-in, as docs/compare_your_restorer.md shows; other
    weights give other records."""
    import pandas as pd

    import run_all

    (tmp_path / "my_net.py").write_text(
        "import numpy as np\nfrom harness.registry import Preprocessor\n"
        "class Brighter(Preprocessor):\n    scale = 4\n"
        "    def __init__(self, shift):\n        self.shift, self.name = shift, 'my_net'\n"
        "    def __call__(self, image):\n"
        "        up = image.repeat(4, 0).repeat(4, 1).astype(int) + self.shift\n"
        "        return np.clip(up, 0, 255).astype(np.uint8)\n"
        "def make(options):\n    return Brighter(int(open(options.weights['my_net']).read()))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(PROJECT_ROOT)
    psnr = []
    for shift in (0, 30):
        weights = tmp_path / f"w{shift}.txt"
        weights.write_text(str(shift))
        run_all.main([*QUICK, "--preproc", "my_net:make", "--weights", f"my_net={weights}", "--out", str(tmp_path / "o")])
        psnr.append(pd.read_csv(tmp_path / "o" / "quality" / "table1.csv").psnr.iloc[0])
    assert psnr[0] != psnr[1]


def test_leaderboard_takes_a_bare_data_path_when_one_task_is_named(tmp_path, monkeypatch):
    """Issue 25.10: `--leaderboard --task quality --data PATH` (one task: the path is unambiguous)."""
    import run_all

    monkeypatch.chdir(PROJECT_ROOT)
    from tests.tasks.quality.test_quality_task import _write_images

    data = _write_images(tmp_path / "set", n=1)
    assert run_all.main(["--leaderboard", "--task", "quality", "--preproc", "bicubic", "--data", str(data),
                         "--degrade", "x4,q40", "--threads", "1", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "leaderboard" / "leaderboard.json").is_file()


def test_console_command_cajnn_bench(monkeypatch, capsys):
    """Issue 25.14: `cajnn-bench` (pyproject [project.scripts]) runs run_all with the same options."""
    import tomllib

    import run_all

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["cajnn-bench"] == "run_all:cli"
    assert "run_all" in project["tool"]["setuptools"]["py-modules"]
    monkeypatch.setattr(sys, "argv", ["cajnn-bench", "--task", "nosuch"])
    with pytest.raises(SystemExit) as exit_info:
        run_all.cli()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "cajnn-bench: error: unknown task 'nosuch'; known: quality, icdar13, widerface, all"


def test_a_resumed_run_says_how_much_it_reused(tmp_path, capsys, monkeypatch):
    """Issue 25.15: "resumed: N of M items from stored records"."""
    import run_all

    monkeypatch.chdir(PROJECT_ROOT)
    args = ["--task", "quality", "--preproc", "bicubic", "--qf", "40", "--threads", "1", "--examples", "0",
            "--out", str(tmp_path)]
    run_all.main([*args, "--limit", "2"])
    assert "resumed:" not in capsys.readouterr().err
    run_all.main([*args, "--limit", "3"])
    assert "quality skimage-smoke_q40: resumed: 2 of 3 images from stored records" in capsys.readouterr().err
