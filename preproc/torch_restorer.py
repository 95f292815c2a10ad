"""TorchRestorer: any PyTorch image-to-image network as a Preprocessor, with tiling and self-ensemble.

The network takes N x 3 x H x W RGB in [0, 1] and returns N x 3 x sH x sW (s = `scale`). The adapter
converts uint8 HxWx3 <-> float tensors (output rounded and clamped), runs under `torch.inference_mode`,
and optionally

- tiles the input (`options.tile` LR px per tile core; by default inputs larger than `AUTO_TILE_PIXELS`
  use `DEFAULT_TILE`): each core is run with `overlap` LR px of context on every side (clipped at the
  image border) and only the core's output is kept. Output pixels farther than `overlap * scale` output
  px from any core boundary (seam) equal the untiled output within 1/255 (REFERENCE.md section 7's
  "interior"), as long as the network's effective receptive field fits in the overlap;
- averages the 8 dihedral transforms (`options.self_ensemble`), before rounding;
- batches same-size inputs in `process_batch` (untiled inputs only);
- runs the network under autocast with `options.precision` "bf16" (CPU or CUDA) or "fp16" (CUDA only):
  convolutions and matrix products in 16-bit, accumulation and the output in fp32. fp32 is the default;
  a 16-bit precision is part of `describe()`, so its records never mix with fp32 ones. A network class
  with `autocast_safe = False` (DnCNN) always runs, and is described, as fp32.

On the CPU the network runs in channels_last (NHWC) memory format: measured 1.1-1.5x faster for every
convolutional restorer and neutral for DAT (benchmarks/restorers.py), the same arithmetic up to
summation order.

    TorchRestorer(model, scale=4, name="cajnn", options=options, describe_extra={"weights": ...})
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from torch import nn

from harness.errors import HarnessError
from harness.image import check_image
from harness.registry import BuildOptions, Preprocessor

DEFAULT_TILE = 256  # LR px per tile core when tiling is automatic
DEFAULT_OVERLAP = 16  # LR px of context around each tile core
AUTO_TILE_PIXELS = 256 * 256  # inputs with more LR pixels are tiled when options.tile is None
BATCH_PIXELS = 256 * 256  # at most this many input pixels per batch in process_batch
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # --precision -> autocast dtype


def check_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """Return the autocast dtype of `precision` on `device` (None for fp32); HarnessError if unsupported."""
    if precision not in PRECISIONS:
        raise HarnessError(f"--precision {precision}: expected one of {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    if dtype is torch.float16 and device.type != "cuda":
        raise HarnessError("--precision fp16: CUDA only; on the CPU use --precision bf16")
    if dtype is torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise HarnessError("--precision bf16: this GPU has no bf16; use --precision fp16")
    return dtype


def image_to_tensor(images: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """Return HxWx3 uint8 image(s) as an N x 3 x H x W float32 tensor in [0, 1]."""
    batch = np.stack(images) if isinstance(images, list) else images[None]
    return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))).float().div_(255.0)


def tensor_to_images(x: torch.Tensor) -> list[np.ndarray]:
    """Return an N x 3 x H x W float tensor in [0, 1] as N HxWx3 uint8 images (rounded, clamped)."""
    arr = x.detach().clamp_(0, 1).mul_(255).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return [np.ascontiguousarray(a) for a in arr]


def dihedral_tensor(x: torch.Tensor, k: int, inverse: bool = False) -> torch.Tensor:
    """Return NCHW `x` under dihedral transform k in 0..7 (k % 4 quarter turns, then a flip if k >= 4),
    or its inverse."""
    if not inverse:
        x = torch.rot90(x, k % 4, dims=(2, 3))
        return torch.flip(x, dims=(3,)) if k >= 4 else x
    if k >= 4:
        x = torch.flip(x, dims=(3,))
    return torch.rot90(x, -(k % 4), dims=(2, 3))


def tile_starts(length: int, tile: int) -> list[int]:
    """Return the start offsets of tile cores of size `tile` covering `length` (the last may be shorter)."""
    return list(range(0, length, tile))


class TorchRestorer(Preprocessor):
    """A PyTorch network wrapped as a Preprocessor (see the module docstring)."""

    def __init__(self, model: nn.Module, scale: int, name: str, options: BuildOptions | None = None,
                 describe_extra: dict | None = None, overlap: int = DEFAULT_OVERLAP,
                 channels_last: bool | None = None):
        options = options or BuildOptions()
        self.name, self.scale = name, int(scale)
        self.device = torch.device(options.device)
        if self.device.type == "cpu":
            torch.set_flush_denormal(True)  # denormal activations are several times slower on CPU
        # channels_last measured faster for these conv stacks on this CPU (benchmarks/restorers.py).
        self.channels_last = (self.device.type == "cpu") if channels_last is None else channels_last
        self.memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.precision = options.precision
        self.autocast_dtype = check_precision(self.precision, self.device)
        if not getattr(model, "autocast_safe", True):  # a network that 16-bit arithmetic breaks runs in fp32
            self.precision, self.autocast_dtype = "fp32", None
        self.model = model.to(self.device).to(memory_format=self.memory_format).eval()
        self.tile = options.tile
        self.overlap = int(overlap)
        self.self_ensemble = bool(options.self_ensemble)
        self.describe_extra = dict(describe_extra or {})

    # -- the network on tensors ------------------------------------------------------------------
    def _net(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device).contiguous(memory_format=self.memory_format)
        if self.autocast_dtype is None:
            return self.model(x).float()
        with torch.autocast(self.device.type, dtype=self.autocast_dtype):
            return self.model(x).float()

    def tile_for(self, height: int, width: int) -> int | None:
        """Return the tile core size used for an input of this size, or None for untiled."""
        tile = self.tile
        if tile is None and height * width > AUTO_TILE_PIXELS:
            tile = DEFAULT_TILE
        if tile is None or tile <= 0 or (height <= tile and width <= tile):
            return None
        return int(tile)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        """Return the network output for NCHW `x`, tiled when `tile_for` says so (output on the CPU)."""
        n, c, h, w = x.shape
        tile = self.tile_for(h, w)
        if tile is None:
            return self._net(x).cpu()
        s, ov = self.scale, self.overlap
        out = None
        for y0 in tile_starts(h, tile):
            for x0 in tile_starts(w, tile):
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                cy0, cx0 = max(y0 - ov, 0), max(x0 - ov, 0)
                cy1, cx1 = min(y1 + ov, h), min(x1 + ov, w)
                part = self._net(x[:, :, cy0:cy1, cx0:cx1]).cpu()
                if out is None:
                    out = torch.empty((n, part.shape[1], h * s, w * s), dtype=torch.float32)
                out[:, :, y0 * s:y1 * s, x0 * s:x1 * s] = part[:, :, (y0 - cy0) * s:(y1 - cy0) * s,
                                                                (x0 - cx0) * s:(x1 - cx0) * s]
        return out

    @torch.inference_mode()
    def forward_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Return the float output for NCHW `x` in [0, 1] (self-ensemble and tiling applied)."""
        if not self.self_ensemble:
            return self._run(x)
        total = None
        for k in range(8):
            y = dihedral_tensor(self._run(dihedral_tensor(x, k)), k, inverse=True)
            total = y if total is None else total.add_(y)
        return total.div_(8)

    # -- the Preprocessor protocol ---------------------------------------------------------------
    def __call__(self, image: np.ndarray) -> np.ndarray:
        check_image(image, what=f"{self.name} input")
        return tensor_to_images(self.forward_tensor(image_to_tensor(image)))[0]

    def process_batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Return the outputs of `images`; same-size untiled inputs run together in batches."""
        outputs: list[np.ndarray | None] = [None] * len(images)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, img in enumerate(images):
            check_image(img, what=f"{self.name} input")
            groups[img.shape].append(i)
        for shape, indices in groups.items():
            h, w = shape[:2]
            per_batch = 1 if self.tile_for(h, w) is not None else max(1, BATCH_PIXELS // (h * w))
            for start in range(0, len(indices), per_batch):
                chunk = indices[start:start + per_batch]
                results = tensor_to_images(self.forward_tensor(image_to_tensor([images[i] for i in chunk])))
                for i, out in zip(chunk, results):
                    outputs[i] = out
        return outputs

    def describe(self) -> dict:
        return {"name": self.name, "scale": self.scale, **self.describe_extra,
                "parameters": self.num_parameters, "tile": self.tile, "tile_auto": DEFAULT_TILE,
                "tile_auto_above_pixels": AUTO_TILE_PIXELS, "overlap": self.overlap,
                "self_ensemble": self.self_ensemble, "device": str(self.device),
                # fp32 adds no key, so the records of every fp32 run made before --precision stay valid
                **({"precision": self.precision} if self.autocast_dtype is not None else {})}

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())
