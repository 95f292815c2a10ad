"""Plug-ins: spandrel:PATH and MODULE:CALLABLE with tiny models and modules the tests make; composition."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from harness.errors import HarnessError
from harness.registry import REGISTRY, BuildOptions, build, register
from preproc.dncnn import DnCNN
from preproc.rrdbnet import RRDBNet

pytest.importorskip("spandrel", reason="spandrel is not installed (pip install spandrel==0.4.2)")

IMAGE = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)


def reference_output(model, image, scale):
    x = torch.from_numpy(image.transpose(2, 0, 1).copy()).float()[None] / 255
    with torch.no_grad():
        y = model.eval()(x).clamp(0, 1)[0]
    assert y.shape[1:] == (image.shape[0] * scale, image.shape[1] * scale)
    return y.mul(255).round().byte().permute(1, 2, 0).numpy()


def one_line_error(spec, match):
    with pytest.raises(HarnessError, match=match) as info:
        build(spec, BuildOptions())(IMAGE)
    message = str(info.value)
    assert "\n" not in message and spec.split("+")[0] in message
    return message


# -- spandrel -----------------------------------------------------------------------------------

def test_spandrel_esrgan_basicsr_layout(tmp_path):
    torch.manual_seed(0)
    model = RRDBNet(nf=8, nb=1, gc=32)  # spandrel's ESRGAN detection assumes gc 32 (REFERENCE.md 6.4)
    path = tmp_path / "tiny_esrgan.pth"
    torch.save({"params_ema": model.state_dict()}, path)
    stage = build(f"spandrel:{path}")
    assert stage.scale == 4
    assert stage.describe()["architecture"] == "ESRGAN"
    np.testing.assert_array_equal(stage(IMAGE), reference_output(model, IMAGE, 4))


def test_spandrel_dncnn_scale_one(tmp_path):
    torch.manual_seed(0)
    model = DnCNN(nb=9, nc=16)  # spandrel detects DnCNN with nb >= 9
    path = tmp_path / "tiny_dncnn.pth"
    torch.save(model.state_dict(), path)
    stage = build(f"spandrel:{path}")
    assert stage.scale == 1
    np.testing.assert_array_equal(stage(IMAGE), reference_output(model, IMAGE, 1))


def test_spandrel_file_not_found(tmp_path):
    one_line_error(f"spandrel:{tmp_path / 'nope.pth'}", "file not found")


def test_spandrel_unsupported_architecture(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3), "decoder.bias": torch.zeros(3)}, path)
    one_line_error(f"spandrel:{path}", "unsupported architecture")


def test_spandrel_unreadable_file(tmp_path):
    path = tmp_path / "broken.pth"
    path.write_bytes(b"this is not a checkpoint")
    one_line_error(f"spandrel:{path}", "cannot load")


def test_spandrel_wrong_input_channels(tmp_path):
    path = tmp_path / "grey.pth"
    torch.save(RRDBNet(nf=8, nb=1, gc=32, in_ch=1, out_ch=1).state_dict(), path)
    one_line_error(f"spandrel:{path}", "takes 1 input .* needs RGB")


# -- MODULE:CALLABLE ----------------------------------------------------------------------------

@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Write a module of user restorers to tmp_path and put it on sys.path; return its name."""
    name = f"user_restorers_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        import numpy as np
        from harness.registry import Preprocessor

        def invert(image):
            return 255 - image

        def up4(image):
            return np.repeat(np.repeat(image, 4, axis=0), 4, axis=1)
        up4.scale = 4

        def claims_x4(image):
            return image
        claims_x4.scale = 4

        def as_float(image):
            return image.astype(np.float32)

        def two_args(image, strength):
            return image

        def crashes(image):
            raise ValueError("boom")

        def make(options):
            return Flip()

        class Flip(Preprocessor):
            def __call__(self, image):
                return image[:, ::-1].copy()

        class WithOptions(Preprocessor):
            name = "with_options"
            def __init__(self, options):
                self.device = options.device
            def __call__(self, image):
                return image

        not_callable = 3
        bad_scale = lambda image: image
        bad_scale.scale = "4"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_function_scale_one(user_module):
    stage = build(f"{user_module}:invert")
    assert stage.scale == 1
    np.testing.assert_array_equal(stage(IMAGE), 255 - IMAGE)


def test_function_with_scale_attribute(user_module):
    stage = build(f"{user_module}:up4")
    assert stage.scale == 4 and stage(IMAGE).shape == (36, 28, 3)


def test_factory_and_classes(user_module):
    np.testing.assert_array_equal(build(f"{user_module}:make")(IMAGE), IMAGE[:, ::-1])
    flip = build(f"{user_module}:Flip")
    assert flip.describe()["name"] == f"{user_module}:Flip"
    np.testing.assert_array_equal(flip(IMAGE), IMAGE[:, ::-1])
    stage = build(f"{user_module}:WithOptions", BuildOptions(device="cpu"))
    assert stage.stages[0].device == "cpu"


def test_import_failure(user_module):
    one_line_error("no_such_module_xyz:restore", "cannot import module 'no_such_module_xyz'")


def test_missing_attribute(user_module):
    one_line_error(f"{user_module}:nothing", "has no attribute 'nothing'")


def test_wrong_signature(user_module):
    one_line_error(f"{user_module}:two_args", r"takes one argument.*two_args\(image, strength\)")


def test_not_callable_and_bad_scale(user_module):
    one_line_error(f"{user_module}:not_callable", "not callable")
    one_line_error(f"{user_module}:bad_scale", "'scale' attribute must be a positive integer")


def test_wrong_output_size_names_the_plugin(user_module):
    one_line_error(f"{user_module}:claims_x4", r"returned size \(9, 7\).*expected \(36, 28\)")


def test_wrong_output_dtype_names_the_plugin(user_module):
    one_line_error(f"{user_module}:as_float", "returned a bad image")


def test_user_exception_names_the_plugin(user_module):
    one_line_error(f"{user_module}:crashes", "failed on a 9x7 image.*ValueError: boom")


# -- composition and the notebook API -------------------------------------------------------------

def test_stand_in_stage_then_down_returns_input_size(user_module):
    pipeline = build(f"{user_module}:up4+down")
    assert pipeline.scale == 1
    out = pipeline(IMAGE)
    assert out.shape == IMAGE.shape
    # Nearest x4 then MATLAB bicubic x1/4 keeps a constant image constant.
    flat = np.full((8, 8, 3), 77, np.uint8)
    np.testing.assert_array_equal(pipeline(flat), flat)


def test_two_stage_composition_applies_left_to_right(user_module):
    pipeline = build(f"{user_module}:invert+{user_module}:up4")
    assert pipeline.scale == 4
    np.testing.assert_array_equal(pipeline(IMAGE), np.repeat(np.repeat(255 - IMAGE, 4, 0), 4, 1))


def test_register_from_a_notebook(monkeypatch):
    monkeypatch.setattr("harness.registry.REGISTRY", dict(REGISTRY))
    register("my_sharpen", lambda image: image, scale=1)
    assert build("my_sharpen+bicubic")(IMAGE).shape == (36, 28, 3)
