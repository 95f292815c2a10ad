"""CAJNN: joint compression-artifact reduction and x4 super-resolution (Xiang, Lin, Allebach).

"Boosting High-Level Vision with Joint Compression Artifacts Reduction and Super-Resolution", section
III-A; the layout decisions are REFERENCE.md sections 2 and 7. The `cajnn` preprocessor
(`build_preprocessor`) runs the shipped weights (or `--weights cajnn=PATH`) through `TorchRestorer`;
`cajnn_small` (`build_small_preprocessor`) runs the small network's weights (or `--weights cajnn_small=PATH`).

    python -m preproc.cajnn params --nf 64 --gc 32 --nb 20     # 14,847,491 (the paper configuration)
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from harness.errors import HarnessError
from preproc.blocks import RRDB

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# The weights the `cajnn` preprocessor uses by default (the paper configuration, nf 64 / gc 32 / nb 20, 14.8 M,
# fine-tuned here from Real-ESRGAN x4plus), and those of `cajnn_small` (the 0.66 M network trained here from
# scratch; `cajnn` ran it until issue 28). Model cards: same stem, .md.
DEFAULT_WEIGHTS = WEIGHTS_DIR / "cajnn_paper_ft.pth"
SMALL_WEIGHTS = WEIGHTS_DIR / "cajnn_small.pth"


class ASPP(nn.Module):
    """Context-aware feature extractor: parallel 3x3 convs with dilation 1, 3, 4, fused by a 1x1 conv.

    The paper states no activation inside the ASPP. We put a LeakyReLU(0.2) on each dilated branch
    before the concatenation: without it head conv, branches and fusion compose into one linear
    conv and the ASPP adds no non-linear context. It has no parameters, so counts are unchanged.
    """

    def __init__(self, nf: int = 64, dilations: tuple[int, ...] = (1, 3, 4)):
        super().__init__()
        self.branches = nn.ModuleList(nn.Conv2d(nf, nf, 3, 1, padding=d, dilation=d) for d in dilations)
        self.fuse = nn.Conv2d(nf * len(dilations), nf, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.lrelu(branch(x)) for branch in self.branches], 1))


class CAJNN(nn.Module):
    """CAJNN for x4: head conv, ASPP, `nb` RRDBs, tail C, plus the bilinearly upsampled input.

    Tail C (REFERENCE.md section 2): two stages [3x3 conv nf -> 4nf, PixelShuffle(2), LeakyReLU],
    then a 3x3 conv nf -> nf (LeakyReLU) and the last 3x3 conv nf -> 3. No trunk conv after the
    RRDBs (section 7); a parameter-free long skip adds the ASPP features to the RRDB output, as in
    ESRGAN. The global skip `F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)`
    (PyTorch's half-pixel convention, the same sample grid as MATLAB imresize) is added to the output,
    so the network learns the residual. Input and output are RGB in [0, 1], N x 3 x H x W ->
    N x 3 x 4H x 4W.

    Args:
        nf: feature channels (64 in the paper).
        gc: growth channels of the dense blocks (32 in the paper).
        nb: number of RRDBs (20 in the paper).
    With (64, 32, 20) the network has 14,847,491 parameters, the paper's "14.8 M".
    """

    scale = 4

    def __init__(self, nf: int = 64, gc: int = 32, nb: int = 20, in_ch: int = 3, out_ch: int = 3):
        super().__init__()
        self.config = {"nf": nf, "gc": gc, "nb": nb}
        self.conv_first = nn.Conv2d(in_ch, nf, 3, 1, 1)
        self.aspp = ASPP(nf)
        self.body = nn.Sequential(*(RRDB(nf, gc) for _ in range(nb)))
        self.conv_up1 = nn.Conv2d(nf, nf * 4, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(nf, nf * 4, 3, 1, 1)
        self.pixel_shuffle = nn.PixelShuffle(2)
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.aspp(self.conv_first(x))
        feat = feat + self.body(feat)
        feat = self.lrelu(self.pixel_shuffle(self.conv_up1(feat)))
        feat = self.lrelu(self.pixel_shuffle(self.conv_up2(feat)))
        out = self.conv_last(self.lrelu(self.conv_hr(feat)))
        return out + F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)


def num_parameters(model: nn.Module) -> int:
    """Return the number of learned parameters of `model`."""
    return sum(p.numel() for p in model.parameters())


def config_from_state_dict(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """Return {nf, gc, nb} inferred from a CAJNN state dict (keys without wrappers or prefixes)."""
    try:
        nf = state["conv_first.weight"].shape[0]
        gc = state["body.0.rdb1.conv1.weight"].shape[0] if "body.0.rdb1.conv1.weight" in state else 32
    except KeyError as exc:
        raise HarnessError(f"not a CAJNN state dict: key {exc.args[0]!r} missing") from None
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("body.")}
    return {"nf": int(nf), "gc": int(gc), "nb": len(blocks)}


def load_cajnn(source) -> tuple[CAJNN, dict]:
    """Return (CAJNN with the weights in `source`, the file's metadata), loaded strictly.

    The size comes from the file's `config` entry (written by `preproc.train`) or from the tensor shapes.
    """
    from preproc.checkpoints import load_model

    return load_model(CAJNN, source, what="CAJNN", infer_config=config_from_state_dict)


def build_preprocessor(options):
    """Return the `cajnn` Preprocessor: the shipped weights, or `options.weights['cajnn']`."""
    from preproc.checkpoints import restorer_from_weights

    return restorer_from_weights("cajnn", load_cajnn, DEFAULT_WEIGHTS, options, scale=4)


def build_small_preprocessor(options):
    """Return the `cajnn_small` Preprocessor: the small CAJNN's weights, or `options.weights['cajnn_small']`."""
    from preproc.checkpoints import restorer_from_weights

    return restorer_from_weights("cajnn_small", load_cajnn, SMALL_WEIGHTS, options, scale=4)


def main(argv: list[str] | None = None) -> None:
    """`python -m preproc.cajnn params --nf 64 --gc 32 --nb 20`: print the parameter count."""
    from preproc.blocks import parse_params_command

    args = parse_params_command(argv, "python -m preproc.cajnn", __doc__.splitlines()[0], {"nf": 64, "gc": 32, "nb": 20})
    model = CAJNN(args.nf, args.gc, args.nb)
    parts = {"conv_first": model.conv_first, "aspp": model.aspp, "body": model.body,
             "tail": [model.conv_up1, model.conv_up2, model.conv_hr, model.conv_last]}
    for name, part in parts.items():
        mods = part if isinstance(part, list) else [part]
        print(f"{name:12s} {sum(num_parameters(m) for m in mods):>12,d}")
    print(f"{'total':12s} {num_parameters(model):>12,d}  (nf {args.nf}, gc {args.gc}, nb {args.nb})")


if __name__ == "__main__":
    main()
