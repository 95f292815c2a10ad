"""The quality task end to end: Table I layout, resume, corrupt images, the embedded default."""
import socket

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import run_all
from harness import registry
from tests.conftest import require_shared_data


def _write_images(folder, n=3, size=(40, 52)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, size + (3,), dtype=np.uint8)).save(folder / f"im{i}.png")
    return folder


@pytest.mark.slow
def test_acceptance_bicubic_rows_set5_set14(tmp_path):
    set5, set14 = require_shared_data("sr", "Set5"), require_shared_data("sr", "Set14")
    run_all.main(["--task", "quality", "--preproc", "bicubic", "--data", str(set5), str(set14),
                  "--qf", "10", "20", "40", "--out", str(tmp_path)])
    table = pd.read_csv(tmp_path / "quality" / "table1.csv")
    assert len(table) == 6 and (table.n_failed == 0).all()
    assert (table.delta_psnr.abs() <= 0.01).all()
    assert (table.delta_ssim.abs() <= 0.0002).all()
    md = (tmp_path / "quality" / "table1.md").read_text()
    assert "| 10 | bicubic | Set5 | 5 |" in md and "Provenance" in md and "commit" in md   # the report's layout


def test_corrupt_image_is_recorded_and_run_continues(tmp_path):
    data = _write_images(tmp_path / "set")
    (data / "zz_broken.png").write_bytes(b"not an image")
    run_all.main(["--task", "quality", "--preproc", "bicubic", "--data", str(data), "--qf", "30",
                  "--out", str(tmp_path / "out")])
    per_image = pd.read_csv(tmp_path / "out" / "quality" / "per_image.csv")
    broken = per_image[per_image.image == "zz_broken.png"]
    assert len(broken) == 1 and "zz_broken.png" in broken.error.iloc[0]
    table = pd.read_csv(tmp_path / "out" / "quality" / "table1.csv")
    assert table.n_images.iloc[0] == 3 and table.n_failed.iloc[0] == 1


def register_x4(monkeypatch, name: str, restore, data, out) -> list[str]:
    """Register `restore` as the x4 restorer `name` for this test; return the quality run's arguments (QF 50)."""
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    registry.register(name, restore, scale=4)
    return ["--task", "quality", "--preproc", name, "--data", str(data), "--qf", "50", "--out", str(out)]


def test_rerun_resumes_without_recomputing(tmp_path, monkeypatch):
    data = _write_images(tmp_path / "set", n=2)
    calls = []

    def counting(image):
        calls.append(1)
        return image.repeat(4, axis=0).repeat(4, axis=1)

    args = register_x4(monkeypatch, "counting", counting, data, tmp_path / "out")
    run_all.main(args)
    assert len(calls) == 2
    run_all.main(args)
    assert len(calls) == 2  # everything was already scored
    _write_images(tmp_path / "set", n=3)  # a new image appears: only it is scored
    run_all.main(args)
    assert len(calls) == 3


def test_embedded_default_runs_without_network(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network is unreachable in this test")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    run_all.main(["--task", "quality", "--preproc", "bicubic", "--qf", "40", "--limit", "2",
                  "--out", str(tmp_path)])
    table = pd.read_csv(tmp_path / "quality" / "table1.csv")
    assert table.set.iloc[0] == "skimage-smoke" and table.n_images.iloc[0] == 2
    assert 15 < table.psnr.iloc[0] < 40


def test_sets_with_the_same_folder_name_stay_apart(tmp_path):
    a = _write_images(tmp_path / "Set5" / "HR", n=2)
    b = _write_images(tmp_path / "Set14" / "HR", n=3, size=(48, 60))
    run_all.main(["--task", "quality", "--preproc", "bicubic", "--data", str(a), str(b), "--qf", "30",
                  "--out", str(tmp_path / "out")])
    table = pd.read_csv(tmp_path / "out" / "quality" / "table1.csv")
    assert sorted(zip(table["set"], table.n_images)) == [("Set14-HR", 3), ("Set5-HR", 2)]
    with pytest.raises(Exception, match="the same folder is given twice"):
        run_all.main(["--task", "quality", "--preproc", "bicubic", "--data", str(a), str(a), "--qf", "30",
                      "--out", str(tmp_path / "out2")])


def test_unique_names_by_hand():
    from tasks.quality.datasets import unique_names

    assert unique_names(["/d/Set5", "/d/Set14"]) == ["Set5", "Set14"]
    assert unique_names(["/d/Set5/HR", "/d/Set14/HR", "/e/x"]) == ["Set5-HR", "Set14-HR", "x"]
    assert unique_names(["/a/s/HR", "/b/s/HR"]) == ["a-s-HR", "b-s-HR"]


def test_a_restorer_that_fails_on_some_images_is_compared_on_the_others(tmp_path, monkeypatch):
    """A restorer equal to bicubic wherever it works must score exactly bicubic's mean, not a lower one."""
    from harness.errors import HarnessError
    from harness.resize import imresize
    from tasks.report.build import build_report

    data = _write_images(tmp_path / "set", n=4)
    seen = []

    def flaky(image):
        seen.append(1)
        if len(seen) % 2:   # fails on the 1st and 3rd image
            raise HarnessError("flaky restorer failed")
        return imresize(image, 4)

    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    registry.register("flaky", flaky, scale=4)
    out = tmp_path / "out"
    run_all.main(["--task", "quality", "--preproc", "bicubic", "flaky", "--data", str(data), "--qf", "30",
                  "--out", str(out)])
    table = pd.read_csv(out / "quality" / "table1.csv").set_index("method")
    assert table.loc["flaky", "n_failed"] == 2 and table.loc["bicubic", "n_excluded"] == 2
    assert table.loc["flaky", "n_images"] == table.loc["bicubic", "n_images"] == 2
    assert table.loc["flaky", "psnr"] == table.loc["bicubic", "psnr"]
    md = build_report(out).with_name("report.md").read_text()
    assert "flaky vs bicubic, Y-PSNR 0.00 dB at QF 30" in md


def test_editing_a_plugin_gives_new_records(tmp_path, monkeypatch):
    import sys

    data = _write_images(tmp_path / "set", n=1)
    plugin = tmp_path / "plug" / "my_restorer_mod.py"
    plugin.parent.mkdir()
    monkeypatch.syspath_prepend(str(plugin.parent))
    args = ["--task", "quality", "--preproc", "my_restorer_mod:restore", "--data", str(data), "--qf", "30",
            "--out", str(tmp_path / "out")]
    psnr = []
    for shift in (0, 40):   # the second version of the plug-in brightens its output
        plugin.write_text("import numpy as np\nscale = 4\n"
                          "def restore(image):\n"
                          f"    return np.clip(image.repeat(4, 0).repeat(4, 1).astype(int) + {shift}, 0, 255)"
                          ".astype(np.uint8)\nrestore.scale = 4\n")
        sys.modules.pop("my_restorer_mod", None)
        run_all.main(args)
        psnr.append(pd.read_csv(tmp_path / "out" / "quality" / "table1.csv").psnr.iloc[0])
    assert psnr[0] != psnr[1]
    assert len(list((tmp_path / "out" / "quality" / "records").glob("*my_restorer_mod*"))) == 2


def test_editing_a_plugins_helper_module_gives_new_records(tmp_path, monkeypatch):
    """Issue 25.2: a plug-in that imports a helper module of its own; editing the helper recomputes."""
    import sys

    data = _write_images(tmp_path / "set", n=1)
    folder = tmp_path / "plug"
    folder.mkdir()
    (folder / "my_plugin_with_helper.py").write_text(
        "from my_plugin_helper import brighten\n"
        "def restore(image):\n    return brighten(image.repeat(4, 0).repeat(4, 1))\nrestore.scale = 4\n")
    monkeypatch.syspath_prepend(str(folder))
    args = ["--task", "quality", "--preproc", "my_plugin_with_helper:restore", "--data", str(data), "--qf", "30",
            "--out", str(tmp_path / "out"), "--examples", "0"]
    psnr = []
    for shift in (0, 40):   # only the helper changes
        (folder / "my_plugin_helper.py").write_text(
            "import numpy as np\n"
            f"def brighten(image):\n    return np.clip(image.astype(int) + {shift}, 0, 255).astype(np.uint8)\n")
        sys.modules.pop("my_plugin_with_helper", None)
        sys.modules.pop("my_plugin_helper", None)
        run_all.main(args)
        psnr.append(pd.read_csv(tmp_path / "out" / "quality" / "table1.csv").psnr.iloc[0])
    assert psnr[0] != psnr[1]


def test_failed_items_are_retried_and_force_recomputes(tmp_path, monkeypatch):
    from harness.errors import HarnessError

    data = _write_images(tmp_path / "set", n=2)
    calls, broken = [], {"on": True}

    def sometimes(image):
        calls.append(1)
        if broken["on"] and len(calls) == 1:
            raise HarnessError("temporary failure")
        return image.repeat(4, axis=0).repeat(4, axis=1)

    args = register_x4(monkeypatch, "sometimes", sometimes, data, tmp_path / "out")
    run_all.main(args)
    assert len(calls) == 2 and pd.read_csv(tmp_path / "out" / "quality" / "table1.csv").n_failed.iloc[0] == 1
    broken["on"] = False
    run_all.main(args)                    # only the failed image is tried again
    assert len(calls) == 3
    table = pd.read_csv(tmp_path / "out" / "quality" / "table1.csv")
    assert table.n_failed.iloc[0] == 0 and table.n_images.iloc[0] == 2
    run_all.main(args + ["--force"])      # everything again
    assert len(calls) == 5


def test_a_restorer_broken_on_every_image_stops_the_run(tmp_path, monkeypatch):
    from harness.errors import HarnessError

    data = _write_images(tmp_path / "set", n=5)
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    registry.register("wrong_size", lambda image: image, scale=4)      # declares x4, returns x1
    with pytest.raises(HarnessError, match=r"restorer 'wrong_size' failed on each of its first 5 item\(s\); "
                                           r"stopping \(last error: preprocessor 'wrong_size' returned size"):
        run_all.main(["--task", "quality", "--preproc", "bicubic", "wrong_size", "--data", str(data),
                      "--qf", "30", "--out", str(tmp_path / "out")])


def test_degrade_without_jpeg_is_a_row_of_its_own(tmp_path):
    """`--degrade x4` (no JPEG) gives PSNR rows labelled QF none, beside a JPEG QF, on the same images."""
    run_all.main(["--task", "quality", "--preproc", "bicubic", "--degrade", "x4", "x4,q30", "--limit", "2",
                  "--threads", "1", "--out", str(tmp_path)])
    table = pd.read_csv(tmp_path / "quality" / "table1.csv")
    no_jpeg, q30 = table[table.qf.isna()].iloc[0], table[table.qf == 30].iloc[0]
    assert no_jpeg.n_images == q30.n_images == 2 and no_jpeg.psnr > q30.psnr   # JPEG only loses information
    assert "| none | bicubic | skimage-smoke | 2 |" in (tmp_path / "quality" / "table1.md").read_text()
