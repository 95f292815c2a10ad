"""RRDBNet (ESRGAN generator) and the `rrdb` preprocessor.

Wang et al., "ESRGAN: Enhanced Super-Resolution Generative Adversarial Networks", ECCV Workshops 2018;
the layout and key names are BasicSR's `rrdbnet_arch.py`, so BasicSR / Real-ESRGAN checkpoints load
strictly; old ESRGAN layouts are renamed by `preproc.checkpoints.rrdbnet_keys` (REFERENCE.md 6.1).

    python -m preproc.rrdbnet params --nf 64 --nb 23 --gc 32     # 16,697,987 (ESRGAN x4)
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from harness.errors import HarnessError
from preproc.blocks import RRDB, parse_params_command
from preproc.checkpoints import load_model, restorer_from_weights, rrdbnet_keys

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# The weights the `rrdb` preprocessor uses by default (trained here; model card: same stem, .md).
DEFAULT_WEIGHTS = WEIGHTS_DIR / "rrdb_small.pth"


class RRDBNet(nn.Module):
    """ESRGAN's RRDBNet: conv_first, `nb` RRDBs, conv_body (+ long skip), two nearest-x2 + conv stages,
    conv_hr, conv_last. Input and output RGB in [0, 1], N x 3 x H x W -> N x 3 x sH x sW.

    Args:
        nf: feature channels (BasicSR `num_feat`, 64 in ESRGAN).
        nb: number of RRDBs (BasicSR `num_block`, 23 in ESRGAN).
        gc: growth channels of the dense blocks (BasicSR `num_grow_ch`, 32 in ESRGAN).
        scale: 4, 2 or 1. As in BasicSR, x2 / x1 pixel-unshuffle the input first, so `conv_first`
            takes 4 / 16 times the input channels and the body always runs x4.
    With (64, 23, 32, scale 4) the network has 16,697,987 parameters, the CAJNN paper's "16.7 M" for RRDB.
    """

    def __init__(self, nf: int = 64, nb: int = 23, gc: int = 32, scale: int = 4,
                 in_ch: int = 3, out_ch: int = 3):
        super().__init__()
        if scale not in (1, 2, 4):
            raise HarnessError(f"RRDBNet scale must be 1, 2 or 4, not {scale}")
        self.scale = scale
        self.config = {"nf": nf, "nb": nb, "gc": gc, "scale": scale}
        unshuffle = {4: 1, 2: 2, 1: 4}[scale]
        self.conv_first = nn.Conv2d(in_ch * unshuffle ** 2, nf, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(nf, gc) for _ in range(nb)))
        self.conv_body = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale != 4:
            x = F.pixel_unshuffle(x, 4 // self.scale)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


def num_parameters(model: nn.Module) -> int:
    """Return the number of learned parameters of `model`."""
    return sum(p.numel() for p in model.parameters())


def config_from_state_dict(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """Return {nf, nb, gc, scale} of an RRDBNet state dict in BasicSR naming."""
    try:
        first = state["conv_first.weight"]
        gc = state["body.0.rdb1.conv1.weight"].shape[0] if "body.0.rdb1.conv1.weight" in state else 32
        in_ch = state["conv_last.weight"].shape[0]
    except KeyError as exc:
        raise HarnessError(f"not an RRDBNet state dict: key {exc.args[0]!r} missing") from None
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("body.")}
    scale = {1: 4, 4: 2, 16: 1}.get(first.shape[1] // max(in_ch, 1), 4)
    return {"nf": int(first.shape[0]), "nb": len(blocks), "gc": int(gc), "scale": scale}


def load_rrdbnet(source, what: str = "rrdb") -> tuple[RRDBNet, dict]:
    """Return (RRDBNet with the weights in `source`, the checkpoint's metadata).

    `source` is a path or a checkpoint object in any of the three layouts of REFERENCE.md 6.1, with or
    without wrappers and prefixes; the size (nf, nb, gc, scale) is the checkpoint's `config` entry or is
    read from the weights.
    """
    return load_model(RRDBNet, source, what=what, rename=rrdbnet_keys, infer_config=config_from_state_dict)


def build_preprocessor(options):
    """Return the `rrdb` Preprocessor: shipped weights, or `options.weights['rrdb']`."""
    return restorer_from_weights("rrdb", load_rrdbnet, DEFAULT_WEIGHTS, options)


def main(argv: list[str] | None = None) -> None:
    """`python -m preproc.rrdbnet params --nf 64 --nb 23 --gc 32`: print the parameter count."""
    args = parse_params_command(argv, "python -m preproc.rrdbnet", __doc__.splitlines()[0],
                                {"nf": 64, "nb": 23, "gc": 32, "scale": 4})
    model = RRDBNet(args.nf, args.nb, args.gc, args.scale)
    print(f"{num_parameters(model):,d}  (nf {args.nf}, nb {args.nb}, gc {args.gc}, x{args.scale})")


if __name__ == "__main__":
    main()
