"""The input conditions of Table III: GT, LR (x4 down, optional JPEG) and LR + a restorer.

REFERENCE.md 4.3 and section 7: LR = modcrop to a multiple of 4, MATLAB bicubic x1/4, JPEG only when a
quality is given; detections on LR are mapped back with x_hr = 4 * x_lr (corners, hence also widths);
a restored image has the size of the modcropped original, so its boxes need no mapping. Boxes are always
in original-image pixels (modcrop removes only bottom rows / right columns).
"""
from __future__ import annotations

from dataclasses import dataclass

from harness import store
from harness.errors import HarnessError

SCALE = 4
LR_MAPPING = "x_hr = 4 * x_lr (box corners and sizes multiplied by 4)"
LR_RECIPE = "modcrop to a multiple of 4, MATLAB bicubic x1/4 (harness.degrade)"


@dataclass(frozen=True)
class Condition:
    """One input condition: `kind` is `gt`, `lr` or `restored` (then `spec` names the restorer)."""

    name: str
    kind: str
    spec: str | None = None

    @property
    def slug(self) -> str:
        return store.slug(self.name, 60)


def conditions_for(specs: list[str]) -> list[Condition]:
    """Return GT, LR, then `LR+<spec>` for every preprocessor spec other than `none`."""
    out = [Condition("GT", "gt"), Condition("LR", "lr")]
    for spec in dict.fromkeys(specs):
        if spec.strip().lower() == "none":
            continue
        out.append(Condition(f"LR+{spec}", "restored", spec))
    return out


def check_restorer_scale(spec: str, scale: int) -> None:
    """Raise HarnessError unless the restorer maps the x4 LR image back to the original size."""
    if scale != SCALE:
        raise HarnessError(f"preprocessor {spec!r} has scale {scale}; the LR+<restorer> condition needs an "
                           f"x{SCALE} restorer (e.g. bicubic, cajnn, arcnn+rrdb)")


def lr_tag(quality: int | None) -> str:
    """Return `x4` or `x4_q<quality>` for the records' names."""
    return f"x{SCALE}" + (f"_q{quality}" if quality is not None else "")
