"""Training data: images held in RAM, HR patches under the 8 dihedral transforms degraded into
(input, target) pairs, batches drawn from per-batch seeds, and the loader that makes them (see
`preproc.train`)."""
from __future__ import annotations

import sys

import numpy as np
import torch

from harness.degrade import degrade, jpeg
from harness.errors import HarnessError
from harness.image import ImageLoadError, list_images, load_image
from preproc.training.config import TrainConfig, _resolve_path


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """Return `img` (HxWxC) under dihedral transform k in 0..7: k % 4 quarter turns, flipped if k >= 4."""
    out = np.rot90(img, k % 4, axes=(0, 1))
    if k >= 4:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)



def make_pair(hr: np.ndarray, pair: str, scale: int, quality: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Return (network input, target) uint8 arrays for one HR image or patch and a JPEG quality (None: the
    LR image without JPEG)."""
    hr, lr = degrade(hr, scale)  # modcrop, MATLAB bicubic x1/scale, no JPEG
    degraded = lr if quality is None else jpeg(lr, quality)
    if pair == "joint":
        return degraded, hr
    if pair == "car":
        return degraded, lr
    return lr, hr



def qf_label(quality: int | None) -> str:
    """Return the name of a validation condition: "q10" for JPEG QF 10, "clean" for no JPEG (None)."""
    return "clean" if quality is None else f"q{quality}"



def load_folder_images(folders: list[str], skip: set[str] = frozenset()) -> list[tuple[str, np.ndarray]]:
    """Return (path, image) for every readable image in `folders` whose path is not in `skip`."""
    images = []
    for folder in folders:
        folder = _resolve_path(folder)
        for path in list_images(folder):
            if str(path) in skip:
                continue
            try:
                images.append((str(path), load_image(path)))
            except ImageLoadError as exc:
                print(f"skipping unreadable training image: {exc}", file=sys.stderr)
    return images



class PatchSampler(torch.utils.data.Dataset):
    """Training batches (input, target float tensors in [0, 1]) from images held in RAM.

    Item i is batch i of the run, drawn from its own generator seeded by (seed, rank, i): a batch does
    not depend on how many loader workers made it, and a resumed run draws the same batches as one
    that never stopped.
    """

    def __init__(self, images: list[np.ndarray], config: TrainConfig, seed: int, batch: int):
        self.config = config
        self.images = [img for img in images if min(img.shape[:2]) >= config.hr_patch]
        if not self.images:
            raise HarnessError(f"no training image is at least {config.hr_patch} px on each side")
        self.skipped = len(images) - len(self.images)
        self.seed = seed
        self.batch = batch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return batch `index` as (input, target) NCHW float32 tensors."""
        cfg, patch = self.config, self.config.hr_patch
        rng = np.random.default_rng([self.seed, index])
        inputs, targets = [], []
        for _ in range(self.batch):
            img = self.images[rng.integers(len(self.images))]
            h, w = img.shape[:2]
            y = int(rng.integers((h - patch) // cfg.scale + 1)) * cfg.scale
            x = int(rng.integers((w - patch) // cfg.scale + 1)) * cfg.scale
            k, quality = int(rng.integers(8)), int(rng.integers(cfg.qf[0], cfg.qf[1] + 1))
            if cfg.clean and rng.random() < cfg.clean:  # drawn only when set: older configs keep their batches
                quality = None
            if cfg.text and rng.random() < cfg.text:  # likewise
                img, y, x = with_word(img, y, x, patch, cfg, rng)
            if cfg.context:
                inp, tgt = pair_in_context(img, y, x, patch, cfg, k, quality)
            else:
                inp, tgt = make_pair(dihedral(img[y:y + patch, x:x + patch], k), cfg.pair, cfg.scale, quality)
            inputs.append(inp)
            targets.append(tgt)
        return to_tensor(np.stack(inputs)), to_tensor(np.stack(targets))



def with_word(img: np.ndarray, y: int, x: int, patch: int, cfg: TrainConfig,
              rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """Return (window, y, x): a copy of the patch at (y, x) with up to `cfg.context` px of image around
    it, a random word drawn inside the patch (preproc.training.text), and the patch's place in the window."""
    from preproc.training.text import draw_word
    s = cfg.scale
    h, w = (img.shape[0] // s) * s, (img.shape[1] // s) * s
    y0, x0 = max(0, y - cfg.context), max(0, x - cfg.context)
    window = img[y0:min(h, y + patch + cfg.context), x0:min(w, x + patch + cfg.context)].copy()
    y, x = y - y0, x - x0
    window[y:y + patch, x:x + patch] = draw_word(window[y:y + patch, x:x + patch], rng)
    return window, y, x



def pair_in_context(img: np.ndarray, y: int, x: int, patch: int, cfg: TrainConfig, k: int,
                    quality: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the pair of the `patch` px HR crop at (y, x), degraded within up to `cfg.context` px of
    the image around it (cut to the image), then cut out: its LR pixels are those of a degraded whole
    image (no mirrored patch borders in the resize), as in evaluation.
    """
    s = cfg.scale
    h, w = (img.shape[0] // s) * s, (img.shape[1] // s) * s
    y0, x0 = max(0, y - cfg.context), max(0, x - cfg.context)
    y1, x1 = min(h, y + patch + cfg.context), min(w, x + patch + cfg.context)
    window = dihedral(img[y0:y1, x0:x1], k)
    # Where the patch sits in the transformed window (rot90 counter-clockwise k % 4 times, then a flip).
    top, left, bottom, right = y - y0, x - x0, y1 - y - patch, x1 - x - patch
    for _ in range(k % 4):
        top, left, bottom, right = right, top, left, bottom
    if k >= 4:
        left, right = right, left
    inp, tgt = make_pair(window, cfg.pair, cfg.scale, quality)
    lr_top, lr_left, lr_patch = top // s, left // s, patch // s
    inp = inp[lr_top:lr_top + lr_patch, lr_left:lr_left + lr_patch]
    if cfg.pair == "car":  # the target is LR too
        return inp, tgt[lr_top:lr_top + lr_patch, lr_left:lr_left + lr_patch]
    return inp, tgt[top:top + patch, left:left + patch]



def batch_loader(sampler: PatchSampler, start: int, stop: int, workers: int,
                 pin_memory: bool) -> torch.utils.data.DataLoader:
    """Return a loader of batches start..stop-1 of `sampler`, made by `workers` processes (0: in this one)."""
    return torch.utils.data.DataLoader(
        sampler, batch_size=None, sampler=range(start, stop), num_workers=workers,
        pin_memory=pin_memory, prefetch_factor=4 if workers else None, persistent_workers=False)



def to_tensor(batch: np.ndarray) -> torch.Tensor:
    """Return NHWC uint8 (or HWC) as NCHW float32 in [0, 1]."""
    if batch.ndim == 3:
        batch = batch[None]
    return torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2))).float().div_(255.0)



def to_image(x: torch.Tensor) -> np.ndarray:
    """Return a 1x3xHxW float tensor in [0, 1] as HxWx3 uint8 (rounded, clamped)."""
    return x[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()

