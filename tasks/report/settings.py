"""Whether a result's setting is the paper's, and if not, what was substituted (one line per row)."""
from __future__ import annotations

from pathlib import Path

from harness.registry import training_data

PAPER = "paper's setting"
# Restorers the paper used, with their size there (Table I); ours are trained here, never the authors'.
NETWORKS = {
    "cajnn": ("CAJNN", {"nf": 64, "gc": 32, "nb": 20}, "14.8 M"),
    "rrdb": ("RRDB", {"nf": 64, "nb": 23, "gc": 32}, "16.7 M"),
    "arcnn": ("ARCNN", None, "0.56 M"),
    "dncnn": ("DnCNN", None, "0.06 M"),
}
NETWORKS["cajnn_small"] = NETWORKS["cajnn"]   # the small CAJNN, as a named restorer
NOT_LEARNED = {"none", "bicubic", "down"}


def _training(describe: dict) -> str:
    """Return how the weights were trained, from the restorer's description (`report_description`: its
    `train_data` comes from the restorer's `about()`; results written before that name it by the config)."""
    parts = []
    name = describe.get("train_config")
    if name:
        folders = describe.get("train_data") or training_data(name)
        parts.append("on " + "+".join(folders) if folders else "")
        parts.append(f"config {name}")
    if describe.get("iterations"):
        parts.append(f"{int(describe['iterations']):,} iterations")
    if describe.get("train_wall_s"):
        parts.append(f"{describe['train_wall_s'] / 3600:.1f} h")
    if describe.get("machine"):
        parts.append(f"on {describe['machine']}")
    text = ", ".join(p for p in parts if p)
    return f"trained here ({text})" if text else "weights " + Path(str(describe.get("weights", "?"))).name


def stage_setting(describe: dict) -> str:
    """Return '' for a stage used as in the paper, else what stands in for the paper's stage (and how it ran,
    when not plainly: under `--precision bf16` / `fp16` autocast, or with `--self-ensemble`)."""
    name = str(describe.get("name", ""))
    if name in NOT_LEARNED:
        return ""
    precision = describe.get("precision")
    arithmetic = f", run in {precision} autocast (--precision {precision})" if precision else ""
    ensemble = ", averaged over the 8 flips/rotations (--self-ensemble)" if describe.get("self_ensemble") else ""
    return _network_setting(name, describe) + arithmetic + ensemble


def _network_setting(name: str, describe: dict) -> str:
    """Return what stands in for the paper's stage `name` (a network of the paper, or a plug-in)."""
    if name in NETWORKS:
        label, paper_config, paper_size = NETWORKS[name]
        config = describe.get("config") or {}
        if paper_config and any(config.get(k) != v for k, v in paper_config.items()):
            size = f"{label} small (" + ", ".join(f"{k} {config.get(k)}" for k in paper_config) + ")"
        else:
            size = label
        params = describe.get("parameters")
        count = f"{params / 1e6:.2f} M parameters vs {paper_size}" if params else f"paper {paper_size}"
        return f"{size}, {count}, {_training(describe)}; not the authors' weights"
    return f"{name}: a plug-in restorer, not in the paper"


def restorer_setting(describe: dict | None) -> str:
    """Return the substitution text of a preprocessor description (a Pipeline's or one stage's)."""
    if not describe:
        return ""
    stages = describe.get("stages") or [describe]
    return "; ".join(s for s in (stage_setting(d) for d in stages) if s)


def setting_text(substitutions: list[str]) -> str:
    """Return `paper's setting` or `substituted: ...` for a row."""
    subs = [s for s in substitutions if s]
    return "substituted: " + "; ".join(subs) if subs else PAPER


def footnote_settings(frame, notes: list[str], column: str = "Setting"):
    """Return (frame, notes) with each distinct substitution text replaced by a letter in `column`
    (`substituted (a)`) and spelled out once in the notes, so long texts are not repeated per row."""
    if column not in frame.columns:
        return frame, notes
    letters, out = {}, []
    for value in frame[column]:
        if isinstance(value, str) and value.startswith("substituted: "):
            text = value[len("substituted: "):]
            letter = letters.setdefault(text, chr(ord("a") + len(letters)) if len(letters) < 26 else str(len(letters)))
            out.append(f"substituted ({letter})")
        else:
            out.append(value)
    frame = frame.copy()
    frame[column] = out
    return frame, list(notes) + [f"Setting ({letter}): {text}." for text, letter in letters.items()]
