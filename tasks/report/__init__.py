"""The report: one Markdown file and one self-contained web page built from the results the tasks stored.

    python run_all.py --report results        # writes results/report/{index.html,report.md}
    python -m tasks.report results            # the same, without run_all's argument parsing

`build.build_report(out_dir)` reads every task's stored results (tables, per-item records, example
crops), puts them beside the paper's numbers (`tasks/paper_values.json`), draws the pictures, and says
what is missing. It recomputes no model output.
"""
