"""The restored-image cache: hits return the identical image without running the restorer; a changed
weights file misses."""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import run_all
from harness.cache import CachedPreprocessor
from harness.cli import RunContext
from harness.image import save_image
from harness.registry import REGISTRY, BuildOptions, Preprocessor, register
from harness.store import file_sha256


class CountingRestorer(Preprocessor):
    """x4 nearest-neighbour 'restorer' whose output depends on its weights file; counts its calls."""

    name = "counting"
    scale = 4
    calls = 0

    def __init__(self, weights: Path, hash_in_describe: bool = True):
        self.weights, self.hash_in_describe = Path(weights), hash_in_describe
        self.offset = self.weights.read_bytes()[0]

    def __call__(self, image):
        type(self).calls += 1
        out = np.repeat(np.repeat(image, 4, axis=0), 4, axis=1)
        return (out.astype(np.int32) + self.offset).clip(0, 255).astype(np.uint8)

    def describe(self):
        extra = {"weights_sha256": file_sha256(self.weights)} if self.hash_in_describe else {}
        return {"name": self.name, "scale": self.scale, **extra}


@pytest.fixture
def counting(tmp_path):
    """Register 'counting_test' (weights in tmp_path) for this test; return the weights path."""
    weights = tmp_path / "weights.bin"
    weights.write_bytes(bytes([10, 1, 2]))
    CountingRestorer.calls = 0
    register("counting_test", lambda options: CountingRestorer(options.weights.get("counting_test", weights)))
    yield weights
    REGISTRY.pop("counting_test", None)


def _context(cache_dir, **options):
    args = argparse.Namespace(cache=str(cache_dir), data=None, limit=None)
    return RunContext(args=args, out_dir=Path("."), preproc_specs=["counting_test"],
                      build_options=BuildOptions(**options))


def _image(seed=0, shape=(6, 5, 3)):
    return np.random.default_rng(seed).integers(0, 200, shape, dtype=np.uint8)


def test_hit_returns_identical_image_without_running_the_restorer(counting, tmp_path):
    img = _image()
    first = _context(tmp_path / "cache").preprocessor("counting_test")
    assert isinstance(first, CachedPreprocessor)
    out = first(img)
    assert CountingRestorer.calls == 1 and first.misses == 1
    # A new run (new context, same cache folder): the restorer is not called.
    again = _context(tmp_path / "cache").preprocessor("counting_test")
    cached = again(img.copy())
    assert CountingRestorer.calls == 1 and again.hits == 1 and again.misses == 0
    assert cached.dtype == np.uint8 and cached.shape == (24, 20, 3)
    np.testing.assert_array_equal(cached, out)
    # Another input misses.
    again(_image(1))
    assert CountingRestorer.calls == 2


def test_changed_weights_file_misses(counting, tmp_path):
    img = _image()
    out_old = _context(tmp_path / "cache").preprocessor("counting_test")(img)
    counting.write_bytes(bytes([50, 1, 2]))  # new weights: describe() changes with their hash
    pre = _context(tmp_path / "cache").preprocessor("counting_test")
    out_new = pre(img)
    assert CountingRestorer.calls == 2 and pre.misses == 1
    assert not np.array_equal(out_new, out_old)
    np.testing.assert_array_equal(out_new, CountingRestorer(counting)(img))
    # Back to the old weights: the old entries are valid again.
    counting.write_bytes(bytes([10, 1, 2]))
    pre = _context(tmp_path / "cache").preprocessor("counting_test")
    np.testing.assert_array_equal(pre(img), out_old)
    assert pre.hits == 1


def test_weights_given_on_the_command_line_are_hashed_even_if_describe_is_silent(tmp_path):
    weights = tmp_path / "w.bin"
    weights.write_bytes(bytes([5]))
    options = BuildOptions(weights={"silent": str(weights)})
    img = _image()
    CountingRestorer.calls = 0
    CachedPreprocessor(CountingRestorer(weights, hash_in_describe=False), tmp_path / "c", "silent", options)(img)
    weights.write_bytes(bytes([6]))
    pre = CachedPreprocessor(CountingRestorer(weights, hash_in_describe=False), tmp_path / "c", "silent", options)
    pre(img)
    assert CountingRestorer.calls == 2 and pre.misses == 1


def test_describe_is_the_wrapped_restorers(counting, tmp_path):
    ctx = _context(tmp_path / "cache")
    pre = ctx.preprocessor("counting_test")
    assert pre.describe() == pre.inner.describe()
    assert pre.scale == 4 and pre.name == "counting_test"


def test_batch_runs_only_the_misses_and_keeps_order(counting, tmp_path):
    pre = _context(tmp_path / "cache").preprocessor("counting_test")
    a, b, c = _image(0), _image(1), _image(2, (3, 4, 3))
    out_b = pre(b)
    outs = pre.process_batch([a, b, c])
    assert CountingRestorer.calls == 3  # b came from the cache
    np.testing.assert_array_equal(outs[1], out_b)
    assert [o.shape for o in outs] == [(24, 20, 3), (24, 20, 3), (12, 16, 3)]


def test_entry_records_degradation_and_damaged_entry_is_recomputed(counting, tmp_path):
    pre = _context(tmp_path / "cache").preprocessor("counting_test")
    img = _image()
    out = pre(img, degradation="x4_q20")
    path = pre.entry_path(img)
    with Image.open(path) as png:
        assert png.info["degradation"] == "x4_q20" and png.info["spec"] == "counting_test"
    assert (pre.folder / "identity.json").exists()
    path.write_bytes(b"not a png")
    np.testing.assert_array_equal(pre(img), out)
    assert CountingRestorer.calls == 2
    np.testing.assert_array_equal(np.asarray(Image.open(path)), out)


def test_quality_run_with_cache_skips_the_restorer_the_second_time(counting, tmp_path):
    data = tmp_path / "set"
    data.mkdir()
    for i in range(2):
        save_image(data / f"im{i}.png", _image(i, (16, 12, 3)))
    common = ["--task", "quality", "--preproc", "counting_test", "--qf", "30", "--data", str(data),
              "--cache", str(tmp_path / "cache")]
    assert run_all.main(common + ["--out", str(tmp_path / "run1")]) == 0
    assert CountingRestorer.calls == 2
    assert run_all.main(common + ["--out", str(tmp_path / "run2")]) == 0
    assert CountingRestorer.calls == 2  # all hits
    first = pd.read_csv(tmp_path / "run1" / "quality" / "per_image.csv")
    second = pd.read_csv(tmp_path / "run2" / "quality" / "per_image.csv")
    assert len(first) == 2
    pd.testing.assert_frame_equal(first[["image", "psnr", "ssim"]], second[["image", "psnr", "ssim"]],
                                  check_exact=True)


def test_cheap_specs_are_not_cached(tmp_path):
    ctx = RunContext(args=argparse.Namespace(cache=str(tmp_path / "cache")), out_dir=Path("."),
                     preproc_specs=["bicubic"])
    assert not isinstance(ctx.preprocessor("bicubic"), CachedPreprocessor)
    assert not isinstance(ctx.preprocessor("none"), CachedPreprocessor)
