"""The report as one self-contained web page: pictures embedded as data URIs, no script, no network."""
from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import pandas as pd

from tasks.report.model import Section

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2327;
       background: #fafafa; }
main { max-width: 1240px; margin: 0 auto; padding: 12px 20px 40px; }
h1 { font-size: 1.6em; margin: 0.4em 0; } h2 { border-bottom: 2px solid #ccd; padding-bottom: 3px;
margin-top: 1.6em; } h3 { font-size: 1.08em; margin: 1.2em 0 0.3em; }
nav a { margin-right: 1em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; background: #fff; margin: 6px 0 10px; }
th, td { border: 1px solid #d4d8dd; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { background: #eef1f5; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
td.sub { color: #7a4b00; } td.paper { color: #0b6b2c; }
ul.notes { font-size: 13px; color: #444; margin: 4px 0; }
.missing { background: #fff6e0; border: 1px solid #e8c66a; padding: 6px 14px; }
.error { background: #fde8e8; border: 1px solid #d98888; padding: 6px 14px; }
.figures { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: flex-start; }
figure { margin: 12px 0; max-width: 100%; }
figcaption { max-width: 600px; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd;
background: #fff; } figcaption { font-size: 13px; color: #444; }
details { margin: 4px 0; } summary { cursor: pointer; } pre { font-size: 12px; background: #f1f3f5;
padding: 8px; overflow-x: auto; }
"""
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
TEXT_COLUMNS = ("Setting", "Method", "Condition", "Comparison", "ours on", "Label", "Prediction")


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _inline(text) -> str:
    """Return escaped text with `code` spans (as written in the Markdown) set as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(text))


def table_html(key: str, frame: pd.DataFrame) -> str:
    """Return an HTML table; free-text columns left-aligned, settings coloured by paper / substituted."""
    head = "".join(f'<th class="{"text" if c in TEXT_COLUMNS else ""}">{_e(c)}</th>' for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, row):
            value = "" if pd.isna(value) else str(value)
            cls = ["text"] if col in TEXT_COLUMNS else []
            if col == "Setting":
                cls.append("sub" if value.startswith("substituted") else "paper")
            cells.append(f'<td class="{" ".join(cls)}">{_e(value)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table id="{_e(key)}" data-table="{_e(key)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def data_uri(path: Path) -> str:
    """Return the file as a base64 data URI."""
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render(title: str, header: list[str], sections: list[Section], report_dir: Path) -> str:
    """Return the whole report as one HTML page (pictures read from `report_dir` and embedded)."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(title)}</title><style>{STYLE}</style></head><body><main>",
             f"<h1>{_e(title)}</h1>"]
    parts += [f"<p>{_e(h)}</p>" for h in header]
    parts.append("<nav>" + "".join(f'<a href="#{_e(s.key)}">{_e(s.title)}</a>' for s in sections)
                 + '<a href="#provenance">Provenance</a></nav>')
    glance = [g for s in sections for g in s.glance]
    if glance:
        parts.append('<section id="glance"><h2>At a glance: does a restorer help?</h2><ul class="glance">'
                     + "".join(f"<li>{_inline(g)}</li>" for g in glance) + "</ul></section>")
    missing = [m for s in sections for m in s.missing]
    parts.append('<section id="missing"><h2>What is missing</h2>')
    if missing:
        parts.append('<div class="missing"><ul>' + "".join(f"<li>{_inline(m)}</li>" for m in missing) + "</ul></div>")
    else:
        parts.append("<p>Nothing: every task and every paper row ran.</p>")
    parts.append("</section>")
    for sec in sections:
        parts.append(f'<section id="{_e(sec.key)}"><h2>{_e(sec.title)}</h2>')
        if sec.intro:
            parts.append(f"<p>{_inline(sec.intro)}</p>")
        if sec.error:
            parts.append(f'<div class="error">Could not read these results: <code>{_e(sec.error)}</code></div>')
        if not sec.tables and not sec.figures and not sec.error:
            parts.append("<p>No results yet (see <em>What is missing</em>).</p>")
        for table in sec.tables:
            parts.append(f"<h3>{_e(table.title)}</h3>")
            if table.notes:
                parts.append('<ul class="notes">' + "".join(f"<li>{_inline(n)}</li>" for n in table.notes) + "</ul>")
            parts.append(table_html(table.key, table.frame))
        if sec.figures:
            parts.append('<div class="figures">')
        for fig in sec.figures:
            parts.append(f'<figure><img src="{data_uri(report_dir / fig.path)}" alt="{_e(fig.caption)}">'
                         f"<figcaption>{_e(fig.caption)}</figcaption></figure>")
        if sec.figures:
            parts.append("</div>")
        parts.append("</section>")
    parts.append('<section id="provenance"><h2>Provenance</h2>'
                 "<p>Commit, versions, configuration and date of every stored result.</p>")
    for sec in sections:
        for prov in sec.provenance:
            b = prov.block
            packages = ", ".join(f"{k} {v}" for k, v in sorted((b.get("packages") or {}).items()))
            parts.append(f"<details><summary>{_e(prov.label)}: commit {_e(b.get('commit', '?'))}, "
                         f"{_e(b.get('date', '?'))}</summary><ul>"
                         f"<li>python {_e(b.get('python', '?'))}, {_e(b.get('platform', '?'))}, "
                         f"torch threads {_e(b.get('torch_threads', '?'))}</li>"
                         f"<li>packages: {_e(packages)}</li></ul>"
                         f"<pre>{_e(json.dumps(b.get('config', {}), indent=2, sort_keys=True, default=str))}"
                         "</pre></details>")
    parts.append("</section></main></body></html>")
    return "\n".join(parts)
