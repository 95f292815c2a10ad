"""Progress lines for runs whose output goes to a file."""
import io

from harness.progress import LineProgress, progress


def test_lines_every_n_items_with_rate_and_eta():
    out = io.StringIO()
    bar = LineProgress(total=40, desc="widerface centerface", unit="images", stream=out)   # every 40 // 20 = 2
    for _ in range(5):
        bar.update()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("widerface centerface: 2/40 images (5%), ")
    assert lines[1].startswith("widerface centerface: 4/40 images (10%), ")
    assert "images/s, elapsed 0m00s, ETA " in lines[1]


def test_progress_yields_every_item_and_reports_the_last(capsys):
    assert list(progress(range(3), "quality Set5", "images")) == [0, 1, 2]   # pytest's stderr is no TTY
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("quality Set5: 3/3 images (100%), ")
