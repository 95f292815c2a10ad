"""The paper's published numbers, read from `paper_values.json` (one data file, with sources)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

PAPER_FILE = Path(__file__).with_name("paper_values.json")

# Preprocessor specs -> the paper's method names in Table I.
TABLE1_METHODS = {"bicubic": "Bicubic", "arcnn+rrdb": "ARCNN+RRDB", "dncnn+rrdb": "DnCNN+RRDB",
                  "cajnn": "CAJNN"}


@lru_cache(maxsize=1)
def paper_values() -> dict:
    """Return the parsed paper values file."""
    return json.loads(PAPER_FILE.read_text(encoding="utf-8"))


def table1_value(spec: str, set_name: str, qf: int) -> tuple[float, float] | None:
    """Return the paper's (PSNR, SSIM) for a preprocessor spec, test set and QF, if published."""
    method = TABLE1_METHODS.get(spec.lower())
    for row in paper_values()["table1"]["rows"]:
        if row["method"] == method and row["qf"] == qf and set_name in row:
            return tuple(row[set_name])
    return None
