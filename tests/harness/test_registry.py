"""The preprocessor registry: names, pipelines, `down`, output checks, the Python registration API."""
import numpy as np
import pytest

from harness import registry
from harness.errors import HarnessError
from harness.registry import BuildOptions, Preprocessor, build, register


def _img(h=8, w=12):
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_none_and_bicubic():
    img = _img()
    np.testing.assert_array_equal(build("none")(img), img)
    up = build("bicubic")
    assert up.scale == 4 and up(img).shape == (32, 48, 3)


def test_unknown_name_lists_known_ones():
    with pytest.raises(HarnessError) as exc:
        build("nosuch")
    assert "bicubic" in str(exc.value) and "none" in str(exc.value)


def test_pipeline_with_down_returns_input_size():
    pipe = build("bicubic+down")
    img = _img(9, 7)
    assert pipe.scale == 1 and pipe(img).shape == img.shape
    with pytest.raises(HarnessError):
        build("down")
    with pytest.raises(HarnessError):
        build("bicubic+")


def test_register_function_and_bad_output_is_named(monkeypatch):
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    register("flip", lambda im: im[:, ::-1].copy(), scale=1)
    img = _img()
    np.testing.assert_array_equal(build("flip")(img), img[:, ::-1])
    register("wrong_size", lambda im: im[:4], scale=1)
    with pytest.raises(HarnessError, match="wrong_size"):
        build("wrong_size")(img)
    register("wrong_dtype", lambda im: im.astype(np.float32), scale=1)
    with pytest.raises(HarnessError, match="wrong_dtype"):
        build("wrong_dtype")(img)


def test_a_registered_function_that_raises_is_an_item_failure(monkeypatch):
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))

    def broken(image):
        raise ZeroDivisionError("division by zero\n  in my code")

    register("broken", broken, scale=4)
    with pytest.raises(HarnessError, match=r"restorer 'broken' failed on a 8x12 image "
                                           r"\(ZeroDivisionError: division by zero in my code\)"):
        build("broken")(_img())


def test_register_preprocessor_instance_and_batch(monkeypatch):
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))

    class Double(Preprocessor):
        name, scale = "double", 2

        def __call__(self, image):
            return image.repeat(2, axis=0).repeat(2, axis=1)

    register("double", Double())
    pipe = build("double+bicubic", BuildOptions())
    assert pipe.scale == 8
    outs = pipe.process_batch([_img(4, 4), _img(5, 3)])
    assert [o.shape for o in outs] == [(32, 32, 3), (40, 24, 3)]
    with pytest.raises(HarnessError):
        register("a+b", Double())


def test_a_built_in_name_cannot_be_replaced(monkeypatch):
    """Issue 25.3: register("bicubic", fn) would print the user's numbers as bicubic beside the paper's."""
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    with pytest.raises(HarnessError, match="'bicubic' is a built-in restorer"):
        register("bicubic", lambda im: im, scale=4)
    assert isinstance(build("bicubic").stages[0], registry.Bicubic)
    register("mine", lambda im: im, scale=1)
    register("mine", lambda im: im[:, ::-1].copy(), scale=1)   # one's own name may be registered again
