"""Word recognisers behind one small interface, and the explicit table that names them.

A recogniser maps a batch of HxWx3 uint8 RGB word images to (strings, confidences in [0, 1]).
Each one's result for a word must not depend on which other words share its batch, so that resumed
and sharded runs give the same per-word records.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field

import numpy as np

from harness.errors import HarnessError


@dataclass
class RecognizerOptions:
    """What every recogniser factory receives."""

    weights: str | None = None   # a checkpoint path (trba needs one; the others ship theirs)
    threads: int | None = None   # CPU threads of the engine (fixed for reproducible runs)
    device: str = "cpu"
    batch_size: int = 32
    extra: dict = field(default_factory=dict)  # recogniser-specific options (--recognizer-option KEY=VALUE)


class Recognizer:
    """Base class: `recognize(images) -> (strings, confidences)`; `describe()` identifies it in results."""

    name = "recognizer"

    def recognize(self, images: list[np.ndarray]) -> tuple[list[str], list[float]]:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name}


def construct(cls, options: RecognizerOptions, **fixed):
    """Return cls(**fixed, **options.extra); an unknown option is a HarnessError listing the known ones."""
    known = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", *fixed)]
    unknown = sorted(set(options.extra) - set(known))
    if unknown:
        raise HarnessError(f"recogniser {cls.name}: unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return cls(**fixed, **options.extra)


# name -> "module:factory"; each factory is called as factory(options: RecognizerOptions).
RECOGNIZERS: dict[str, str] = {
    "rapidocr": "tasks.icdar13.recognizers.rapidocr:build",
    "easyocr": "tasks.icdar13.recognizers.easyocr:build",
    "trba": "tasks.icdar13.recognizers.trba:build",
}


def build_recognizer(name: str, options: RecognizerOptions | None = None) -> Recognizer:
    """Return the recogniser registered as `name`; an unknown name lists the known ones."""
    if name not in RECOGNIZERS:
        raise HarnessError(f"unknown recogniser {name!r}; known: {', '.join(sorted(RECOGNIZERS))}")
    module_name, _, attr = RECOGNIZERS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)(options or RecognizerOptions())
