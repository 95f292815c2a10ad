"""The quality task (Table I): each HR image degraded x4 + JPEG at each QF, restored by every preprocessor,
scored by Y-PSNR / Y-SSIM against the modcropped HR image; harness/runner.py runs it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.cli import RunContext, non_negative_int, quality_factor
from harness.degrade import Degradation
from harness.errors import HarnessError
from harness.image import load_image, save_image
from harness.leaderboard import mean_rows, seconds_per_megapixel
from harness.metrics import psnr_y, ssim_y
from harness.provenance import provenance
from harness.registry import report_description
from harness.store import slug
from harness.status import read_status
from harness.tables import read_table, write_table
from harness.task import Group, Method, Results, Sample, Summary, Task
from tasks.paper import table1_value
from tasks.quality import display
from tasks.quality.datasets import ImageSet, embedded_set, folder_sets
from tasks.report.settings import footnote_settings

RECIPE = "modcrop4 + MATLAB bicubic x1/4 (mirror, uint8 per pass) + JPEG 4:2:0 (libjpeg); Y-PSNR/SSIM"
SCALE = 4
DEFAULT_PREPROC = ["bicubic", "cajnn"]
DEFAULT_QF = [10, 20, 40]


def add_arguments(parser) -> None:
    group = parser.add_argument_group("quality task")
    group.add_argument("--qf", type=quality_factor, nargs="+", default=None,
                       help="JPEG quality factors of the LR input (default: 10 20 40; the same as "
                            "--degrade x4,q10 x4,q20 x4,q40)")
    group.add_argument("--crop-border", type=non_negative_int, default=0,
                       help="pixels cropped from each border before PSNR/SSIM (default 0, as the paper)")
    group.add_argument("--examples", type=int, default=1, metavar="N",
                       help="save centre crops (HR, LR-JPEG, every output) of the first N images of each "
                            "set under OUT/quality/examples for the report's image grid (default 1; 0: none)")


def qf_tag(qf: int | None) -> str:
    """Return `q<QF>`, or `nojpeg` for an LR input without JPEG, for names."""
    return "nojpeg" if qf is None else f"q{qf}"


SSIM_WINDOW = 11   # the Gaussian window of SSIM ('valid'): what must remain after --crop-border


def check_crop_border(crop_border: int, image_set: ImageSet, files: list[Path]) -> None:
    """Raise HarnessError when cropping `crop_border` px leaves less than an SSIM window of the smallest
    of `files` (modcropped; sizes read from the file headers; an unreadable file fails later as an item)."""
    if not crop_border:
        return
    from PIL import Image

    smallest = None
    for path in files:
        try:
            with Image.open(path) as img:
                side = min(img.size) // SCALE * SCALE
        except (OSError, ValueError):
            continue
        if smallest is None or side < smallest[0]:
            smallest = (side, path.name)
    if smallest and smallest[0] - 2 * crop_border < SSIM_WINDOW:
        raise HarnessError(f"--crop-border {crop_border}: leaves less than {SSIM_WINDOW} px of {smallest[1]} "
                           f"in {image_set.name} (its shorter side is {smallest[0]} px after modcrop)")


def image_sets(ctx: RunContext) -> list[ImageSet]:
    """Return the sets named by --data, or the embedded smoke set."""
    if not ctx.data:
        return [embedded_set()]
    return folder_sets(ctx.data)


EXAMPLE_CROP = 128  # HR pixels (32 LR pixels), the side of the crops saved for the report


def save_example(folder: Path, name: str, image: np.ndarray, hr_shape: tuple) -> None:
    """Save the centre crop of `image` (HR size or LR size, aligned to the LR grid) as folder/name.png."""
    side_lr = min(EXAMPLE_CROP, hr_shape[0], hr_shape[1]) // SCALE
    top_lr, left_lr = (hr_shape[0] // SCALE - side_lr) // 2, (hr_shape[1] // SCALE - side_lr) // 2
    f = SCALE if image.shape[0] == hr_shape[0] else 1  # HR-size images are cropped in HR pixels
    rows, cols = slice(top_lr * f, (top_lr + side_lr) * f), slice(left_lr * f, (left_lr + side_lr) * f)
    save_image(folder / f"{name}.png", image[rows, cols])


class QualityTask(Task):
    """Table I: each HR image degraded x4 + JPEG at each QF, restored, scored by Y-PSNR / Y-SSIM."""

    name = "quality"
    default_preproc = DEFAULT_PREPROC
    unit = "images"
    scales = (SCALE,)
    default_degradations = tuple(Degradation(SCALE, qf) for qf in DEFAULT_QF)
    degrade_aliases = {"--qf": f"x{SCALE},q{{}}"}
    score_note = "Y-PSNR (dB) on quality"
    digits = 2

    add_arguments = staticmethod(add_arguments)   # the task's options (above)

    def groups(self, ctx: RunContext) -> list[Group]:
        """One group per (set, QF): the set's images degraded x4 at that QF, every preprocessor."""
        qfs = [d.quality for d in self.degradations(ctx)]   # each x4, with a JPEG quality or, None, without
        sets = image_sets(ctx)
        for spec in ctx.preproc_specs:
            pre = ctx.preprocessor(spec)
            if pre.scale != SCALE:
                raise HarnessError(f"preprocessor {spec!r} has scale {pre.scale}; the quality task needs "
                                   f"x{SCALE} restorers (e.g. bicubic, cajnn, arcnn+rrdb)")
        for s in sets:
            check_crop_border(ctx.args.crop_border, s, list(s.files)[: ctx.limit] if ctx.limit else list(s.files))
        methods = [Method(spec, spec) for spec in ctx.preproc_specs]
        n_examples = max(0, getattr(ctx.args, "examples", 0))
        return [Group(f"{s.name}_{qf_tag(qf)}", list(s.files), Degradation(SCALE, qf), methods,
                      info={"set": s, "qf": qf, "examples": {p.name for p in list(s.files)[:n_examples]}
                            if qf is not None else set()})   # the report's crops are per QF
                for s in sets for qf in qfs]

    def item_id(self, item: Path) -> str:
        return item.name

    def load(self, item: Path) -> np.ndarray:
        return load_image(item)

    def record_key(self, ctx: RunContext, group: Group, method: Method) -> tuple[str, dict, dict]:
        image_set, qf = group.info["set"], group.info["qf"]
        config = {"task": "quality", "set": image_set.name, "set_root": str(image_set.root), "qf": qf,
                  "scale": SCALE, "preprocessor": ctx.preprocessor(method.spec).describe(),
                  "crop_border": ctx.args.crop_border, "recipe": RECIPE}
        return f"{image_set.name}_{qf_tag(qf)}_{slug(method.spec)}", config, {}

    def score(self, ctx: RunContext, group: Group, method: Method, samples: list[Sample]) -> list[dict]:
        records = []
        for s in samples:
            hr = s.reference
            records.append({"qf": group.info["qf"], "preproc": method.spec, "hr_shape": list(hr.shape),
                            "psnr": psnr_y(s.output, hr, ctx.args.crop_border),
                            "ssim": ssim_y(s.output, hr, ctx.args.crop_border)})
            if s.item.name in group.info["examples"]:
                folder = ctx.task_dir("quality") / "examples" / group.info["set"].name / s.item.name
                save_example(folder, "hr", hr, hr.shape)
                save_example(folder, f"lr_q{group.info['qf']}", s.input, hr.shape)
                save_example(folder, f"q{group.info['qf']}_{slug(method.spec)}", s.output, hr.shape)
        return records

    def failure_fields(self, item: Path, method: Method) -> dict:
        return {"preproc": method.spec}

    def summarize(self, ctx: RunContext, groups: list[Group], results: Results) -> Summary:
        return summarize(ctx, groups, results)

    def write(self, ctx: RunContext, groups: list[Group], summary: Summary) -> list[Path]:
        return write_tables(ctx, groups, summary)

    def leaderboard_rows(self, ctx: RunContext, groups: list[Group], summary: Summary) -> list[dict]:
        """Per (set, QF): mean Y-PSNR on the images every method scored, paired intervals vs bicubic."""
        rows = []
        for group in groups:
            results = summary.results
            extra = {m.spec: {"seconds_per_mp": seconds_per_megapixel(list(results.ok(group, m).values()), "hr_shape"),
                              "parameters": ctx.preprocessor(m.spec).num_parameters} for m in group.methods}
            rows += [{"set": group.info["set"].name, **r}
                     for r in mean_rows("Y-PSNR (dB)", summary.groups[group.name]["psnr"], extra)]
        return rows

    def report_section(self, out_dir: Path, report_dir: Path):
        from tasks.quality.report import section

        return section(out_dir, report_dir)

TASK = QualityTask()


def summarize(ctx: RunContext, groups: list[Group], results: Results) -> Summary:
    """Return the run's Summary: `run` = (per-image records, per set/QF/method Table I rows) as data frames,
    `groups[name]["psnr"]` = {spec: the Y-PSNR of each paired image} (what the leaderboard ranks).

    Means are paired: each method's over the images that every method of the run scored at that set and
    QF (`n_images`); `n_failed` counts its own failures, `n_excluded` the images it scored but another
    method failed on."""
    per_image, rows, paired = [], [], {}
    for group in groups:
        image_set, qf = group.info["set"], group.info["qf"]
        common = results.common(group)
        paired[group.name] = {"psnr": {}}
        for method in group.methods:
            spec, records = method.spec, results.of(group, method)
            for r in records.values():
                per_image.append({"set": image_set.name, "qf": qf, "method": spec, "image": r["id"],
                                  "psnr": r.get("psnr"), "ssim": r.get("ssim"),
                                  "time_load": r.get("time_load"), "time_degrade": r.get("time_degrade"),
                                  "time_restore": r.get("time_restore"), "time_score": r.get("time_score"),
                                  "error": r.get("error", "")})
            n_ok = len(results.ok(group, method))
            ok = [records[i] for i in common]
            paper = table1_value(spec, image_set.name, qf)
            values = paired[group.name]["psnr"][spec] = np.array([r["psnr"] for r in ok])
            psnr = float(np.mean(values)) if ok else float("nan")
            ssim = float(np.mean([r["ssim"] for r in ok])) if ok else float("nan")
            rows.append({
                "set": image_set.name, "qf": qf, "method": spec, "n_images": len(ok),
                "n_failed": len(records) - n_ok, "n_excluded": n_ok - len(ok),
                "psnr": psnr, "ssim": ssim,
                "paper_psnr": paper[0] if paper else None, "paper_ssim": paper[1] if paper else None,
                "delta_psnr": psnr - paper[0] if paper else None,
                "delta_ssim": ssim - paper[1] if paper else None,
                "restore_s_total": float(sum(r["time_restore"] for r in ok)),
                "restore_s_per_image": float(np.mean([r["time_restore"] for r in ok])) if ok else None,
                "parameters": ctx.preprocessor(spec).num_parameters,
            })
    summary = pd.DataFrame(rows)
    summary = summary.sort_values(["qf", "method", "set"], key=lambda s: s.map(
        {spec: i for i, spec in enumerate(ctx.preproc_specs)}) if s.name == "method" else s,
        kind="stable").reset_index(drop=True)
    return Summary(results, paired, (pd.DataFrame(per_image), summary))


def write_tables(ctx: RunContext, groups: list[Group], summary: Summary) -> list[Path]:
    """Write Table I (table1.*) and the per-image records (per_image.*) of `summary`; print Table I."""
    sets = list({id(g.info["set"]): g.info["set"] for g in groups}.values())
    qfs = list(dict.fromkeys(g.info["qf"] for g in groups))
    per_image, summary = summary.run
    out = ctx.task_dir("quality")
    config = {"task": "quality", "sets": [str(s.root) for s in sets], "qf": qfs,
              "preprocessors": {spec: report_description(ctx.preprocessor(spec)) for spec in ctx.preproc_specs},
              "crop_border": ctx.args.crop_border, "limit": ctx.limit, "recipe": RECIPE}
    prov = provenance(config)
    notes = [f"Recipe: {RECIPE}.",
             "Paper values from Table I; the paper's single CAJNN row is read as QF 40 (it gives no QF 10/20 "
             "CAJNN figures).",
             "Sets: " + ", ".join(f"{s.name} ({len(s.files)} images{', embedded smoke set, not a paper set' if s.embedded else ''})"
                                 for s in sets)]
    if ctx.limit:
        notes.append(f"--limit {ctx.limit}: only the first {ctx.limit} images of each set were scored.")
    if (summary.n_failed > 0).any():
        notes.append("Some images failed; see per_image.csv (column error). Means are paired: every method is "
                     "averaged over the images all methods scored (n_images; n_excluded in table1.csv).")
    summary, per_image = keep_earlier_groups(out, summary, per_image)
    status = read_status(out)
    configs, sizes, _ = display.display_inputs(status) if status else ({}, {}, {})
    shown, notes = footnote_settings(display.table1(summary, configs, sizes, jpeg_only=False), notes)
    paths = write_table(summary, out / "table1", "Table I: Y-PSNR / Y-SSIM, x4", prov, notes, display=shown)
    paths += write_table(per_image, out / "per_image", "Per-image quality results", prov)
    print((out / "table1.md").read_text().split("<details>")[0])
    return paths


def keep_earlier_groups(out: Path, summary: pd.DataFrame, per_image: pd.DataFrame
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return `summary` and `per_image` with the rows of the (set, QF) groups that this run did not run
    kept from the tables an earlier run wrote in `out` (so that runs of one QF each add up to one Table I)."""
    frames = []
    for new, stem in ((summary, "table1"), (per_image, "per_image")):
        if not (out / f"{stem}.json").is_file() or not len(new):
            frames.append(new)
            continue
        old = read_table(out / stem).frame
        ran = set(zip(summary["set"], summary["qf"].map(_qf_key)))
        keep = old[[(s, _qf_key(q)) not in ran for s, q in zip(old["set"], old["qf"])]]
        frames.append(pd.concat([keep, new], ignore_index=True) if len(keep) else new)
    return frames[0], frames[1]


def _qf_key(qf) -> int | None:
    return None if qf is None or pd.isna(qf) else int(qf)
