"""`python -m tasks.icdar13 compare PER_WORD_CSV A B`: two methods of a text run word by word.

A run's tables compare every method with `none`; this compares any two methods of the same run (say
`cajnn` and `cajnn_small`) on the words both were scored on: the words only A reads, only B reads, the net
difference with a paired bootstrap interval over the words, and the exact McNemar p.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.cli import ArgumentParser, positive_int, run_command
from harness.errors import HarnessError
from harness.stats import paired_bootstrap
from tasks.icdar13.scoring import paired


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m tasks.icdar13", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    compare = sub.add_parser("compare", help="two methods of one run, word by word")
    compare.add_argument("per_word", type=Path, help="a run's per_word_<set>_<recogniser>[_<degradation>].csv")
    compare.add_argument("a", help="a method of the run, e.g. cajnn")
    compare.add_argument("b", help="the method to compare it with, e.g. cajnn_small")
    compare.add_argument("--resamples", type=positive_int, default=2000, help="bootstrap resamples (default 2000)")
    compare.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    return parser


def outcomes(per_word: Path, method: str) -> dict[str, bool]:
    """Return {word id: correct?} of `method` in a per-word CSV."""
    try:
        table = pd.read_csv(per_word, dtype={"id": str})
    except FileNotFoundError:
        raise HarnessError(f"{per_word}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{per_word}: not a per-word CSV ({exc})") from None
    if not {"method", "id", "correct"} <= set(table.columns):
        raise HarnessError(f"{per_word}: not a per-word CSV (needs the columns method, id, correct)")
    rows = table[table["method"] == method]
    if rows.empty:
        known = ", ".join(dict.fromkeys(table["method"].astype(str)))
        raise HarnessError(f"{per_word}: no method {method!r} (it has: {known})")
    return {str(i): str(c).strip().lower() == "true" for i, c in zip(rows["id"], rows["correct"])}


def compare_command(args) -> int:
    a, b = outcomes(args.per_word, args.a), outcomes(args.per_word, args.b)
    cmp = paired(b, a)   # "fixed" = words only A reads, "broken" = words only B reads
    ids = sorted(set(a) & set(b))
    if not ids:
        raise HarnessError(f"{args.a} and {args.b} share no words in {args.per_word}")
    diff = paired_bootstrap({args.b: np.array([b[i] for i in ids]), args.a: np.array([a[i] for i in ids])},
                            baseline=args.b, resamples=args.resamples, seed=args.seed)[args.a]
    n = len(ids)
    print(f"{n} words scored by both: {args.a} {cmp.method_correct}, {args.b} {cmp.baseline_correct}")
    print(f"only {args.a} reads {cmp.fixed}, only {args.b} reads {cmp.broken}: {args.a} - {args.b} = "
          f"{cmp.delta_words:+d} words [{diff.low * n:+.0f}, {diff.high * n:+.0f}] (95%, {args.resamples} paired "
          f"bootstrap resamples of the words, seed {args.seed}), exact McNemar p {cmp.p_value:.3g}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return compare_command(build_parser().parse_args(argv))


if __name__ == "__main__":
    run_command(main, "python -m tasks.icdar13")
