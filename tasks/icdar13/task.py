"""Run the text-recognition task (Table II): recognise word crops after each preprocessor, score them
against the labels, and compare every method with `none` on the same words (fixed / broken, McNemar).

    python run_all.py --task icdar13 --preproc none bicubic cajnn cajnn+down --data PATH --recognizer rapidocr
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.cli import RunContext, key_value_options, positive_int
from harness.degrade import Degradation, degrade
from harness.errors import HarnessError
from harness.image import save_image
from harness.leaderboard import mean_rows, seconds_per_megapixel
from harness.provenance import provenance
from harness.registry import report_description
from harness.store import atomic_write_json, slug
from harness.tables import write_table
from harness.task import Group, Method, Results, Sample, Summary, Task
from tasks.icdar13.datasets import VARIANTS, WordItem, WordSet, load_word, open_word_set, table_name
from tasks.icdar13.display import BASELINE, paper_reference, table2
from tasks.icdar13.recognizers import RECOGNIZERS, Recognizer, RecognizerOptions, build_recognizer
from tasks.icdar13.scoring import Accuracy, is_correct, paired
from tasks.icdar13.smoke import smoke_set
from tasks.paper import paper_values
from tasks.report.settings import footnote_settings

DEFAULT_PREPROC = ["none"]
PROTOCOL = "case-insensitive, [0-9a-z] only, exact match (DTRB); unreadable or too-small crops count as wrong"


def add_arguments(parser) -> None:
    group = parser.add_argument_group("icdar13 task (text recognition)")
    group.add_argument("--recognizer", default="rapidocr",
                       help=f"word recogniser: {', '.join(sorted(RECOGNIZERS))} (default: rapidocr)")
    group.add_argument("--recognizer-weights", default=None, metavar="PATH",
                       help="checkpoint of the recogniser (trba: DTRB's TPS-ResNet-BiLSTM-Attn.pth)")
    group.add_argument("--recognizer-option", nargs="+", default=[], metavar="KEY=VALUE",
                       help="recogniser option, e.g. rapidocr width=compact; easyocr pad=0 contrast_ths=0.1 min_height=0")
    group.add_argument("--text-gt", default=None, metavar="FILE",
                       help="GT file of the data folder (default: data.mdb, gt.txt or Challenge2_Test_Task3_GT.txt)")
    group.add_argument("--ic13-variant", default="all", choices=VARIANTS,
                       help="words kept: all (1095 in the official test set), IC13_1015 (alphanumeric labels), "
                            "IC13_857 (also >= 3 characters); default all, as the paper")
    group.add_argument("--text-batch-size", type=positive_int, default=32,
                       help="words per recogniser batch (default 32)")


def parse_recognizer_options(items: list[str]) -> dict:
    """Return {key: value} from --recognizer-option KEY=VALUE strings."""
    return key_value_options(items, "--recognizer-option")


def make_recognizer(ctx: RunContext) -> Recognizer:
    """Return the recogniser named by --recognizer with its options."""
    args = ctx.args
    options = RecognizerOptions(weights=args.recognizer_weights, threads=args.threads,
                                device=ctx.build_options.device, batch_size=args.text_batch_size,
                                extra=parse_recognizer_options(args.recognizer_option))
    return build_recognizer(args.recognizer, options)


def word_sets(ctx: RunContext) -> list[WordSet]:
    """Return the sets named by --data, or the embedded smoke set."""
    if not ctx.data:
        return [smoke_set()]
    return [open_word_set(p, ctx.args.text_gt, ctx.args.ic13_variant) for p in ctx.data]


def _identity(recognizer: Recognizer) -> dict:
    # Threads and batch size do not change a word's result: a run may resume with others.
    return {k: v for k, v in recognizer.describe().items() if k not in ("threads", "batch_size", "spinning")}


@dataclass
class Condition:
    """What a set of records was made under: set, recogniser, degradation."""

    word_set: WordSet
    recognizer: Recognizer
    degradation: Degradation | None

    options: dict = None  # --recognizer-option, named in file names so variants do not share a table

    @property
    def tag(self) -> str:
        variant = "".join(f"-{k}={v}" for k, v in sorted((self.options or {}).items()))
        return (f"{self.word_set.name}_{self.recognizer.name}{variant}"
                + (f"_{self.degradation.tag}" if self.degradation else ""))


class TextTask(Task):
    """Table II: word crops (optionally degraded first) restored by each preprocessor, then recognised."""

    name = "icdar13"
    default_preproc = DEFAULT_PREPROC
    baselines = (BASELINE,)   # the leaderboard's: every method is compared with the words as they are
    unit, time_field = "words", "time_recognize"
    score_note = "word accuracy (%) on icdar13 (a failed word is wrong)"
    digits = 2

    add_arguments = staticmethod(add_arguments)   # the task's options (above)

    def batch_size(self, ctx: RunContext) -> int:
        return ctx.args.text_batch_size

    def groups(self, ctx: RunContext) -> list[Group]:
        """One group per (word set, degradation): one Table II each."""
        degradations = self.degradations(ctx)
        recognizer = make_recognizer(ctx)
        options = parse_recognizer_options(ctx.args.recognizer_option)
        methods = [Method(spec, spec) for spec in ctx.preproc_specs]
        groups = []
        for word_set in word_sets(ctx):
            for degradation in degradations:
                cond = Condition(word_set, recognizer, degradation, options)
                groups.append(Group(cond.tag, word_set.items, degradation, methods, info={"condition": cond}))
        return groups

    def load(self, item: WordItem) -> np.ndarray:
        return load_word(item)

    def record_key(self, ctx: RunContext, group: Group, method: Method) -> tuple[str, dict, dict]:
        cond = group.info["condition"]
        config = {"task": "icdar13", "set": cond.word_set.name, "set_root": str(cond.word_set.root),
                  "format": cond.word_set.format, "variant": cond.word_set.variant,
                  "recognizer": _identity(cond.recognizer),
                  "preprocessor": ctx.preprocessor(method.spec).describe(),
                  "degradation": cond.degradation.tag if cond.degradation else None, "protocol": PROTOCOL}
        return f"{slug(cond.tag, 120)}_{slug(method.spec)}", config, {"table": table_name(cond.tag)}

    def score(self, ctx: RunContext, group: Group, method: Method, samples: list[Sample]) -> list[dict]:
        # A recogniser error fails the batch; the runner retries word by word and records what still fails.
        texts, confs = group.info["condition"].recognizer.recognize([s.output for s in samples])
        return [{"label": s.item.label, "preproc": method.spec, "prediction": text, "confidence": float(conf),
                 "correct": is_correct(text, s.item.label), "input_shape": list(s.input.shape),
                 "recognizer_input_shape": list(s.output.shape)}
                for s, text, conf in zip(samples, texts, confs)]

    def failure_fields(self, item: WordItem, method: Method) -> dict:
        # A word that failed counts as wrong for its method: every method keeps the same denominator.
        return {"label": item.label, "preproc": method.spec, "prediction": "", "confidence": 0.0, "correct": False}

    def summarize(self, ctx: RunContext, groups: list[Group], results: Results) -> Summary:
        return Summary(results, {group.name: summarize(ctx, group, results) for group in groups})

    def leaderboard_rows(self, ctx: RunContext, groups: list[Group], summary: Summary) -> list[dict]:
        """Per table: word accuracy (%) over all words (a failure is a wrong word), paired intervals and the
        exact McNemar p against none."""
        rows = []
        for group in groups:
            numbers = summary.groups[group.name]
            extra = {}
            for m in group.methods:
                ok = list(summary.results.ok(group, m).values())
                extra[m.spec] = {"seconds_per_mp": seconds_per_megapixel(ok, "recognizer_input_shape"),
                                 "parameters": ctx.preprocessor(m.spec).num_parameters}
                if m.spec in numbers["p_vs_none"]:
                    extra[m.spec]["p_vs_none"] = numbers["p_vs_none"][m.spec]
            values = {spec: 100.0 * np.array(list(o.values()), dtype=float) for spec, o in numbers["outcomes"].items()}
            rows += [{"set": group.info["condition"].word_set.name, **r}
                     for r in mean_rows("word accuracy (%)", values, extra)]
        return rows

    def write(self, ctx: RunContext, groups: list[Group], summary: Summary) -> list[Path]:
        paths = []
        for group in groups:
            paths += write_tables(ctx, group, summary.groups[group.name])
        return paths

    def report_section(self, out_dir: Path, report_dir: Path):
        from tasks.icdar13.report import section

        return section(out_dir, report_dir)

TASK = TextTask()


def summarize(ctx: RunContext, group: Group, results: Results) -> dict:
    """Return the numbers of one group (a Table II): "per_word" records and "table" (one row per method)
    as data frames, "outcomes" ({spec: {word id: correct}} over every word run, a failed or missing word
    wrong) and "p_vs_none" ({spec: exact McNemar p against none})."""
    wanted = results.run_ids(group)
    outcomes, per_word, rows, p_vs_none = {}, [], [], {}
    paper = {r["method"]: r for r in paper_values()["table2"]["rows"]}
    for spec in ctx.preproc_specs:
        records = results.of(group, spec)
        outcomes[spec] = {i: bool(records.get(i, {}).get("correct")) for i in wanted}
        for r in records.values():
            per_word.append({"method": spec, "id": r["id"], "label": r["label"], "prediction": r.get("prediction", ""),
                             "confidence": r.get("confidence"), "correct": bool(r.get("correct")),
                             "time_restore": r.get("time_restore"), "time_recognize": r.get("time_recognize"),
                             "error": r.get("error", "")})
        ok = [r for r in records.values() if "error" not in r]
        acc = Accuracy(sum(outcomes[spec].values()), len(records), len(records) - len(ok))
        restore = float(sum(r["time_restore"] for r in ok))
        recog = float(sum(r["time_recognize"] for r in ok))
        row = {"method": spec, "accuracy": acc.value, "correct": acc.correct, "n": acc.total, "failed": acc.failed,
               "missing": len(wanted) - len(records), "time_s": restore + recog, "restore_s": restore,
               "recognize_s": recog}
        if spec != BASELINE and BASELINE in outcomes:
            cmp = paired(outcomes[BASELINE], outcomes[spec])
            p_vs_none[spec] = cmp.p_value
            row.update({"paired_n": cmp.n, "delta_points": cmp.delta_points, "delta_words": cmp.delta_words,
                        "fixed": cmp.fixed, "broken": cmp.broken, "p_mcnemar": cmp.p_value})
        p = paper.get(spec)
        row.update({"paper_label": p["label"] if p else None, "paper_accuracy": p["accuracy"] if p else None,
                    "paper_correct": p["correct"] if p else None, "paper_time_s": p["time_s"] if p else None})
        rows.append(row)
    summary = pd.DataFrame(rows)
    if BASELINE not in ctx.preproc_specs:
        for col in ("paired_n", "delta_points", "delta_words", "fixed", "broken", "p_mcnemar"):
            summary[col] = None
    return {"per_word": pd.DataFrame(per_word), "table": summary, "outcomes": outcomes, "p_vs_none": p_vs_none}


def write_tables(ctx: RunContext, group: Group, numbers: dict) -> list[Path]:
    """Write one Table II (table2_<tag>.*), its per-word predictions and the report's word strips' inputs
    from the group's `summarize` numbers; print the table."""
    cond = group.info["condition"]
    per_word, summary = numbers["per_word"], numbers["table"]
    out = ctx.task_dir("icdar13")
    ws, rec = cond.word_set, cond.recognizer
    config = {"task": "icdar13", "set": ws.name, "set_root": str(ws.root), "format": ws.format,
              "variant": ws.variant, "recognizer": rec.describe(),
              "preprocessors": {spec: report_description(ctx.preprocessor(spec)) for spec in ctx.preproc_specs},
              "degradation": cond.degradation.tag if cond.degradation else None, "limit": ctx.limit,
              "protocol": PROTOCOL}
    n_paper = paper_values()["table2"]["n_words"]
    notes = []
    if ws.embedded:
        notes.append(f"SMOKE SET ({len(ws.items)} rendered words), NOT ICDAR 2013: checks that the task runs; "
                     f"the paper's column is not comparable.")
    elif not (ws.format == "icdar" and len(ws.items) == n_paper):
        notes.append(f"Data: {ws.name} ({ws.format} format, {len(ws.items)} words) instead of ICDAR 2013 "
                     f"({n_paper} words): the paper's column is for orientation, not comparable.")
    if rec.name != "trba":
        notes.append(f"Recogniser: {rec.name} ({rec.describe().get('package', '')}) instead of the paper's TRBA "
                     f"(TPS-ResNet-BiLSTM-Attn; its weights are not shipped: use --recognizer trba "
                     f"--recognizer-weights PATH).")
    notes.append(f"Recogniser configuration: {rec.describe()}.")
    if cond.degradation:
        d = cond.degradation
        notes.append(f"Inputs degraded first (--degrade {d.tag}): modcrop {d.scale}, MATLAB bicubic x1/{d.scale}"
                     + (f", JPEG quality {d.quality}" if d.quality else "") + "; `none` = the degraded crop itself. "
                     "Crops smaller than the scale factor are failures.")
    else:
        notes.append("Inputs: the original word crops.")
    notes.append(f"Protocol: {PROTOCOL}.")
    notes.append("Δ, fixed (wrong with none, right with the method) and broken (the reverse) are on the same words; "
                 "p = exact two-sided McNemar test (binomial on fixed vs broken).")
    notes.append("Time = restore + recognition seconds summed over the words (this machine, CPU); the paper's "
                 "time is its detection time on a GPU.")
    for spec in ctx.preproc_specs:
        if spec != BASELINE:
            notes.append(f"`{spec}`: {ctx.preprocessor(spec).describe()}")
    if ctx.limit:
        notes.append(f"--limit {ctx.limit}: only the first {ctx.limit} words.")
    if (summary.failed > 0).any():
        notes.append("Some words failed (unreadable or too small); they count as wrong; see per_word CSV, column error.")
    prov = provenance(config)
    name = table_name(cond.tag)
    stem = f"table2_{name}"
    title = f"Table II layout: word recognition, {ws.name}, {rec.name}" + (
        f", degraded {cond.degradation.tag}" if cond.degradation else "")
    reference = paper_reference(summary, config)
    shown, notes = footnote_settings(table2(summary, config), ([reference] if reference else []) + notes)
    paths = write_table(summary, out / stem, title, prov, notes, display=shown)
    paths += write_table(per_word, out / f"per_word_{name}", f"Per-word predictions: {cond.tag}", prov)
    paths += save_word_examples(out, name, group, per_word)
    print((out / f"{stem}.md").read_text().split("<details>")[0])
    return paths


STRIP_WORDS = 6  # fixed and broken words shown per method in the report's strips


def save_word_examples(out: Path, name: str, group: Group, per_word: pd.DataFrame) -> list[Path]:
    """Save the report's word strips' inputs: per method, the first STRIP_WORDS words it fixed and broke
    compared with `none` (labels, both predictions) in `word_examples_<name>.json`, and each word's crop as
    the recogniser saw it without a restorer (degraded as the run degraded it) under `examples/<name>/`."""
    path = out / f"word_examples_{name}.json"
    if not len(per_word) or BASELINE not in set(per_word["method"]):
        path.unlink(missing_ok=True)
        return []
    base = per_word[per_word["method"] == BASELINE].set_index("id")
    items = {it.id: it for it in group.items}
    examples, paths = {}, []
    for method in [m for m in dict.fromkeys(per_word["method"]) if m != BASELINE]:
        mine = per_word[per_word["method"] == method].set_index("id")
        common = [i for i in mine.index if i in base.index]
        fixed = [i for i in common if mine.loc[i, "correct"] and not base.loc[i, "correct"]][:STRIP_WORDS]
        broken = [i for i in common if base.loc[i, "correct"] and not mine.loc[i, "correct"]][:STRIP_WORDS]
        words = []
        for kind, ids in (("fixed", fixed), ("broken", broken)):
            for i in ids:
                try:
                    image = load_word(items[i])
                    if group.degradation:
                        image = degrade(image, group.degradation.scale, group.degradation.quality)[1]
                except (KeyError, HarnessError):   # a crop that failed to load or degrade has no picture
                    continue
                crop = out / "examples" / name / f"{len(words):02d}_{slug(method)}.png"
                save_image(crop, image)
                paths.append(crop)
                words.append({"kind": kind, "id": i, "label": str(mine.loc[i, "label"]), "crop": crop.relative_to(out).as_posix(),
                              "none": str(base.loc[i, "prediction"]), "prediction": str(mine.loc[i, "prediction"])})
        if words:
            examples[method] = words
    atomic_write_json(path, {"strip_words": STRIP_WORDS, "methods": examples})
    return paths + [path]
