"""Train a restoration network on HR image folders with pairs degraded on the fly (one trainer for all).

    python -m preproc.train --config cpu_small --out /work/cajnn_train --threads 2
    python -m preproc.train --config paper --out runs/cajnn_paper --device cuda --workers 8
    torchrun --nproc_per_node 4 -m preproc.train --config paper --out runs/cajnn_paper --device cuda

A config (`preproc/configs/NAME.json`, or a path; `"base": OTHER` takes config OTHER's fields and replaces
those it names) names the model (`model.name` in MODELS, or `module:Class`, plus its constructor arguments),
the pair mode, the data and the schedule:

- pair mode `joint`: LR-JPEG -> HR (CAJNN); `car`: LR-JPEG -> clean LR (ARCNN, DnCNN); `sr`: clean
  LR -> HR (RRDBNet). LR = MATLAB bicubic x1/scale of the HR patch (`harness.degrade`), JPEG at a QF
  drawn uniformly from `qf` per patch; with `clean: P` a share P of the patches stays without JPEG; with
  `text: P` a share P gets a random synthetic word drawn on its HR patch first (`preproc.training.text`:
  matplotlib's fonts, 16-72 HR px high, i.e. word-crop sizes in LR; no text test data).
- Patches: an `hr_patch` px HR crop at a position that is a multiple of `scale`, one of the 8 dihedral
  transforms, then degraded **as a patch** (the JPEG 8x8 grid is aligned to the patch, not the image;
  cheaper than degrading whole images, and it varies the grid phase). With `context: C` (HR px) the
  crop is degraded inside up to C px of its surrounding image and then cut out, so its LR pixels are
  those of a degraded whole image, as in evaluation, instead of being resized from mirrored patch
  borders. Training images are held in RAM; images smaller than the patch are skipped.
- L1 loss, Adam(0.9, 0.99), cosine annealing from `lr` to `eta_min` restarted after each of `periods`
  (the last period repeats), validation Y-PSNR on the first `val_images` images of `val_folder`
  (excluded from training) at the QFs `val_qf` (null: without JPEG, logged as "clean").
- Speed and averaging: `precision: "bf16"` runs the forward under bf16 autocast (fp32 master weights, loss
  and Adam; validation and export in fp32): 3.2x the fp32 channels_last step of the paper configuration
  on this CPU (avx512_bf16; `benchmarks/train_step.py`). `ema: D` keeps an exponential moving average of
  the weights (decay min(D, (1 + n) / (10 + n)) after n updates); the average is what is validated, kept
  as `best.pth` and exported. `warmup: N` ramps the lr linearly over N iterations whenever the optimizer
  starts fresh (from scratch or `--init` weights, not on a resume). On CPU the trainer uses one thread
  unless `--threads` says otherwise: beside any other busy process a 2-thread run goes at ~0.2x.

Batch i is drawn from a generator seeded by (seed, rank, i), so it is the same whether the training
process makes it or `--workers N` loader processes do (use them on a GPU, where one process cannot
degrade patches as fast as the GPU trains), and the same after a resume.

The output folder holds `last.pth` (model, optimizer, iteration: an interrupted run resumes exactly),
`best.pth` (weights with the best validation PSNR, in the shippable format
`{"params", "config", "iterations", ...}`) and `log.jsonl` (the curve); with `snapshots: true` also each
validation's weights as `val_<iteration>.pth`, the ingredients `python -m preproc.soup` averages. Without `last.pth`, `--init`
(or the config's `init`) starts from existing weights, or from a pretrained model by name:
`realesrgan-x4plus` loads Real-ESRGAN x4plus into an RRDBNet as it is, or maps it into CAJNN
(`preproc.transfer.cajnn_from_rrdbnet`; the mapped, unmapped and new tensors go to the log). With
`init_fit: N` the CAJNN glue (conv_up1, conv_last) is then refitted by least squares on N training batches
(`preproc.transfer.fit_cajnn_glue`). A config's `val_at` lists extra validation iterations (0: the starting weights). `--max-minutes M` ends a run cleanly after M
minutes (for a lease on a borrowed GPU); SIGTERM or Ctrl-C does the same at once. Under torchrun
(WORLD_SIZE > 1) the model is wrapped in DistributedDataParallel; each rank draws `batch / world_size`
patches with its own seed, and rank 0 validates, logs and checkpoints.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from harness.errors import HarnessError
from preproc.training.config import TrainConfig
from preproc.training.export import export_weights, model_card
from preproc.training.loop import train


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m preproc.train", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="config name in preproc/configs/ or a JSON path")
    parser.add_argument("--out", required=True, help="output folder (checkpoint, best weights, log)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--iterations", type=int, default=None, help="override the config's total")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes that make training batches (0: the training process; try 8 on a GPU)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop cleanly (checkpoint written) after this many minutes of this run")
    parser.add_argument("--init", default=None, help="weights to start from when OUT has no checkpoint")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--export", metavar="DEST", default=None,
                        help="do not train: copy OUT/best.pth to DEST (e.g. preproc/weights/cajnn_small.pth)")
    parser.add_argument("--fp16", action="store_true", help="with --export: store the weights as fp16")
    parser.add_argument("--card-table", metavar="CSV", default=None,
                        help="with --export DEST: write DEST's model card (.md) from this quality table1.csv "
                             "instead of exporting (--config: the config its 'continue' commands name)")
    parser.add_argument("--card-command", default=None,
                        help="the command the model card says made its table (default: the quality task on Set5 "
                             "and Set14 with --weights cajnn=DEST)")
    parser.add_argument("--card-note", default="", help="an extra line for the model card (with --export alone: a note stored in the weights file)")
    args = parser.parse_args(argv)
    try:
        if args.export and args.card_table:
            from harness.store import atomic_write_text
            card = Path(args.export).with_suffix(".md")
            command = args.card_command or (
                f"python run_all.py --task quality --preproc bicubic cajnn --weights cajnn={args.export} "
                "--data ../shared/data/sr/Set5 ../shared/data/sr/Set14 --qf 10 20 40 --out /tmp/cajnn_eval")
            atomic_write_text(card, model_card(args.export, args.card_table, args.out, command,
                                              args.card_note, continue_config=args.config))
            print(f"wrote {card}")
            return
        if args.export:
            print(json.dumps(export_weights(args.out, args.export, half=args.fp16, note=args.card_note),
                             default=str))
            return
        config = TrainConfig.load(args.config)
        if args.device.startswith("cuda") and not torch.cuda.is_available():
            raise HarnessError("--device cuda: no CUDA device is available")
        summary = train(config, args.out, device=args.device, threads=args.threads,
                        iterations=args.iterations, init=args.init, quiet=args.quiet,
                        workers=args.workers, max_minutes=args.max_minutes)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps(summary))



if __name__ == "__main__":
    main()

