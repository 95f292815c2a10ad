"""Run the quality task: for each set, QF and preprocessor, score every image and write Table I."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from harness.cli import RunContext, quality_factor
from harness.degrade import degrade, parse_degradations
from harness.errors import HarnessError
from harness.image import load_image, save_image
from harness.metrics import psnr_y, ssim_y
from harness.progress import progress
from harness.provenance import provenance
from harness.store import RecordStore, config_key, slug
from harness.tables import write_table
from tasks.paper import table1_value
from tasks.quality.datasets import ImageSet, embedded_set, folder_sets

RECIPE = "modcrop4 + MATLAB bicubic x1/4 (mirror, uint8 per pass) + JPEG 4:2:0 (libjpeg); Y-PSNR/SSIM"
SCALE = 4
DEFAULT_PREPROC = ["bicubic", "cajnn"]
DEFAULT_QF = [10, 20, 40]


def add_arguments(parser) -> None:
    group = parser.add_argument_group("quality task")
    group.add_argument("--qf", type=quality_factor, nargs="+", default=None,
                       help="JPEG quality factors of the LR input (default: 10 20 40; the same as "
                            "--degrade x4,q10 x4,q20 x4,q40)")
    group.add_argument("--crop-border", type=int, default=0,
                       help="pixels cropped from each border before PSNR/SSIM (default 0, as the paper)")
    group.add_argument("--examples", type=int, default=1, metavar="N",
                       help="save centre crops (HR, LR-JPEG, every output) of the first N images of each "
                            "set under OUT/quality/examples for the report's image grid (default 1; 0: none)")


def quality_factors(ctx: RunContext) -> list[int]:
    """Return the QFs of the run: from --qf, or from --degrade (each x4 with a JPEG quality)."""
    degradations = parse_degradations(getattr(ctx.args, "degrade", None))
    if degradations is None:
        return list(dict.fromkeys(ctx.args.qf or DEFAULT_QF))
    if ctx.args.qf:
        raise HarnessError("--qf and --degrade both give the quality task's degradations; give one")
    for d in degradations:
        if d.scale != SCALE or d.quality is None:
            raise HarnessError(f"--degrade {d.tag}: the quality task degrades x{SCALE} with a JPEG quality "
                               f"(e.g. x{SCALE},q20)")
    return [d.quality for d in degradations]


def image_sets(ctx: RunContext) -> list[ImageSet]:
    """Return the sets named by --data, or the embedded smoke set."""
    if not ctx.data:
        return [embedded_set()]
    return folder_sets(ctx.data)


def _store(ctx: RunContext, image_set: ImageSet, qf: int, spec: str) -> RecordStore:
    pre = ctx.preprocessor(spec)
    config = {"task": "quality", "set": image_set.name, "set_root": str(image_set.root), "qf": qf,
              "scale": SCALE, "preprocessor": pre.describe(), "crop_border": ctx.args.crop_border,
              "recipe": RECIPE}
    folder = ctx.task_dir("quality") / "records" / f"{image_set.name}_q{qf}_{slug(spec)}_{config_key(config)}"
    return ctx.store(folder, config)


EXAMPLE_CROP = 128  # HR pixels (32 LR pixels), the side of the crops saved for the report


def save_example(folder: Path, name: str, image: np.ndarray, hr_shape: tuple) -> None:
    """Save the centre crop of `image` (HR size or LR size, aligned to the LR grid) as folder/name.png."""
    side_lr = min(EXAMPLE_CROP, hr_shape[0], hr_shape[1]) // SCALE
    top_lr, left_lr = (hr_shape[0] // SCALE - side_lr) // 2, (hr_shape[1] // SCALE - side_lr) // 2
    f = SCALE if image.shape[0] == hr_shape[0] else 1  # HR-size images are cropped in HR pixels
    rows, cols = slice(top_lr * f, (top_lr + side_lr) * f), slice(left_lr * f, (left_lr + side_lr) * f)
    save_image(folder / f"{name}.png", image[rows, cols])


def score_image(hr_path: Path, qfs: list[int], stores: dict, ctx: RunContext,
                examples_dir: Path | None = None, total: int = 1) -> None:
    """Degrade one HR image at every QF, restore with every pending preprocessor, append records
    (and, with `examples_dir`, save centre crops of HR, LR-JPEG and every output for the report)."""
    image_id = hr_path.name
    pending = {k: s for k, s in stores.items() if not s.has(image_id)}
    if not pending:
        return
    t0 = time.perf_counter()
    try:
        hr_full = load_image(hr_path)
    except HarnessError as exc:
        for store in pending.values():
            store.append({"id": image_id, "error": str(exc)})
        return
    t_load = time.perf_counter() - t0
    attempts = []   # (spec, error or None) of every restorer call, for the broken-restorer check
    for qf in qfs:
        specs = [spec for (q, spec) in pending if q == qf]
        if not specs:
            continue
        t0 = time.perf_counter()
        try:
            hr, lr = degrade(hr_full, SCALE, qf)
        except HarnessError as exc:
            for spec in specs:
                pending[(qf, spec)].append({"id": image_id, "error": str(exc)})
            continue
        t_degrade = time.perf_counter() - t0
        if examples_dir is not None:
            save_example(examples_dir, "hr", hr, hr.shape)
            save_example(examples_dir, f"lr_q{qf}", lr, hr.shape)
        for spec in specs:
            record = {"id": image_id, "qf": qf, "preproc": spec, "hr_shape": list(hr.shape),
                      "time_load": t_load, "time_degrade": t_degrade}
            try:
                t0 = time.perf_counter()
                try:
                    out = ctx.preprocessor(spec)(lr)
                except HarnessError as exc:
                    pending[(qf, spec)].append({"id": image_id, "qf": qf, "preproc": spec, "error": str(exc)})
                    attempts.append((spec, str(exc)))
                    continue
                attempts.append((spec, None))
                record["time_restore"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                record["psnr"] = psnr_y(out, hr, ctx.args.crop_border)
                record["ssim"] = ssim_y(out, hr, ctx.args.crop_border)
                record["time_score"] = time.perf_counter() - t0
                if examples_dir is not None:
                    save_example(examples_dir, f"q{qf}_{slug(spec)}", out, hr.shape)
            except HarnessError as exc:
                record = {"id": image_id, "qf": qf, "preproc": spec, "error": str(exc)}
            pending[(qf, spec)].append(record)
    for spec, error in attempts:
        ctx.restored(spec, error, total)


def run(ctx: RunContext) -> list[Path]:
    """Score every (set, QF, preprocessor) and write the per-image records and the Table I layout."""
    qfs = quality_factors(ctx)
    sets = image_sets(ctx)
    for spec in ctx.preproc_specs:
        pre = ctx.preprocessor(spec)
        if pre.scale != SCALE:
            raise HarnessError(f"preprocessor {spec!r} has scale {pre.scale}; the quality task needs "
                               f"x{SCALE} restorers (e.g. bicubic, cajnn, arcnn+rrdb)")
    all_stores = {}
    for image_set in sets:
        stores = {(qf, spec): _store(ctx, image_set, qf, spec) for qf in qfs for spec in ctx.preproc_specs}
        all_stores[image_set.name] = stores
        files = list(image_set.files)[: ctx.limit] if ctx.limit else list(image_set.files)
        examples = {p.name for p in files[: max(0, getattr(ctx.args, "examples", 0))]}
        for path in progress(ctx.shard(files), f"quality {image_set.name}", "images"):
            examples_dir = ctx.task_dir("quality") / "examples" / image_set.name / path.name
            score_image(path, qfs, stores, ctx, examples_dir if path.name in examples else None, len(files))
    if not ctx.finish_shard():  # every rank waits for all shards; rank 0 merges and writes
        return []
    return write_tables(ctx, sets, qfs, all_stores)


def summarize(ctx: RunContext, sets: list[ImageSet], qfs: list[int], all_stores: dict
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (per-image records, per set/QF/method summary) as data frames.

    Means are paired: each method's over the images that every method of the run scored at that set and
    QF (`n_images`); `n_failed` counts its own failures, `n_excluded` the images it scored but another
    method failed on."""
    per_image, rows = [], []
    for image_set in sets:
        for qf in qfs:
            scored = {}
            for spec in ctx.preproc_specs:
                records = all_stores[image_set.name][(qf, spec)].records()
                if ctx.limit:
                    allowed = {p.name for p in list(image_set.files)[: ctx.limit]}
                    records = [r for r in records if r["id"] in allowed]
                scored[spec] = records
                for r in records:
                    per_image.append({"set": image_set.name, "qf": qf, "method": spec, "image": r["id"],
                                      "psnr": r.get("psnr"), "ssim": r.get("ssim"),
                                      "time_load": r.get("time_load"), "time_degrade": r.get("time_degrade"),
                                      "time_restore": r.get("time_restore"), "time_score": r.get("time_score"),
                                      "error": r.get("error", "")})
            # Paired means: every method is averaged over the images that all methods scored.
            oks = {spec: {r["id"]: r for r in records if "error" not in r} for spec, records in scored.items()}
            common = set.intersection(*(set(ok) for ok in oks.values())) if oks else set()
            for spec, records in scored.items():
                ok = [oks[spec][i] for i in sorted(common)]
                paper = table1_value(spec, image_set.name, qf)
                psnr = float(np.mean([r["psnr"] for r in ok])) if ok else float("nan")
                ssim = float(np.mean([r["ssim"] for r in ok])) if ok else float("nan")
                rows.append({
                    "set": image_set.name, "qf": qf, "method": spec, "n_images": len(ok),
                    "n_failed": len(records) - len(oks[spec]), "n_excluded": len(oks[spec]) - len(ok),
                    "psnr": psnr, "ssim": ssim,
                    "paper_psnr": paper[0] if paper else None, "paper_ssim": paper[1] if paper else None,
                    "delta_psnr": psnr - paper[0] if paper else None,
                    "delta_ssim": ssim - paper[1] if paper else None,
                    "restore_s_total": float(sum(r["time_restore"] for r in ok)),
                    "restore_s_per_image": float(np.mean([r["time_restore"] for r in ok])) if ok else None,
                    "parameters": ctx.preprocessor(spec).num_parameters,
                })
    return pd.DataFrame(per_image), pd.DataFrame(rows)


def _display(summary: pd.DataFrame, sets: list[ImageSet]) -> pd.DataFrame:
    """Return the Table I layout: one row per (QF, method), a column pair per set (ours | paper)."""
    rows = []
    for (qf, method), group in summary.groupby(["qf", "method"], sort=False):
        row = {"QF": qf, "Method": method}
        for image_set in sets:
            r = group[group["set"] == image_set.name].iloc[0]
            row[f"{image_set.name} PSNR/SSIM"] = (f"{r.psnr:.2f}/{r.ssim:.4f}" if r.n_images else "-") + (
                f" ({r.n_failed} failed)" if r.n_failed else "") + (
                f" ({r.n_excluded} excluded: another method failed)" if r.n_excluded else "")
            if r.paper_psnr is not None and not pd.isna(r.paper_psnr):
                row[f"{image_set.name} paper"] = f"{r.paper_psnr:.2f}/{r.paper_ssim:.4f}"
            else:
                row[f"{image_set.name} paper"] = "-"
        row["restore s/img"] = f"{group.restore_s_per_image.mean():.3f}" if group.n_images.sum() else "-"
        params = group.parameters.iloc[0]
        row["params"] = f"{params / 1e6:.3f} M" if params is not None and not pd.isna(params) else "-"
        rows.append(row)
    return pd.DataFrame(rows)


def write_tables(ctx: RunContext, sets: list[ImageSet], qfs: list[int], all_stores: dict) -> list[Path]:
    per_image, summary = summarize(ctx, sets, qfs, all_stores)
    summary = summary.sort_values(["qf", "method", "set"], key=lambda s: s.map(
        {spec: i for i, spec in enumerate(ctx.preproc_specs)}) if s.name == "method" else s,
        kind="stable").reset_index(drop=True)
    out = ctx.task_dir("quality")
    config = {"task": "quality", "sets": [str(s.root) for s in sets], "qf": qfs,
              "preprocessors": {spec: ctx.preprocessor(spec).describe() for spec in ctx.preproc_specs},
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
    paths = write_table(summary, out / "table1", "Table I: Y-PSNR / Y-SSIM, x4", prov, notes,
                        display=_display(summary, sets))
    paths += write_table(per_image, out / "per_image", "Per-image quality results", prov)
    print((out / "table1.md").read_text().split("<details>")[0])
    return paths
