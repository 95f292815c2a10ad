"""The text section: Table II beside the paper (accuracy, correct/N, fixed/broken vs none, McNemar p) and a
strip of words that a restorer fixed or broke, with both predictions.

Renders what the icdar13 task stored in `OUT/icdar13/`, recomputing nothing: one `table2_<tag>.json`
(results and provenance) per (word set, recogniser, degradation), `status.json` (harness/status.py: the
words expected, done and failed per table and method) for the completeness check, and the strips' inputs
the task saved, `word_examples_<tag>.json` and the crops under `examples/<tag>/`.
"""
from __future__ import annotations

from pathlib import Path


from harness.image import load_image
from harness.status import TaskStatus, no_status_line, read_status
from harness.store import slug
from harness.tables import read_table, table_stems
from tasks.icdar13.display import _num, n_words, paper_reference, table2
from tasks.paper import paper_values
from tasks.report import figures
from tasks.report.model import Figure, Provenance, Section, Table


def _store_tags(status: TaskStatus | None) -> dict[str, dict[str, tuple[int, float]]]:
    """Return table tag -> {method: (words recorded, newest record time)} from the status file."""
    out: dict[str, dict] = {}
    for _, method, entry in status.entries() if status else []:
        table = entry.meta.get("table")   # every store names its table (record_key's meta)
        if table:
            out.setdefault(table, {})[method] = (entry.recorded, entry.newest_record)
    return out


def section(out_dir: Path, report_dir: Path) -> Section:
    """Return the text section built from `out_dir/icdar13`."""
    task_dir = out_dir / "icdar13"
    n_paper = paper_values()["table2"]["n_words"]
    sec = Section("icdar13", "Text recognition (Table II)",
                  "Word recognition accuracy after each preprocessor, and the paired comparison with no "
                  "preprocessing (`none`) on the same words: words fixed (wrong -> right), broken (right -> "
                  f"wrong), exact McNemar p. The paper's whole effect is +5 of {n_paper} words.")
    tables = [stem.with_name(stem.name + ".json") for stem in table_stems(task_dir, "table2_")]
    status = read_status(task_dir)
    stores = _store_tags(status)
    if status is None and (task_dir / "records").is_dir():
        sec.missing.append(no_status_line("icdar13", task_dir))
    if not tables and not stores:
        sec.missing.append("icdar13: no results (run `python run_all.py --task icdar13 --preproc none cajnn "
                           "cajnn+down --data WORDS`)")
        return sec
    methods_run, icdar_run = set(), False
    for path in tables:
        tag = path.stem[len("table2_"):]
        stored = read_table(path.with_suffix(""))
        prov, summary = stored.provenance, stored.frame
        config = prov.get("config", {})
        methods_run |= set(summary["method"].astype(str))
        n_all = n_words(summary)
        icdar_run |= config.get("format") == "icdar" and n_all == n_paper
        for r in summary.to_dict("records"):
            if r.get("missing"):
                sec.missing.append(f"icdar13: {tag} {r['method']}: {int(r['missing'])} words not run "
                                   "(interrupted? re-run the same command to resume)")
        newest = max((m for _, m in stores.get(tag, {}).values()), default=0.0)
        if newest > path.stat().st_mtime + 1:
            sec.missing.append(f"icdar13: {tag}: some records are newer than {path.name}; re-run to rescore")
        sec.tables.append(Table(f"table2_{tag}", f"Table II: word recognition, {config.get('set', tag)}, "
                                f"{(config.get('recognizer') or {}).get('name', '?')}"
                                + (f", degraded {config['degradation']}" if config.get("degradation") else ""),
                                table2(summary, config),
                                [paper_reference(summary, config) or
                                 "Paper: TRBA on the 1095 ICDAR 2013 words, Table II (tasks/paper_values.json); "
                                 "its accuracies are 934, 939 and 937 of 1095 words.",
                                 "Fixed/broken and p compare each method with `none` on the same words (exact "
                                 "two-sided McNemar); p > 0.05 means the change is within chance.",
                                 f"Protocol: {config.get('protocol', '?')}."]))
        for r in summary.to_dict("records"):
            if _num(r.get("paired_n")) is not None:
                p = float(r["p_mcnemar"])
                sec.glance.append(f"Text ({tag}): {r['method']} vs none, {int(r['delta_words']):+d} words of "
                                  f"{int(r['paired_n'])} ({int(r['fixed'])} fixed, {int(r['broken'])} broken, McNemar "
                                  f"p = {p:.3g}: " + ("a real change)." if p < 0.05 else "within chance)."))
        if prov:
            sec.provenance.append(Provenance(f"icdar13 {tag}", prov))
        sec.add_figures(word_strips, task_dir, report_dir, tag)
    for tag, methods in sorted(stores.items()):
        if not (task_dir / f"table2_{tag}.json").is_file():
            counts = ", ".join(f"{m} {n}" for m, (n, _) in sorted(methods.items()))
            sec.missing.append(f"icdar13: {tag}: per-word records stored ({counts} words) but Table II was not "
                               "written (the run stopped before scoring); re-run the same command to finish")
    absent = [r["method"] for r in paper_values()["table2"]["rows"] if r["method"] not in methods_run]
    if absent:
        sec.missing.append("icdar13: paper rows not run: " + ", ".join(absent)
                           + f" (`--preproc {' '.join(['none'] + [m for m in absent if m != 'none'])}`)")
    if not icdar_run:
        sec.missing.append(f"icdar13: ICDAR 2013 ({n_paper} words) not run: its crops are not in the shared data "
                           "(REFERENCE.md section 3); bring your copy with `--data PATH`")
    return sec


def word_strips(task_dir: Path, report_dir: Path, tag: str) -> list[Figure]:
    """Return one strip per method: the words it fixed and broke vs `none`, with both predictions, from
    the task's `word_examples_<tag>.json` and its saved crops."""
    path = task_dir / f"word_examples_{tag}.json"
    if not path.is_file():
        return []
    import json

    saved = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for method, words in saved["methods"].items():
        tiles = [{"image": load_image(task_dir / w["crop"]), "color": "green" if w["kind"] == "fixed" else "red",
                  "title": f"{w['kind']} by {method}: {w['label']}",
                  "caption": f"none: {w['none']!r}\n{method}: {w['prediction']!r}"} for w in words]
        rel = Path("images") / f"text_{tag}_{slug(method, 10_000)}.png"
        figures.word_strip(tiles, report_dir / rel)
        out.append(Figure(rel, f"{tag}: words {method} fixed (green) and broke (red) compared with none, as the "
                               f"recogniser saw them without a restorer; first {saved['strip_words']} of each.", True))
    return out
