"""A worked example of a task with a corpus-level metric (docs/adding_a_task.md): a toy detector of bright
square spots, scored by average precision (AP) over all images at once, as a face or object detector is.

The items are 12 synthetic grey images (96 x 96, background 40) with 0 to 3 bright squares (value 200) of
side 6, 12 or 24 px at known places, so the ground truth is known by construction. The detector keeps the
pixels above 128, and reports each connected region as a box with score = its mean brightness / 255. Boxes
are relative to the image size, so a method's output may be the x4 LR image itself (`none`) or its x4
restoration. On the original images it finds every square exactly (AP 1); under `--degrade x4` the small
squares fade, which a restorer may or may not undo.

AP is not a mean of per-image numbers: `summarize` pools every method's detections over the images every
method scored, matches them to the squares (IoU >= 0.5, best score first) and takes the VOC all-point AP;
the leaderboard's intervals come from a paired bootstrap over images (the same resamples for every method,
each image weighted by how often it was drawn).

It lives in tests/ (it is not a benchmark); tests/tasks/example/test_spots_task.py registers it with
one line, `tasks.TASKS["spots"] = "tests.tasks.example.spots_task"`, and runs it through run_all.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.cli import RunContext
from harness.errors import HarnessError
from harness.provenance import provenance
from harness.stats import Difference, resample_weights
from harness.store import slug
from harness.tables import write_table
from harness.task import Group, Method, Results, Sample, Summary, Task

SIDE, BACKGROUND, SPOT = 96, 40, 200
DETECTOR = "pixels > 128, one box per 8-connected region, score = mean brightness / 255"
IOU = 0.5
RESAMPLES, SEED = 200, 0


@dataclass(frozen=True)
class Picture:
    """One item: the squares (x0, y0, x1, y1 in pixels, x1/y1 exclusive) drawn on a grey image."""

    id: str
    squares: tuple[tuple[int, int, int, int], ...]


def pictures() -> list[Picture]:
    """Return the 12 items: image k holds k % 4 squares, of sides 24, 12 and 6 in turn, on a fixed grid."""
    out = []
    for k in range(12):
        squares = []
        for j in range(k % 4):
            side = (24, 12, 6)[(k + j) % 3]
            x0, y0 = 8 + 30 * j, 8 + 4 * (k % 5) + 20 * (j % 2)
            squares.append((x0, y0, x0 + side, y0 + side))
        out.append(Picture(f"img{k:02d}", tuple(squares)))
    return out


def draw(picture: Picture) -> np.ndarray:
    image = np.full((SIDE, SIDE, 3), BACKGROUND, np.uint8)
    for x0, y0, x1, y1 in picture.squares:
        image[y0:y1, x0:x1] = SPOT
    return image


def detect(image: np.ndarray) -> list[list[float]]:
    """Return [x0, y0, x1, y1, score] per bright region, coordinates relative to the image size."""
    from scipy import ndimage

    grey = image.astype(np.float64).mean(axis=2)
    labels, _ = ndimage.label(grey > 128, structure=np.ones((3, 3)))
    h, w = grey.shape
    boxes = []
    for k, found in enumerate(ndimage.find_objects(labels), start=1):
        ys, xs = found
        score = float(grey[labels == k].mean() / 255.0)
        boxes.append([xs.start / w, ys.start / h, xs.stop / w, ys.stop / h, score])
    return boxes


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(detections: list[list[float]], truth: list[tuple]) -> list[tuple[float, bool]]:
    """Return (score, true positive) per detection of one image: best score first, each square matched once."""
    free, out = list(truth), []
    for det in sorted(detections, key=lambda d: -d[4]):
        best = max(free, key=lambda t: iou(det, t), default=None)
        hit = best is not None and iou(det, best) >= IOU
        if hit:
            free.remove(best)
        out.append((det[4], hit))
    return out


def average_precision(matched: list[list[tuple[float, bool]]], n_truth: np.ndarray,
                      weights: np.ndarray | None = None) -> float:
    """Return the VOC all-point AP of detections pooled over images (`matched[i]`: image i's (score, hit);
    `n_truth[i]`: its squares), each image counted `weights[i]` times (a bootstrap resample)."""
    weights = np.ones(len(matched)) if weights is None else weights
    scores = np.array([s for m in matched for s, _ in m])
    hits = np.array([h for m in matched for _, h in m], dtype=float)
    w = np.array([weights[i] for i, m in enumerate(matched) for _ in m])
    total = float(np.dot(weights, n_truth))
    if total == 0:
        return float("nan")
    if not len(scores):
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum((hits * w)[order])
    fp = np.cumsum(((1 - hits) * w)[order])
    keep = w[order] > 0
    recall, precision = tp[keep] / total, tp[keep] / np.maximum(tp[keep] + fp[keep], 1e-12)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mpre[steps]))


class SpotsTask(Task):
    """Finds bright squares after each preprocessor; one AP table per degradation, and leaderboard rows."""

    name = "spots"
    default_preproc = ["none", "bicubic"]
    unit = "images"
    time_field = "time_detect"
    scales = (4,)                          # --degrade x4[,qQ]; without it, the images as drawn
    baselines = ("none",)                  # the leaderboard also scores the degraded image itself
    score_note = "AP of the toy spot detector on spots (worked example)"
    digits = 3

    def groups(self, ctx: RunContext) -> list[Group]:
        if ctx.data:
            raise HarnessError("the spots example draws its own images; drop --data")
        methods = [Method(spec, spec) for spec in ctx.preproc_specs]
        return [Group("spots" + (f"_{d.tag}" if d else ""), pictures(), d, methods, info={"degradation": d})
                for d in self.degradations(ctx)]

    def load(self, item: Picture) -> np.ndarray:
        return draw(item)

    def record_key(self, ctx: RunContext, group: Group, method: Method) -> tuple[str, dict, dict]:
        d = group.info["degradation"]
        config = {"task": self.name, "images": "12 drawn squares", "detector": DETECTOR,
                  "degradation": d.tag if d else None, "preprocessor": ctx.preprocessor(method.spec).describe()}
        return f"{group.name}_{slug(method.spec)}", config, {}

    def score(self, ctx: RunContext, group: Group, method: Method, samples: list[Sample]) -> list[dict]:
        return [{"boxes": detect(s.output)} for s in samples]

    def summarize(self, ctx: RunContext, groups: list[Group], results: Results) -> Summary:
        """Per group: the images every method scored, each method's matched detections and its AP."""
        numbers = {}
        for group in groups:
            common = results.common(group)
            truth = {p.id: [tuple(v / SIDE for v in sq) for sq in p.squares] for p in group.items}
            n_truth = np.array([len(truth[i]) for i in common], dtype=float)
            matched = {m.name: [match(results.of(group, m)[i]["boxes"], truth[i]) for i in common]
                       for m in group.methods}
            numbers[group.name] = {"common": common, "n_truth": n_truth, "matched": matched,
                                   "ap": {m: average_precision(v, n_truth) for m, v in matched.items()},
                                   "failed": {m.name: len(results.of(group, m)) - len(results.ok(group, m))
                                              for m in group.methods}}
        return Summary(results, numbers)

    def write(self, ctx: RunContext, groups: list[Group], summary: Summary) -> list[Path]:
        paths = []
        for group in groups:
            n = summary.groups[group.name]
            frame = pd.DataFrame([{"method": m, "ap": ap, "n_images": len(n["common"]),
                                   "squares": int(n["n_truth"].sum()), "failed": n["failed"][m],
                                   "detections": sum(len(x) for x in n["matched"][m])} for m, ap in n["ap"].items()])
            display = pd.DataFrame([{"Method": r.method, "AP": f"{r.ap:.3f}", "Images": r.n_images,
                                     "Detections": r.detections} for r in frame.itertuples()])
            config = {"task": self.name, "detector": DETECTOR, "group": group.name, "limit": ctx.limit,
                      "preprocessors": {s: ctx.preprocessor(s).describe() for s in ctx.preproc_specs}}
            paths += write_table(frame, ctx.task_dir(self.name) / f"table_{group.name}",
                                 f"Toy spot detection AP, {group.name} (worked example)", provenance(config),
                                 [f"Detector: {DETECTOR}; a detection is right at IoU >= {IOU}.",
                                  "AP pooled over the images every method scored (VOC all-point)."],
                                 display=display)
        return paths

    def leaderboard_rows(self, ctx: RunContext, groups: list[Group], summary: Summary) -> list[dict]:
        """AP per method, with paired bootstrap differences over images (the same resamples for every method)."""
        from harness.leaderboard import add_comparisons

        rows = []
        for group in groups:
            n = summary.groups[group.name]
            weights = resample_weights(len(n["common"]), RESAMPLES, SEED)
            boot = {m: np.array([average_precision(v, n["n_truth"], w) for w in weights]) for m, v in n["matched"].items()}
            mine = [{"set": "drawn squares", "method": m, "metric": "AP", "score": ap, "n_items": len(n["common"])}
                    for m, ap in n["ap"].items()]

            def differences_from(base: str) -> dict[str, Difference]:
                out = {}
                for m, ap in n["ap"].items():
                    d = boot[m] - boot[base]
                    out[m] = Difference(ap - n["ap"][base], *np.nanpercentile(d, [2.5, 97.5]).tolist())
                return out

            add_comparisons(mine, differences_from)
            rows += mine
        return rows


TASK = SpotsTask()
