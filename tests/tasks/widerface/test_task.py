"""The widerface task end to end: embedded smoke set, resume, corrupt image, outputs, CLI."""
from __future__ import annotations

import json

import pandas as pd
import pytest

import run_all
from harness.errors import HarnessError
from harness.image import save_image
from tasks.widerface.__main__ import main as cli_main
from tasks.widerface.conditions import conditions_for


def test_conditions_for():
    assert [c.name for c in conditions_for(["none"])] == ["GT", "LR"]
    assert [c.name for c in conditions_for(["bicubic", "cajnn", "bicubic"])] == ["GT", "LR", "LR+bicubic",
                                                                                 "LR+cajnn"]


def test_default_preproc_is_cajnn():
    from tasks.widerface import task

    assert task.DEFAULT_PREPROC == ["cajnn"]


def test_smoke_set_run_with_the_default_detector(tmp_path, capsys):
    out = tmp_path / "out"
    assert run_all.main(["--task", "widerface", "--preproc", "bicubic", "--out", str(out), "--threads", "1"]) == 0
    folder = out / "widerface"
    table = pd.read_csv(folder / "table3.csv")
    assert table.condition.tolist() == ["GT", "LR", "LR+bicubic"]
    assert (table.n_images == 2).all()
    assert table.loc[0, ["easy", "medium", "hard"]].tolist() == [1.0, 1.0, 1.0]  # 13 large faces found
    assert table.paper_hard.tolist()[:2] == [0.792, 0.317]
    assert "smoke set" in (folder / "table3.md").read_text()
    for setting in ("easy", "medium", "hard"):
        assert (folder / f"pr_{setting}.png").stat().st_size > 1000
    diffs = pd.read_csv(folder / "ap_differences.csv")
    assert set(diffs.condition) == {"GT", "LR+bicubic"} and (diffs.baseline == "LR").all()
    # the submission folders re-score to the table's numbers with the standalone evaluator
    capsys.readouterr()
    assert cli_main(["evaluate", table.submission[2], "--gt", str(folder / "smoke_set")]) == 0
    printed = capsys.readouterr().out
    assert f"hard   AP {table.hard[2]:.6f}" in printed
    provenance = json.loads((folder / "table3.json").read_text())["provenance"]
    assert provenance["config"]["detector"]["name"] == "centerface"


def test_a_second_detector_keeps_both_tables(tmp_path):
    out = tmp_path / "out"
    base = ["--task", "widerface", "--preproc", "none", "--out", str(out), "--threads", "1"]
    assert run_all.main(base) == 0
    assert run_all.main(base + ["--detector", "mtcnn"]) == 0
    folder = out / "widerface"
    assert json.loads((folder / "table3.json").read_text())["provenance"]["config"]["detector"]["name"] == "centerface"
    assert json.loads((folder / "table3_mtcnn.json").read_text())["provenance"]["config"]["detector"]["name"] == "mtcnn"
    report = (out / "report" / "report.md").read_text()
    assert "Table III with a second detector (mtcnn)" in report


def test_detector_options_change_the_records(tmp_path):
    out = tmp_path / "out"
    base = ["--task", "widerface", "--preproc", "none", "--out", str(out), "--threads", "1", "--limit", "1"]
    assert run_all.main(base) == 0
    assert run_all.main(base + ["--detector-option", "threshold=0.3"]) == 0
    configs = [json.loads(p.read_text())["config"] for p in (out / "widerface" / "records").glob("GT_*/config.json")]
    assert sorted(c["detector"]["threshold"] for c in configs) == [0.05, 0.3]
    with pytest.raises(HarnessError, match="unknown centerface option"):
        run_all.main(base + ["--detector-option", "treshold=0.3"])
    with pytest.raises(HarnessError, match="takes no --detector-option"):
        run_all.main(base + ["--detector", "mtcnn", "--detector-option", "threshold=0.3"])


def _tiny_wider(root):
    """A WIDER-format folder: one real face photo and one corrupt JPEG (no .mat: all faces kept)."""
    skimage_data = pytest.importorskip("skimage.data")
    images = root / "WIDER_val" / "images"
    save_image(images / "0--A" / "astronaut.jpg", skimage_data.astronaut()[::2, ::2].copy())
    (images / "1--B").mkdir(parents=True)
    (images / "1--B" / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    (root / "wider_face_split").mkdir()
    (root / "wider_face_split" / "wider_face_val_bbx_gt.txt").write_text(
        "0--A/astronaut.jpg\n1\n90 35 40 50 0 0 0 0 0 0\n1--B/broken.jpg\n1\n1 1 10 10 0 0 0 0 0 0\n")
    return root


def test_corrupt_image_recorded_and_resume(tmp_path):
    data = _tiny_wider(tmp_path / "wider")
    out = tmp_path / "out"
    argv = ["--task", "widerface", "--preproc", "bicubic", "--data", str(data), "--out", str(out),
            "--detector", "haar", "--min-face-size", "8", "--lr-qf", "40"]
    assert run_all.main(argv) == 0
    folder = out / "widerface"
    per_image = pd.read_csv(folder / "per_image_haar.csv", keep_default_na=False)
    broken = per_image[per_image.image == "1--B/broken"]
    assert len(broken) == 3 and all("cannot read image" in e for e in broken.error)
    table = pd.read_csv(folder / "table3_haar.csv")
    assert (table.n_images == 1).all()
    assert "1 image(s) failed" in (folder / "table3_haar.md").read_text()
    config = json.loads(next((folder / "records").glob("LR_x4_q40_haar_*/config.json")).read_text())
    assert config["config"]["lr_qf"] == 40
    lines = {p: p.read_text().splitlines() for p in (folder / "records").glob("*/records*.jsonl")}
    assert run_all.main(argv) == 0       # resume: the finished image is not recomputed, the failed one is retried
    again = {p: p.read_text().splitlines() for p in (folder / "records").glob("*/records*.jsonl")}
    assert again.keys() == lines.keys()
    for path, old_lines in lines.items():
        new = again[path][len(old_lines):]
        assert again[path][:len(old_lines)] == old_lines
        assert len(new) == 1 and "broken" in new[0] and "cannot read image" in new[0]


def test_restorer_with_wrong_scale_is_an_error(tmp_path):
    data = _tiny_wider(tmp_path / "wider")
    with pytest.raises(HarnessError, match="x4 restorer"):
        run_all.main(["--task", "widerface", "--preproc", "bicubic+down", "--data", str(data),
                      "--out", str(tmp_path / "out"), "--detector", "haar"])


def test_cli_evaluate_errors(tmp_path, capsys):
    with pytest.raises(HarnessError, match="no wider_face_val.mat"):
        cli_main(["evaluate", str(tmp_path), "--gt", str(tmp_path)])


def test_an_undefined_ap_is_said_not_printed_as_nan():
    """Issue 25.10: WIDER with `--limit 1` printed `nan` APs and `+nan [+nan, +nan]` without saying why."""
    import numpy as np
    import pandas as pd

    from tasks.widerface.bootstrap import _interval
    from tasks.widerface.display import differences, no_face_note

    diffs = pd.DataFrame([{"condition": "GT", "baseline": "LR", "setting": "easy", "difference": float("nan"),
                           "ci_low": float("nan"), "ci_high": float("nan")}])
    shown = differences(diffs).iloc[0]
    assert "nan" not in (shown["ΔAP ours"] + shown["95% CI"])
    assert no_face_note({"easy": 0, "medium": 1, "hard": 33}, 1).startswith("n/a: the 1 evaluated image(s) hold no easy face")
    assert no_face_note({"easy": 2, "medium": 1, "hard": 33}, 1) is None
    assert all(np.isnan(_interval(np.full(10, np.nan), 0.95)))
