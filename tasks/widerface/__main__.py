"""`python -m tasks.widerface evaluate PRED_DIR --gt DIR [--subset LIST]`: score any detector's
WIDER FACE submission folder with the official protocol (REFERENCE.md section 5)."""
from __future__ import annotations

from harness.cli import ArgumentParser, run_command
from tasks.widerface import evaluation as ev
from tasks.widerface.groundtruth import SETTINGS, load_ground_truth
from tasks.widerface.submission import read_subset_list


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m tasks.widerface", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    evaluate = sub.add_parser("evaluate", help="AP easy/medium/hard of a submission folder")
    evaluate.add_argument("pred_dir", help="submission folder: <event>/<name>.txt per image")
    evaluate.add_argument("--gt", required=True,
                          help="WIDER FACE root or its eval_tools/ground_truth folder (wider_*_val.mat)")
    evaluate.add_argument("--subset", default=None, metavar="LIST",
                          help="file listing '<event>/<name>.jpg' per line: evaluate only these images "
                               "(and only their faces); each must have a prediction file")
    evaluate.add_argument("--pr-csv", default=None, metavar="PATH",
                          help="also write the PR curves (threshold, precision/recall per setting) as CSV")
    return parser


def evaluate_command(args) -> int:
    gt = load_ground_truth(args.gt)
    subset = read_subset_list(args.subset) if args.subset else None
    aps, curves, sub, used = ev.evaluate_folder(args.pred_dir, gt, subset)
    faces = used.face_counts()
    if subset is None:
        print(f"images: all {used.num_images} of the ground truth ({len(sub.missing)} without a prediction "
              f"file, counted as empty)")
    else:
        print(f"images: subset of {used.num_images} of {gt.num_images} (only their faces count; "
              f"not comparable to full-val numbers)")
    print(f"predictions: {len(sub.scores)} boxes")
    for setting in SETTINGS:
        print(f"{setting:6s} AP {aps[setting]:.6f}  (kept faces {int(faces[setting].sum())})")
    if args.pr_csv:
        import pandas as pd

        from harness.store import atomic_write_text

        table = {"threshold": ev.THRESHOLDS}
        for s in SETTINGS:
            table[f"{s}_precision"] = curves.precision[s]
            table[f"{s}_recall"] = curves.recall[s]
        atomic_write_text(args.pr_csv, pd.DataFrame(table).to_csv(index=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return evaluate_command(args)


if __name__ == "__main__":
    run_command(main, "python -m tasks.widerface")
