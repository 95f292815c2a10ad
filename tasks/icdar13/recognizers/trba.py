"""The TRBA recogniser adapter: checkpoint loading, input pipeline and decoding around the network of
trba_net.py (TPS-ResNet-BiLSTM-Attn of clovaai's deep-text-recognition-benchmark, DTRB, commit e2117f2).

The network has DTRB's module names, so that the released `TPS-ResNet-BiLSTM-Attn.pth` (and its
case-sensitive variant) load strictly: 252 keys saved from `nn.DataParallel` (prefix `module.`); a
250-key checkpoint without the two TPS buffers (`GridGenerator.inv_delta_C`, `P_hat`, computed from the
fiducial count) is accepted (REFERENCE.md sections 3 and 7). Input: PIL grayscale, bicubic resize to
100 x 32 (aspect not kept), [-1, 1]. Decoding: greedy over 26 steps from [GO], cut at the first [s];
confidence = product of the per-step max softmax probabilities before [s] (0 for an empty word).
DTRB drops the last character when [s] never appears (its `find` returns -1); that quirk is not copied.
"""
from __future__ import annotations

import pickle
import string
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from harness.errors import HarnessError
from harness.store import file_sha256
from tasks.icdar13.recognizers import Recognizer, RecognizerOptions, construct
from tasks.icdar13.recognizers.trba_net import IMG_H, IMG_W, TRBA

CHARACTERS_CASE_INSENSITIVE = "0123456789abcdefghijklmnopqrstuvwxyz"
CHARACTERS_CASE_SENSITIVE = string.printable[:-6]
TPS_BUFFERS = ("Transformation.GridGenerator.inv_delta_C", "Transformation.GridGenerator.P_hat")


# --- Input pipeline, decoding, checkpoint --------------------------------------------------------------
def preprocess(images: list[np.ndarray]) -> torch.Tensor:
    """Return the B x 1 x 32 x 100 input: PIL 'L', bicubic resize (aspect not kept), ToTensor, (x-0.5)/0.5."""
    batch = []
    for image in images:
        gray = Image.fromarray(image).convert("L").resize((IMG_W, IMG_H), Image.BICUBIC)
        batch.append(torch.from_numpy(np.asarray(gray, dtype=np.float32) / 255.0))
    return torch.stack(batch).unsqueeze(1).sub(0.5).div(0.5)


def decode(logits: torch.Tensor, characters: str) -> tuple[list[str], list[float]]:
    """Return (strings, confidences) of greedy attention logits (B, steps, 2 + len(characters)).

    Classes: 0 = [GO], 1 = [s], then `characters`. Each string is cut at its first [s]; confidence is
    the product of the max softmax probabilities of the kept steps (0 for an empty string).
    """
    probs = F.softmax(logits.float(), dim=2)
    max_prob, index = probs.max(dim=2)
    texts, confidences = [], []
    for row_index, row_prob in zip(index.tolist(), max_prob):
        end = row_index.index(1) if 1 in row_index else len(row_index)
        text = "".join(characters[i - 2] for i in row_index[:end] if i >= 2)  # a stray [GO] adds nothing
        texts.append(text)
        confidences.append(float(row_prob[:end].prod()) if end > 0 and text else 0.0)
    return texts, confidences


def _strip_prefix(state: dict) -> dict:
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def load_trba_state_dict(model: TRBA, state: dict, source: str = "checkpoint") -> None:
    """Load `state` into `model` strictly; raise one-line HarnessError naming missing/unexpected keys.

    Keys may carry DTRB's `module.` prefix. The two TPS buffers may be absent (250-key checkpoints).
    """
    state = _strip_prefix(dict(state))
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and k not in TPS_BUFFERS]
    unexpected = [k for k in state if k not in expected]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys: {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} keys: {', '.join(unexpected[:6])}"
                        f"{' ...' if len(unexpected) > 6 else ''}")
    shapes = [f"{k} {tuple(state[k].shape)} (model {tuple(v.shape)})" for k, v in expected.items()
              if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)]
    if shapes:
        problems.append(f"wrong shape: {', '.join(shapes[:4])}{' ...' if len(shapes) > 4 else ''}")
    if problems:
        raise HarnessError(f"{source}: not a TPS-ResNet-BiLSTM-Attn checkpoint: " + "; ".join(problems))
    full = dict(state)
    for key in TPS_BUFFERS:
        full.setdefault(key, expected[key])
    model.load_state_dict(full, strict=True)


def read_checkpoint(path: str | Path) -> dict:
    """Return the state dict stored in a TRBA checkpoint file (a plain dict or {'state_dict': ...})."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"--recognizer-weights {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise HarnessError(f"{path}: cannot read checkpoint ({str(exc).splitlines()[0]})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise HarnessError(f"{path}: checkpoint is not a state dict of tensors")
    return state


def characters_for(state: dict, source: str) -> str:
    """Return the character set of a checkpoint from its class count (38 or 96)."""
    key = next((k for k in state if k.endswith("Prediction.generator.weight")), None)
    if key is None:
        raise HarnessError(f"{source}: not a TPS-ResNet-BiLSTM-Attn checkpoint: missing key "
                           f"Prediction.generator.weight")
    classes = int(state[key].shape[0])
    for chars in (CHARACTERS_CASE_INSENSITIVE, CHARACTERS_CASE_SENSITIVE):
        if classes == len(chars) + 2:
            return chars
    raise HarnessError(f"{source}: {classes} output classes; expected 38 (case-insensitive) or 96 (sensitive)")


class TRBARecognizer(Recognizer):
    """The released DTRB TRBA model, loaded from a user-given checkpoint."""

    name = "trba"

    def __init__(self, weights: str | Path, batch_size: int = 32, threads: int | None = None, device: str = "cpu"):
        if threads:
            torch.set_num_threads(int(threads))
        state = read_checkpoint(weights)
        self.characters = characters_for(state, str(weights))
        self.model = TRBA(num_class=len(self.characters) + 2)
        load_trba_state_dict(self.model, state, str(weights))
        self.model.eval().to(device)
        self.device, self.batch_size, self.threads = device, int(batch_size), threads
        self.weights, self.weights_sha256 = str(weights), file_sha256(weights)

    @torch.inference_mode()
    def recognize(self, images):
        texts, scores = [], []
        for start in range(0, len(images), self.batch_size):
            x = preprocess(images[start:start + self.batch_size]).to(self.device)
            t, s = decode(self.model(x), self.characters)
            texts += t
            scores += s
        return texts, scores

    def describe(self):
        return {"name": self.name, "model": "TPS-ResNet-BiLSTM-Attn (DTRB e2117f2)", "weights": self.weights,
                "weights_sha256": self.weights_sha256, "classes": len(self.characters) + 2,
                "batch_size": self.batch_size, "threads": self.threads}


def build(options: RecognizerOptions) -> Recognizer:
    if not options.weights:
        raise HarnessError("recogniser trba needs its checkpoint: --recognizer-weights "
                           "PATH/TPS-ResNet-BiLSTM-Attn.pth (DTRB's released model; not shipped here)")
    return construct(TRBARecognizer, options, weights=options.weights, batch_size=options.batch_size,
                     threads=options.threads, device=options.device)
