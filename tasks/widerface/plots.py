"""Precision-recall plots like the paper's Fig. 6: one PNG per setting, one curve per condition."""
from __future__ import annotations

from pathlib import Path

from tasks.widerface import evaluation as ev


def plot_pr_curves(curves: dict[str, tuple[ev.Curves, dict[str, float]]], setting: str, path: str | Path,
                   title: str = "") -> Path:
    """Write a PR plot of `setting` with one curve per {condition: (curves, APs)}; return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=120)
    for name, (c, ap) in curves.items():
        ax.plot(c.recall[setting], c.precision[setting], lw=2, label=f"{name} (AP {ap[setting]:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left")
    ax.set_title(title or f"WIDER FACE {setting}")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path
