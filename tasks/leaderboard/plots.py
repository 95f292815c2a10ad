"""Leaderboard figures: score against degradation per restorer (one figure per task), and the restorer x
task heat map of the gain over bicubic. Each figure is written as PNG beside the CSV of what it shows."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
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
    degradations it ran (in the task's own unit: dB, percentage points, AP)."""
    data = frame[frame["method"] != "bicubic"].groupby(["method", "task"], sort=False)["vs_bicubic"].mean()
    table = data.unstack("task")
    csv = out / "gain_heatmap.csv"
    atomic_write_text(csv, table.to_csv())
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(table.columns), 0.9 + 0.45 * len(table)))
    scaled = table / table.abs().max().replace(0, 1)   # each task in its own unit: colour per column
    ax.imshow(scaled.to_numpy(dtype=float), cmap="RdYlGn", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(table.columns)), table.columns)
    ax.set_yticks(range(len(table)), table.index)
    for i in range(len(table)):
        for j in range(len(table.columns)):
            v = table.iat[i, j]
            ax.text(j, i, "-" if pd.isna(v) else f"{v:+.3g}", ha="center", va="center", fontsize=8)
    ax.set_title("gain over bicubic (mean over sets and degradations)")
    return [csv, _save(fig, out / "gain_heatmap.png")]
