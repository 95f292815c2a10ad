"""Setting texts: the paper's, or what stands in for it, from a restorer's stored description."""
import pandas as pd

from tasks.widerface.display import substitutions as face_substitutions
from tasks.report.settings import PAPER, footnote_settings, restorer_setting, setting_text
from tasks.icdar13.display import substitutions as text_substitutions

CAJNN_SMALL = {"name": "cajnn", "scale": 4, "config": {"nf": 32, "gc": 16, "nb": 3}, "parameters": 655843,
               "iterations": 12000, "train_config": "cpu_small", "train_wall_s": 7200, "train_data": ["T91", "BSD200"]}


def test_training_data_reaches_the_report_but_not_the_record_keys():
    # preproc/weights/cajnn_small.md: trained on T91 + BSD200 (config cpu_small). The report reads the folders
    # from the restorer's about() (report_description); describe(), which keys the records, does not change.
    from harness.registry import BuildOptions, build, report_description

    pre = build("cajnn_small", BuildOptions())
    assert "train_data" not in pre.describe()
    assert report_description(pre)["train_data"] == ["T91", "BSD200"]
    two = build("cajnn_small+down", BuildOptions())
    assert [s.get("train_data") for s in report_description(two)["stages"]] == [["T91", "BSD200"], None]
    assert "on T91+BSD200, config cpu_small" in restorer_setting(report_description(pre))
    older = {k: v for k, v in CAJNN_SMALL.items() if k != "train_data"}   # results written before about()
    assert restorer_setting(older) == restorer_setting(CAJNN_SMALL)


def test_non_learned_stages_are_the_papers():
    assert restorer_setting({"name": "bicubic", "scale": 4}) == ""
    assert setting_text([restorer_setting({"name": "none"})]) == PAPER


def test_small_cajnn_says_size_parameters_and_training():
    text = restorer_setting(CAJNN_SMALL)
    assert text == ("CAJNN small (nf 32, gc 16, nb 3), 0.66 M parameters vs 14.8 M, trained here (on "
                    "T91+BSD200, config cpu_small, 12,000 iterations, 2.0 h); not the authors' weights")


def test_pipeline_and_plugin_stages():
    pipeline = {"name": "cajnn+down", "scale": 1, "stages": [CAJNN_SMALL, {"name": "down", "scale": 1}]}
    assert restorer_setting(pipeline).startswith("CAJNN small")
    assert restorer_setting({"name": "spandrel:/m/x.pth"}) == "spandrel:/m/x.pth: a plug-in restorer, not in the paper"
    paper_size = {**CAJNN_SMALL, "config": {"nf": 64, "gc": 32, "nb": 20}, "parameters": 14847491}
    assert restorer_setting(paper_size).startswith("CAJNN, 14.85 M parameters vs 14.8 M")


def test_task_substitutions():
    config = {"detector": {"name": "mtcnn", "package": "facenet-pytorch 2.5.3"}, "images_evaluated": 488,
              "embedded": False, "lr_qf": None, "preprocessors": {"cajnn": CAJNN_SMALL}}
    subs = face_substitutions(config, "LR+cajnn")
    assert subs[:2] == ["MTCNN (facenet-pytorch 2.5.3) instead of Tiny Faces weights",
                        "488-image WIDER val subset (paper: all 3226)"]
    assert face_substitutions({**config, "detector": {"name": "tinyfaces"}, "images_evaluated": 3226}, "GT") == []
    text = {"recognizer": {"name": "rapidocr", "package": "rapidocr 3.10.0"}, "set": "svt_test", "format": "list"}
    assert text_substitutions(text, 647) == ["rapidocr (rapidocr 3.10.0) instead of TRBA weights",
                                             "svt_test (647 words) instead of ICDAR 2013 (1095 words)"]
    assert text_substitutions({"recognizer": {"name": "trba"}, "set": "IC13", "format": "icdar"}, 1095) == []


def test_footnotes_letter_each_distinct_text_once():
    frame = pd.DataFrame({"Method": ["a", "b", "c"], "Setting": [PAPER, "substituted: X", "substituted: X"]})
    out, notes = footnote_settings(frame, ["n"])
    assert list(out["Setting"]) == [PAPER, "substituted (a)", "substituted (a)"]
    assert notes == ["n", "Setting (a): X."]


def test_paper_values_stand_beside_ours_only_in_the_papers_setting():
    """Issue 25.12: Table II's "Δ accuracy vs paper" compared RapidOCR on SVT with TRBA on IC13, and Table III
    with `--degrade x4,q10` set the paper's LR values (no JPEG) beside JPEG rows; such values move to a
    labelled reference line."""
    from tasks.icdar13.display import paper_reference as text_reference, table2
    from tasks.widerface.display import differences, paper_reference as face_reference, table3

    summary = pd.DataFrame([{"method": "none", "n": 647, "correct": 596, "accuracy": 92.12, "missing": 0}])
    svt = {"recognizer": {"name": "rapidocr"}, "set": "svt_test", "format": "list"}
    row = table2(summary, svt).iloc[0]
    assert row["Paper"] == row["Δ accuracy vs paper"] == "-"
    assert text_reference(summary, svt).startswith("Paper, for reference only (TRBA on the 1095 ICDAR 2013 words")
    ic13 = {"recognizer": {"name": "trba"}, "set": "IC13", "format": "icdar"}
    paper_row = table2(summary.assign(n=1095, correct=934, accuracy=85.30), ic13).iloc[0]
    assert paper_row["Paper"] == "85.30% (934/1095)" and paper_row["Δ accuracy vs paper"] == "0.00 pp"
    assert text_reference(summary.assign(n=1095), ic13) is None

    faces = pd.DataFrame([{"condition": c, "n_images": 3226, "easy": 0.9, "medium": 0.8, "hard": 0.5}
                          for c in ("GT", "LR")])
    full = {"detector": {"name": "tinyfaces"}, "images_evaluated": 3226, "lr_qf": None}
    jpeg = {**full, "lr_qf": 10}
    assert list(table3(faces, full)["Easy paper"]) == ["0.900", "0.824"]
    assert list(table3(faces, jpeg)["Easy paper"]) == ["0.900", "-"]
    assert list(table3(faces, jpeg)["Δeasy"]) == ["0.000", "-"]
    assert "LR 0.824/0.692/0.317" in face_reference(["GT", "LR"], jpeg) and "GT 0.900" not in face_reference(["GT", "LR"], jpeg)
    diffs = pd.DataFrame([{"condition": "GT", "baseline": "LR", "setting": "easy", "difference": 0.1,
                           "ci_low": 0.0, "ci_high": 0.2}])
    assert differences(diffs, jpeg).iloc[0]["ΔAP paper"] == "-" and differences(diffs, full).iloc[0]["ΔAP paper"] == "+0.076"


def test_reduced_precision_and_self_ensemble_are_named_beside_the_network():
    # --precision bf16 adds "precision" to a network's description (preproc/torch_restorer.py); fp32 adds nothing.
    assert restorer_setting({**CAJNN_SMALL, "precision": "bf16"}) == (
        restorer_setting(CAJNN_SMALL) + ", run in bf16 autocast (--precision bf16)")
    assert restorer_setting({"name": "waifu2x", "precision": "bf16"}) == (
        "waifu2x: a plug-in restorer, not in the paper, run in bf16 autocast (--precision bf16)")
    assert "autocast" not in restorer_setting(CAJNN_SMALL)
    assert restorer_setting({**CAJNN_SMALL, "self_ensemble": True}).endswith(
        "; not the authors' weights, averaged over the 8 flips/rotations (--self-ensemble)")
    assert "self-ensemble" not in restorer_setting({**CAJNN_SMALL, "self_ensemble": False})
