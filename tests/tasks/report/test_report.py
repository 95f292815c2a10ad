"""The report: built from real task runs (tiny), rendered in a real headless browser, and from partial
or interrupted results without crashing."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import run_all
from tasks.report.build import build_report

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--hide-scrollbars",
                  "--disable-dev-shm-usage"]  # containers often have a tiny /dev/shm
# Injected into a copy of the page (the report itself has no script): marks every image loaded or not.
MARK_IMAGES = """<script>
window.addEventListener('load', function () {
  document.querySelectorAll('img').forEach(function (img) {
    img.setAttribute('data-loaded', img.complete && img.naturalWidth > 0 ? 'yes' : 'no');
  });
  document.body.setAttribute('data-checked', 'yes');
});
</script>"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results folder with real (tiny) quality and widerface runs; each run rebuilds its report."""
    out = tmp_path_factory.mktemp("results")
    assert run_all.main(["--task", "quality", "--preproc", "bicubic", "--limit", "1", "--qf", "10", "40",
                         "--out", str(out), "--threads", "1"]) == 0
    # Words degraded x2 + JPEG 30 first, so that bicubic changes some predictions (a word strip to draw).
    assert run_all.main(["--task", "icdar13", "--preproc", "none", "bicubic", "--degrade", "x2,q30",
                         "--out", str(out), "--threads", "1"]) == 0
    assert run_all.main(["--task", "widerface", "--preproc", "bicubic", "--detector", "haar",
                         "--min-face-size", "8", "--out", str(out), "--threads", "1"]) == 0
    return out


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        message = "chromium not installed (apt-get install -y chromium; .ci/run installs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_browser(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def test_every_run_writes_the_report(results):
    page = results / "report" / "index.html"
    md = (results / "report" / "report.md").read_text()
    assert page.is_file()
    for title in ("Table I: Y-PSNR / Y-SSIM", "Table II: word recognition, smoke-rendered-words, rapidocr, "
                  "degraded x2_q30", "Table III: WIDER FACE AP", "AP differences vs LR"):
        assert title in md
    # Table II: the paired columns, the substitutions; the paper's values in a reference line (issue 25.12).
    assert "| none | 91.67% | 22/24 | - | - | - | - | - | - |" in md
    assert "| bicubic | 87.50% | 21/24 | -4.17 pp (-1) | 0/1 | 1 | - |" in md
    assert "rapidocr (rapidocr 3.10.0) instead of TRBA weights" in md
    assert "embedded smoke set of rendered words instead of ICDAR 2013" in md
    assert "icdar13: paper rows not run: cajnn, cajnn+down" in md
    assert "](images/text_smoke-rendered-words_rapidocr_x2_q30_bicubic.png)" in md
    # The paper's bicubic QF 10 Set5 value sits beside ours; the embedded set is flagged as substituted.
    assert "23.99/" not in md and "| 10 | bicubic | skimage-smoke |" in md
    assert "| skimage-smoke | 1 | 23.27 | - | - | 0.6824 | - | - | substituted (a) |" in md
    assert "- Setting (a): skimage-smoke is not a paper test set; subset: 1 of the" in md  # spelled out once
    assert "HAAR instead of Tiny Faces weights; embedded smoke set instead of WIDER FACE val" in md
    assert "embedded smoke set instead of WIDER FACE val" in md
    # At a glance: one line per restorer and task.
    assert "- Text (smoke-rendered-words_rapidocr_x2_q30): bicubic vs none, -1 words of 24 (0 fixed, 1 broken, " \
           "McNemar p = 1: within chance)." in md
    assert "- Faces (haar): LR+bicubic vs LR, AP easy " in md
    # Missing items are listed, not fatal.
    assert "Bicubic at QF 20 (`--preproc bicubic --qf 20`)" in md
    # Pictures with dataset pixels are links in the Markdown, plots inline.
    assert "](images/quality_skimage-smoke_astronaut.png)" in md
    assert "![" in md and "](plots/widerface_pr" in md
    assert "<details><summary>quality skimage-smoke QF 10 bicubic" in md


def test_report_only_option_rebuilds_from_stored_results(results, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(results, copy, ignore=shutil.ignore_patterns("report"))
    assert run_all.main(["--report", str(copy)]) == 0
    assert (copy / "report" / "index.html").is_file()
    a = (results / "report" / "report.md").read_text()
    b = (copy / "report" / "report.md").read_text()
    strip = lambda s: re.sub(r"Built .*?\n", "", s).split("## Provenance")[0].replace(str(copy), str(results))
    assert strip(a) == strip(b)


@pytest.mark.slow
def test_page_in_headless_browser(results, tmp_path):
    page = results / "report" / "index.html"
    html = page.read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html  # self-contained
    # Every table present in the results appears, with an id.
    tables = ("table1", "runtime", "table2_smoke-rendered-words_rapidocr_x2_q30", "table3_haar", "ap_differences_haar")
    for key in tables:
        assert f'data-table="{key}"' in html
    # A copy with the marking script and one deliberately broken image (so the check is not vacuous).
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", '<img id="control" src="no-such-file.png" alt="control">'
                                  + MARK_IMAGES + "</body>"))
    done = run_browser(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], tmp_path / "profile1")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-checked="yes"' in dom
    images = re.findall(r"<img\b[^>]*>", dom)
    control = [i for i in images if 'id="control"' in i]
    others = [i for i in images if 'id="control"' not in i]
    assert len(control) == 1 and 'data-loaded="no"' in control[0]
    assert len(others) == html.count("<figure><img") >= 4  # an image grid, a word strip, the PR panels, a drawing
    broken = [i[:120] for i in others if 'data-loaded="yes"' not in i]
    assert not broken, broken
    for key in tables:
        assert f'id="{key}"' in dom
    # A screenshot at a laptop's width, for a person to look at.
    shot = tmp_path / "report.png"
    done = run_browser(["--window-size=1366,3000", f"--screenshot={shot}", page.as_uri()], tmp_path / "profile2")
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (3000, 1366) and pixels.std() > 20  # not blank
    print(f"screenshot: {shot}")


def test_interrupted_run_and_damaged_results(results, tmp_path, monkeypatch):
    from tasks.quality.task import QualityTask

    copy = tmp_path / "partial"
    shutil.copytree(results / "quality", copy / "quality")
    for task in ("widerface", "icdar13"):   # the records and the status, no tables: stopped before writing
        shutil.copytree(results / task / "records", copy / task / "records")
        shutil.copy(results / task / "status.json", copy / task / "status.json")
    # An interrupted quality run: the runner's status says what it expected before the first image was done.
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(QualityTask, "score", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_all.main(["--task", "quality", "--preproc", "bicubic", "--limit", "1", "--qf", "30", "--out", str(copy),
                      "--threads", "1"])
    page = build_report(copy)
    md = page.with_name("report.md").read_text()
    assert "QF 30 bicubic: 0 of 1 images scored" in md and "QF 40 bicubic: 1 of" not in md
    assert "Table III was not written" in md
    assert "smoke-rendered-words_rapidocr_x2_q30: per-word records stored (bicubic 24, none 24 words) but " \
           "Table II was not written" in md
    # A damaged file in one task leaves the others intact.
    (copy / "widerface" / "table3_haar.json").write_text("not a table")
    next((copy / "quality" / "examples").glob("*/*/hr.png")).write_bytes(b"not a png")
    md = build_report(copy).with_name("report.md").read_text()
    assert "could not be read" in md and "Table I: Y-PSNR" in md
    assert "quality: grids could not be drawn" in md


def test_the_report_renders_without_recomputing(results, tmp_path, monkeypatch):
    """A report section renders what the tasks stored: with every metric, evaluation, degradation and record
    store reader made to fail, `--report` gives the same report (the word strips read the crops the task
    saved; only the face drawing reads the pixels of its image, which it draws on)."""
    import harness.degrade
    import harness.metrics
    import harness.store
    import tasks.icdar13.scoring
    import tasks.icdar13.task
    import tasks.quality.task
    import tasks.widerface.evaluation
    import tasks.widerface.task

    copy = tmp_path / "copy"
    shutil.copytree(results, copy, ignore=shutil.ignore_patterns("report"))
    def recompute(*args, **kwargs):
        raise AssertionError("the report recomputed")

    for module, names in ((harness.metrics, ("psnr_y", "ssim_y")), (harness.degrade, ("degrade",)),
                          (harness.store, ("read_records", "read_records_and_torn")),
                          (tasks.icdar13.scoring, ("is_correct", "paired")),
                          (tasks.widerface.evaluation, ("evaluate", "accumulate", "summarize")),
                          (tasks.quality.task, ("psnr_y", "ssim_y", "summarize", "load_image")),
                          (tasks.icdar13.task, ("summarize", "degrade", "load_word")),
                          (tasks.widerface.task, ("summarize", "bootstrap_differences", "bootstrap_gap_share"))):
        for name in names:
            monkeypatch.setattr(module, name, recompute)
    assert run_all.main(["--report", str(copy)]) == 0
    a = (results / "report" / "report.md").read_text()
    b = (copy / "report" / "report.md").read_text()
    strip = lambda s: re.sub(r"Built .*?\n", "", s).split("## Provenance")[0].replace(str(copy), str(results))
    assert strip(a) == strip(b) and "could not be drawn" not in b


def test_status_file_counts_expected_done_and_failed(tmp_path):
    """The runner's status file: 4 images expected, 3 done and 1 failed (a file that is not an image), read
    back by the report's reader; the quality section shows the failure from it."""
    from harness.status import read_status

    data = tmp_path / "set"
    data.mkdir()
    for i in range(3):   # 3 readable images, as in tests/tasks/quality/test_quality_task.py
        Image.fromarray(np.full((40, 52, 3), 60 * i, np.uint8)).save(data / f"img{i}.png")
    (data / "zz_broken.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    assert run_all.main(["--task", "quality", "--preproc", "bicubic", "--data", str(data), "--qf", "30",
                         "--out", str(out), "--threads", "1"]) == 0
    status = read_status(out / "quality")
    group = status.groups["set_q30"]
    entry = group.methods["bicubic"]
    assert (group.total, group.expected, group.finished) == (4, 4, True)
    assert (entry.expected, entry.done, entry.failed, entry.recorded) == (4, 3, 1, 4)
    assert "zz_broken.png" in entry.error and entry.config["qf"] == 30 and entry.newest_record > 0
    assert (out / "quality" / "records" / entry.store / "config.json").is_file()
    md = (out / "report" / "report.md").read_text()
    assert "quality: set QF 30 bicubic: 1 image(s) failed (" in md and "images scored (interrupted" not in md
    # An older results folder (no status file): one line says so, and the tables still render.
    (out / "quality" / "status.json").unlink()
    md = build_report(out).with_name("report.md").read_text()
    assert "quality: " + str(out / "quality" / "status.json") + " not found (results of an older version)" in md
    assert "| 30 | bicubic | set | 3 |" in md


def test_empty_results_folder(tmp_path):
    md = build_report(tmp_path).with_name("report.md").read_text()
    assert "quality: no results" in md and "widerface: no results" in md and "icdar13: no results" in md


def test_report_of_a_missing_folder_is_an_error(tmp_path):
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="no such results folder"):
        run_all.main(["--report", str(tmp_path / "nope")])


def test_a_rebuild_never_replaces_a_report_with_less(tmp_path, capsys):
    """Issue 25.7: `--report results/reference` (records not committed) turned the 58 KB report into an empty
    one and deleted plots/; it is refused with one line, and the report and its plots stay byte for byte."""
    from harness.cli import run_command
    from tasks.report.compare import main as compare

    reference = Path(__file__).resolve().parents[3] / "results" / "reference"
    copy = tmp_path / "reference"
    shutil.copytree(reference / "report", copy / "report")
    before = {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    with pytest.raises(SystemExit) as exit_info:
        run_command(lambda: run_all.main(["--report", str(copy)]), "run_all.py")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "report: not rebuilt" in err
    assert {p.relative_to(copy): p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before
    assert compare([str(reference / "report" / "report.md"), str(copy / "report" / "report.md")]) == 0


def test_a_subset_is_named_where_its_numbers_are():
    """Issue 25.11: a `--limit 3` Table I run was labelled "paper's setting" with ΔPSNR against the paper."""
    import pandas as pd

    from tasks.quality.display import table1

    rows = pd.DataFrame([{"set": "Set5", "qf": 10, "method": "bicubic", "n_images": 3, "n_excluded": 0,
                          "psnr": 24.0, "ssim": 0.6}])   # the mean of 23, 24 and 25 dB
    configs = {("Set5", 10, "bicubic"): {"preprocessor": {"name": "bicubic", "scale": 4}}}
    row = table1(rows, configs, {"Set5": 5}).iloc[0]
    assert row["ΔPSNR"] == row["ΔSSIM"] == "-" and row["PSNR paper"] == "23.99"
    assert "subset: 3 of the 5 images of Set5" in row["Setting"] and not row["Setting"].startswith("paper")
    whole = table1(rows, configs, {"Set5": 3}).iloc[0]
    assert whole["Setting"] == "paper's setting" and whole["ΔPSNR"] == "+0.01"


def test_report_figures_read_well(tmp_path, monkeypatch):
    """Issue 25.13: heat-map numbers readable on dark cells and one colour scale per unit; detection panels
    wide enough; the Set5 image grid before Set14."""
    import pandas as pd

    from tasks.leaderboard import plots
    from tasks.quality.report import grids
    from tasks.report import figures

    assert plots.text_colour((0.0, 0.4, 0.1, 1.0)) == "white" and plots.text_colour((1.0, 1.0, 0.8, 1.0)) == "black"
    saved = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.setdefault("fig", fig) and path)
    frame = pd.DataFrame([{"task": t, "method": m, "vs_bicubic": v, "metric": metric}
                          for t, metric, values in (("quality", "Y-PSNR (dB)", (0.7, -0.7)),
                                                    ("icdar13", "word accuracy (%)", (-6.5, -15.3)))
                          for m, v in zip(("cajnn", "dat"), values)])
    plots.plot_gain_heatmap(frame, tmp_path)
    fig = saved["fig"]
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert labels == ["gain, dB", "gain, percentage points"]   # one scale per task, in its unit
    dark = [t for ax in fig.axes for t in ax.texts if t.get_text() in ("+0.7", "-15.3")]
    assert dark and all(t.get_color() == "white" for t in dark)

    image = np.full((200, 300, 3), 128, np.uint8)
    panels = {name: np.zeros((0, 5)) for name in ("GT", "LR", "LR+bicubic", "LR+cajnn", "LR+arcnn+rrdb")}
    path = figures.detections(image, panels, np.zeros((0, 4)), tmp_path / "d.jpg", 0.5)
    width = Image.open(path).size[0]
    assert width / 3 >= 400   # at most three panels a row, each about 500 px

    task_dir = tmp_path / "quality"
    for set_name in ("Set14", "Set5"):
        folder = task_dir / "examples" / set_name / "a.png"
        folder.mkdir(parents=True)
        for name in ("hr", "lr_q10"):
            Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(folder / f"{name}.png")
    rows = pd.DataFrame([{"set": s, "qf": 10, "method": "bicubic"} for s in ("Set14", "Set5")])
    assert [f.path.name for f in grids(task_dir, tmp_path / "report", rows)] == ["quality_Set5_a.png", "quality_Set14_a.png"]


def test_word_strip_draws_characters_its_font_lacks_as_one_mark(tmp_path):
    """RapidOCR can read a Latin word as CJK characters; the strip shows U+FFFD for them, without warnings."""
    import warnings

    from tasks.report import figures

    assert figures.drawable("Park 国x") == "Park \N{REPLACEMENT CHARACTER}x"
    assert figures.drawable("Café-24") == "Café-24"
    words = [{"image": np.zeros((12, 40, 3), np.uint8), "title": "PARK", "caption": "none: 国 / cajnn: park"}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert figures.word_strip(words, tmp_path / "w.png").is_file()
