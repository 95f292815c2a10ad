"""A worked example of a task (docs/adding_a_task.md): a toy reader reads one digit from each word crop.

The digit is the crop's polarity: 1 for dark text on a light background, 0 for light text on a dark one.
The items are the 24 rendered words of the icdar13 smoke set, every odd-numbered one inverted, so the
true digit of each crop is known by construction. Like a real recogniser, the reader reads nothing from a
crop under `--digits-min-height` pixels (default 24): upscaling a small crop (`bicubic`) lets it read it,
which is what the table measures, paired against `none` with McNemar's test.

It lives in tests/ (it is not a benchmark); tests/tasks/example/test_example_task.py registers it with
one line, `tasks.TASKS["digits"] = "tests.tasks.example.digits_task"`, and runs it through run_all.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from harness.cli import RunContext, positive_int
from harness.errors import HarnessError
from harness.provenance import provenance
from harness.stats import mcnemar_exact
from harness.store import slug
from harness.tables import write_table
from harness.task import Group, Method, Results, Sample, Summary, Task
from tasks.icdar13.datasets import WordItem, load_word
from tasks.icdar13.smoke import SMOKE_NAME, smoke_set

BASELINE = "none"
READER = "polarity: 1 if the median of the RGB mean is above 127.5, else 0; nothing read under min_height px"


@dataclass(frozen=True)
class Crop:
    """One item: a smoke word, shown inverted or not; `digit` is what a perfect reader reads."""

    word: WordItem
    inverted: bool

    @property
    def id(self) -> str:
        return self.word.id

    @property
    def digit(self) -> int:
        return 0 if self.inverted else 1


@lru_cache(maxsize=1)
def crops() -> tuple[Crop, ...]:
    """Return the items: the smoke words in order, every odd-numbered one inverted."""
    return tuple(Crop(word, inverted=i % 2 == 1) for i, word in enumerate(smoke_set().items))


def read_polarity(image: np.ndarray, min_height: int) -> int | None:
    """Return the digit the toy reader reads from `image` (1: dark on light, 0: light on dark), or None
    when the crop is under `min_height` pixels high (nothing read)."""
    if image.shape[0] < min_height:
        return None
    # The background covers most of a word crop, so the median pixel is background.
    return int(np.median(image.mean(axis=2)) > 127.5)


class DigitsTask(Task):
    """Reads the polarity digit of each smoke word after each preprocessor; one table."""

    name = "digits"
    default_preproc = ["none", "bicubic"]
    unit = "crops"
    time_field = "time_read"

    def add_arguments(self, parser) -> None:
        # One parser holds every task's options: prefix them with the task's name.
        group = parser.add_argument_group("digits task (the worked example in tests/)")
        group.add_argument("--digits-min-height", type=positive_int, default=24, metavar="PX",
                           help="the toy reader reads nothing from a crop under PX pixels high (default 24)")

    def batch_size(self, ctx: RunContext) -> int:
        return 8

    def groups(self, ctx: RunContext) -> list[Group]:
        if ctx.data:   # check options here: errors come before any work
            raise HarnessError("the digits example reads only its embedded crops; drop --data")
        methods = [Method(spec, spec) for spec in ctx.preproc_specs]
        return [Group(SMOKE_NAME, list(crops()), None, methods)]

    def item_id(self, item: Crop) -> str:
        return item.id

    def load(self, item: Crop) -> np.ndarray:
        image = load_word(item.word)   # raises HarnessError (ImageLoadError) for an unreadable crop
        return 255 - image if item.inverted else image

    def record_key(self, ctx: RunContext, group: Group, method: Method) -> tuple[str, dict, dict]:
        config = {"task": self.name, "set": group.name, "inverted": "odd-numbered words",
                  "reader": {"rule": READER, "min_height": ctx.args.digits_min_height},
                  "preprocessor": ctx.preprocessor(method.spec).describe()}
        return slug(method.spec), config, {}

    def score(self, ctx: RunContext, group: Group, method: Method, samples: list[Sample]) -> list[dict]:
        records = []
        for s in samples:
            digit = read_polarity(s.output, ctx.args.digits_min_height)
            records.append({"digit": s.item.digit, "read": digit, "correct": digit == s.item.digit,
                            "height": s.output.shape[0]})
        return records

    def failure_fields(self, item: Crop, method: Method) -> dict:
        return {"digit": item.digit, "read": None, "correct": False}

    def summarize(self, ctx: RunContext, groups: list[Group], results: Results) -> Summary:
        group, = groups
        return Summary(results, run=summarize(group, results))

    def write(self, ctx: RunContext, groups: list[Group], summary: Summary) -> list[Path]:
        group, summary = groups[0], summary.run
        config = {"task": self.name, "set": group.name, "reader": {"rule": READER,
                                                                  "min_height": ctx.args.digits_min_height},
                  "preprocessors": {spec: ctx.preprocessor(spec).describe() for spec in ctx.preproc_specs},
                  "limit": ctx.limit}
        notes = [f"Reader: {READER} (min_height {ctx.args.digits_min_height}).",
                 "Paired: every method is counted on the crops all methods read without error (n); failed "
                 "counts its own errors; fixed / broken and the exact McNemar p are against none."]
        return write_table(summary, ctx.task_dir(self.name) / "table", "Toy digit reading (worked example)",
                           provenance(config), notes, display=display(summary))


TASK = DigitsTask()


def summarize(group: Group, results: Results) -> pd.DataFrame:
    """Return one row per method: correct of n paired crops, failures, fixed / broken / p against none."""
    common = results.common(group)
    names = [m.name for m in group.methods]
    base = results.of(group, BASELINE) if BASELINE in names else None
    rows = []
    for method in group.methods:
        records = results.of(group, method)
        correct = [bool(records[i]["correct"]) for i in common]
        row = {"method": method.name, "n": len(common), "correct": sum(correct),
               "accuracy": 100.0 * sum(correct) / len(common) if common else float("nan"),
               "failed": len(records) - len(results.ok(group, method)),
               "fixed": None, "broken": None, "p_mcnemar": None}
        if base is not None and method.name != BASELINE:
            fixed = sum(1 for i in common if records[i]["correct"] and not base[i]["correct"])
            broken = sum(1 for i in common if base[i]["correct"] and not records[i]["correct"])
            row.update(fixed=fixed, broken=broken, p_mcnemar=mcnemar_exact(fixed, broken))
        rows.append(row)
    return pd.DataFrame(rows)


def display(summary: pd.DataFrame) -> pd.DataFrame:
    """Return the table as people read it (the CSV keeps full precision)."""
    return pd.DataFrame([{
        "Method": r.method, "Correct/n": f"{r.correct}/{r.n}" + (f" ({r.failed} failed)" if r.failed else ""),
        "Accuracy": f"{r.accuracy:.1f}%",
        "Fixed/Broken vs none": "-" if pd.isna(r.fixed) else f"{int(r.fixed)}/{int(r.broken)}",
        "p (McNemar)": "-" if pd.isna(r.p_mcnemar) else f"{r.p_mcnemar:.3g}"} for r in summary.itertuples()])
