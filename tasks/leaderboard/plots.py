"""Leaderboard figures: score against degradation per restorer (one figure per task), and the restorer x
task heat map of the gain over bicubic. Each figure is written as PNG beside the CSV of what it shows."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from harness.store import atomic_write_text  # noqa: E402


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_score_vs_degradation(frame: pd.DataFrame, out: Path, order: list[str]) -> list[Path]:
    """Write `score_<task>.png/.csv`: each method's score at each degradation of the sweep (error bars: the
    95% interval of its difference from bicubic, drawn around its score); one line per set."""
    paths = []
    for task, group in frame.groupby("task", sort=False):
        data = group[["set", "degradation", "method", "score", "vs_bicubic_low", "vs_bicubic_high",
                      "vs_bicubic"]].copy()
        csv = out / f"score_{task}.csv"
        atomic_write_text(csv, data.to_csv(index=False))
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        steps = [d for d in order if d in set(data["degradation"])]
        for (set_name, method), rows in data.groupby(["set", "method"], sort=False):
            rows = rows.set_index("degradation").reindex(steps)
            x = list(range(len(steps)))
            low = rows["vs_bicubic"] - rows["vs_bicubic_low"]
            high = rows["vs_bicubic_high"] - rows["vs_bicubic"]
            label = method if data["set"].nunique() == 1 else f"{method} ({set_name})"
            ax.errorbar(x, rows["score"], yerr=[low.fillna(0), high.fillna(0)], marker="o", capsize=3, label=label)
        ax.set_xticks(range(len(steps)), [s.replace("_", ", ") for s in steps])
        ax.set_xlabel("degradation (x4 downscale, JPEG quality; x4 alone: no JPEG)")
        ax.set_ylabel(group["metric"].iloc[0])
        ax.set_title(f"{task}: score per degradation (bars: 95% interval vs bicubic)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        paths += [csv, _save(fig, out / f"score_{task}.png")]
    return paths


def plot_gain_heatmap(frame: pd.DataFrame, out: Path) -> list[Path]:
    """Write `gain_heatmap.png/.csv`: each restorer's gain over bicubic per task, averaged over the sets and
    degradations it ran. One panel per task, each with its own colour scale and colour bar in the task's
    unit (dB, percentage points, AP): a colour never means one amount in dB and another in points."""
    from matplotlib.colors import Normalize

    data = frame[frame["method"] != "bicubic"].groupby(["method", "task"], sort=False)["vs_bicubic"].mean()
    table = data.unstack("task")
    csv = out / "gain_heatmap.csv"
    atomic_write_text(csv, table.to_csv())
    if table.empty:   # bicubic alone: no gain to draw
        (out / "gain_heatmap.png").unlink(missing_ok=True)
        return [csv]
    metrics = frame.groupby("task", sort=False)["metric"].first()
    cmap = plt.get_cmap("RdYlGn")
    fig, axes = plt.subplots(1, len(table.columns), squeeze=False,
                             figsize=(0.9 + 2.7 * len(table.columns), 1.3 + 0.45 * len(table)))
    for j, (ax, task) in enumerate(zip(axes[0], table.columns)):
        column = table[[task]].to_numpy(dtype=float)
        finite = column[np.isfinite(column)]
        limit = float(np.abs(finite).max()) if len(finite) and np.abs(finite).max() > 0 else 1.0
        norm = Normalize(-limit, limit)
        image = ax.imshow(column, cmap=cmap, norm=norm, aspect="auto")
        ax.set_xticks([0], [task])
        ax.set_yticks(range(len(table)), table.index if j == 0 else [""] * len(table))
        for i, v in enumerate(column[:, 0]):
            colour = text_colour(cmap(norm(v))) if np.isfinite(v) else "black"
            ax.text(0, i, "-" if not np.isfinite(v) else f"{v:+.3g}", ha="center", va="center", fontsize=8,
                    color=colour)
        fig.colorbar(image, ax=ax, fraction=0.12, pad=0.04).set_label(
            f"gain, {gain_unit(str(metrics.get(task, '')))}", fontsize=8)
    fig.suptitle("gain over bicubic (mean over sets and degradations); each task on its own scale", fontsize=9)
    fig.tight_layout()
    return [csv, _save(fig, out / "gain_heatmap.png")]


def text_colour(rgba) -> str:
    """Return "white" on a dark cell colour and "black" on a light one (relative luminance, ITU-R BT.709)."""
    r, g, b = rgba[:3]
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45 else "black"


def gain_unit(metric: str) -> str:
    """Return the unit of a difference of `metric` (a percentage's difference is in points)."""
    if "(%)" in metric:
        return "percentage points"
    if "(" in metric:
        return metric[metric.index("(") + 1:metric.rindex(")")]
    return metric or "the task's unit"
