"""The report as Markdown: tables beside the paper, plots inline, dataset-pixel pictures as links."""
from __future__ import annotations

import json

from harness.tables import to_markdown
from tasks.report.model import Section


def render(title: str, header: list[str], sections: list[Section]) -> str:
    """Return the whole report as one Markdown document."""
    lines = [f"# {title}", ""] + [f"{h}  " for h in header] + [""]
    missing = [m for s in sections for m in s.missing] + [f"{s.title}: could not be read: {s.error}"
                                                           for s in sections if s.error]
    glance = [g for s in sections for g in s.glance]
    if glance:
        lines += ["## At a glance: does a restorer help?", ""] + [f"- {g}" for g in glance] + [""]
    lines += ["## What is missing", ""]
    lines += [f"- {m}" for m in missing] if missing else ["Nothing: every task and every paper row ran."]
    lines.append("")
    for sec in sections:
        lines += [f"## {sec.title}", ""]
        if sec.intro:
            lines += [sec.intro, ""]
        if sec.error:
            lines += [f"**Could not read these results:** `{sec.error}`", ""]
        if not sec.tables and not sec.figures and not sec.error:
            lines += ["No results yet (see *What is missing*).", ""]
        for table in sec.tables:
            lines += [f"### {table.title}", ""] + [f"- {n}" for n in table.notes]
            lines += ["", to_markdown(table.frame), ""]
        plots = [f for f in sec.figures if not f.dataset_pixels]
        pictures = [f for f in sec.figures if f.dataset_pixels]
        for fig in plots:
            lines += [f"![{fig.caption}]({fig.path.as_posix()})", "", f"*{fig.caption}*", ""]
        if pictures:
            lines += ["Pictures with dataset pixels (made when the report is built; not committed):", ""]
            lines += [f"- [{f.path.name}]({f.path.as_posix()}): {f.caption}" for f in pictures]
            lines.append("")
    lines += ["## Provenance", ""]
    for sec in sections:
        for prov in sec.provenance:
            block = prov.block
            summary = ", ".join(f"{k} {block.get(k)}" for k in ("commit", "date") if block.get(k))
            lines += [f"<details><summary>{prov.label}: {summary}</summary>", "", "```json",
                      json.dumps(block, indent=2, sort_keys=True, default=str), "```", "</details>", ""]
    return "\n".join(lines)
