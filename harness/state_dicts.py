"""How a checkpoint's state dict differs from a model's: the one check behind every strict weight loader
(preproc/checkpoints.py for restorers, the task's detectors and recognisers)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass
class Mismatch:
    """Keys of the model the file lacks, keys of the file the model lacks, and keys whose shapes differ."""

    missing: list[str]       # in the model's order
    unexpected: list[str]    # in the file's order
    shapes: list[str]        # in the model's order

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shapes)


def mismatch(own: Mapping, state: Mapping) -> Mismatch:
    """Return how `state` (a checkpoint's tensors) differs from `own` (the model's `state_dict()`)."""
    return Mismatch([k for k in own if k not in state], [k for k in state if k not in own],
                    [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)])
