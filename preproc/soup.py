"""Weight averaging ("model soup") of fine-tuned checkpoints that share an ancestor.

Wortsman et al., "Model soups: averaging weights of multiple fine-tuned models improves accuracy without
increasing inference time" (ICML 2022): runs fine-tuned from the same weights stay in one basin of the loss,
so the plain average of their weights is a network of the same size that is often better than each of them.
Averaging only makes sense for such runs (here: the EMA snapshots, `snapshots: true`, and `best.pth` files of
`preproc.train` runs initialised from the same file); the averaged network costs nothing extra at inference.

    python -m preproc.soup OUT SRC [SRC ...] [--greedy CONFIG] [--fp16] [--threads N]

SRC is a shippable weights file (`{"params": ...}`, e.g. `best.pth`, `val_004000.pth` or a file in
preproc/weights/) or a trainer's `last.pth` (its EMA weights when it keeps one). Without `--greedy` OUT is
the uniform average of all SRC. With `--greedy CONFIG` each SRC is first scored alone on the validation
images of the training config CONFIG (its `val_folder`, `val_images`, `val_qf`: the mean Y-PSNR the trainer
selects by; the score a trainer stored in the file is used when its run validated the same way),
then the paper's greedy soup is built: start from the best, add each next-best ingredient
when the average with it scores at least as well as without it. OUT records every ingredient (path,
sha256, iteration, run) and the scores, so the file says how it was made.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from harness.errors import HarnessError
from harness.store import file_sha256
from preproc.checkpoints import read_checkpoint

MODEL_KEYS = ("config", "model_name", "pair")  # metadata that must agree between ingredients


def read_ingredient(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Return (state dict, metadata) of the weights file or trainer checkpoint at `path`."""
    obj = read_checkpoint(path, "soup ingredient")
    if isinstance(obj, dict) and isinstance(obj.get("params"), dict):
        return dict(obj["params"]), {k: v for k, v in obj.items() if k != "params"}
    if isinstance(obj, dict) and "optimizer" in obj and isinstance(obj.get("config"), dict):
        from preproc.training.config import TrainConfig

        config = TrainConfig(**obj["config"])
        state = obj.get("ema") or obj["model"]  # AveragedModel keys: "module.<name>" and "n_averaged"
        params = {k.removeprefix("module."): v for k, v in state.items() if k != "n_averaged"}
        meta = {"config": {k: v for k, v in config.model.items() if k != "name"},
                "model_name": config.model["name"], "pair": config.pair, "iterations": obj["iteration"],
                "train_config": config.name, "weights": "ema" if obj.get("ema") else "model"}
        return params, meta
    raise HarnessError(f"soup ingredient {path}: neither a weights file with 'params' nor a trainer's last.pth")


def average(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Return the element-wise mean of `states` (same keys and shapes; accumulated in float64, returned as
    float32). Integer tensors (counters, if any) must be equal and are copied."""
    if not states:
        raise HarnessError("soup: nothing to average")
    keys = list(states[0])
    result = {}
    for i, state in enumerate(states[1:], 1):
        if set(state) != set(keys):
            diff = sorted(set(state) ^ set(keys))[:4]
            raise HarnessError(f"soup: ingredient {i} has other tensors than ingredient 0 (e.g. {diff})")
    for key in keys:
        tensors = [state[key] for state in states]
        if any(t.shape != tensors[0].shape for t in tensors):
            raise HarnessError(f"soup: {key} has shapes {[tuple(t.shape) for t in tensors]}")
        if tensors[0].is_floating_point():
            result[key] = (sum(t.double() for t in tensors) / len(tensors)).float()
        elif all(torch.equal(t, tensors[0]) for t in tensors):
            result[key] = tensors[0].clone()
        else:
            raise HarnessError(f"soup: the integer tensor {key} differs between ingredients")
    return result


def greedy_soup(states: list[dict[str, torch.Tensor]], score: Callable[[dict[str, torch.Tensor]], float],
                known: list[float | None] | None = None,
                on_step: Callable[[dict], None] | None = None) -> tuple[list[int], list[dict]]:
    """Wortsman et al.'s greedy soup: return (indices of the chosen ingredients, the log of every score).

    Ingredients are ranked by `score` alone (higher is better; `known[i]`, when not None, is ingredient i's
    score already measured, e.g. by the trainer); starting from the best, each next one joins when the
    average with it scores at least the soup's score without it. `on_step` sees each log entry as it is made."""
    known = known or [None] * len(states)
    log = []

    def record(entry: dict) -> None:
        log.append(entry)
        if on_step:
            on_step(entry)

    for i, state in enumerate(states):
        record({"step": "alone", "ingredient": i, "score": score(state) if known[i] is None else known[i],
                **({"stored": True} if known[i] is not None else {})})
    order = sorted(range(len(states)), key=lambda i: -log[i]["score"])
    chosen, best = [order[0]], log[order[0]]["score"]
    for i in order[1:]:
        value = score(average([states[j] for j in chosen + [i]]))
        record({"step": "try", "ingredient": i, "with": list(chosen), "score": value, "kept": value >= best})
        if value >= best:
            chosen.append(i)
            best = value
    return chosen, log


def _validation_setting(config) -> tuple:
    from preproc.training.config import _resolve_path

    return (str(_resolve_path(config.val_folder).resolve()), config.val_images, list(config.val_qf), config.pair,
            config.scale)


def stored_score(meta: dict, config_name: str) -> float | None:
    """The validation mean the trainer stored in an ingredient (`val_psnr`), when the run that stored it
    validated exactly as the config `config_name` does (same images, QFs, pair mode and scale); else None."""
    from preproc.training.config import TrainConfig

    stored = meta.get("val_psnr")
    if not isinstance(stored, dict) or "mean" not in stored or not meta.get("train_config"):
        return None
    try:
        run, target = TrainConfig.load(meta["train_config"]), TrainConfig.load(config_name)
    except HarnessError:  # the run's config is not in preproc/configs/: score it here
        return None
    if _validation_setting(run) != _validation_setting(target):
        return None
    return float(stored["mean"])


def validation_scorer(config_name: str, meta: dict) -> tuple[Callable, Callable]:
    """Return (score, scores): the mean and the per-condition validation Y-PSNR of a state dict, for the
    network `meta` describes, on the validation images of the training config `config_name`."""
    from preproc.checkpoints import load_weights
    from preproc.training.config import TrainConfig, build_model
    from preproc.training.loop import Validator, validation_images

    config = TrainConfig.load(config_name)
    images = validation_images(config)
    if not images:
        raise HarnessError(f"training config {config_name!r} has no validation images (val_images 0)")
    validator = Validator(images, config)
    model = build_model({"name": meta.get("model_name", "cajnn"), **meta.get("config", {})})
    device = torch.device("cpu")

    def scores(state: dict[str, torch.Tensor]) -> dict[str, float]:
        load_weights(model, state, what="soup")
        return validator(model, device)

    return (lambda state: scores(state)["mean"]), scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preproc.soup", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the averaged weights file to write")
    parser.add_argument("sources", nargs="+", help="weights files or trainer last.pth files (same network)")
    parser.add_argument("--greedy", metavar="CONFIG",
                        help="build a greedy soup scored on this training config's validation images")
    parser.add_argument("--fp16", action="store_true", help="store the tensors as fp16 (committed files)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for --greedy (default 1)")
    args = parser.parse_args(argv)
    try:
        from preproc.training.export import save_weights

        torch.set_num_threads(args.threads)
        torch.set_flush_denormal(True)
        states, metas = zip(*(read_ingredient(p) for p in args.sources))
        for path, meta in zip(args.sources[1:], metas[1:]):
            differs = [k for k in MODEL_KEYS if meta.get(k) != metas[0].get(k)]
            if differs:
                raise HarnessError(f"soup: {path} is another network than {args.sources[0]} ({', '.join(differs)})")
        ingredients = [{"path": str(p), "sha256": file_sha256(p), "iterations": m.get("iterations"),
                        "train_config": m.get("train_config")} for p, m in zip(args.sources, metas)]
        obj = {k: metas[0][k] for k in MODEL_KEYS if k in metas[0]}
        if args.greedy:
            score, scores = validation_scorer(args.greedy, metas[0])
            known = [stored_score(m, args.greedy) for m in metas]

            def show(entry: dict) -> None:  # one line per score, as it comes (each takes minutes on a CPU)
                name = args.sources[entry["ingredient"]]
                kept = (" (stored by the trainer)" if entry.get("stored") else "") if entry["step"] == "alone" \
                    else (" kept" if entry["kept"] else " dropped")
                print(f"{entry['step']:5s} {name}: validation mean {entry['score']:.4f} dB{kept}", flush=True)

            chosen, log = greedy_soup(list(states), score, known, on_step=show)
            params = average([states[i] for i in chosen])
            obj["val_psnr"] = scores(params)
            obj["soup"] = {"method": f"greedy on the validation images of {args.greedy}",
                           "ingredients": ingredients, "chosen": chosen, "log": log}
        else:
            chosen = list(range(len(states)))
            params = average(list(states))
            obj["soup"] = {"method": "uniform", "ingredients": ingredients, "chosen": chosen}
        obj["params"] = params
        obj["iterations"] = max(int(metas[i].get("iterations") or 0) for i in chosen)
        obj["train_config"] = " + ".join(sorted({str(metas[i].get("train_config")) for i in chosen}))
        save_weights(obj, args.out, half=args.fp16)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: average of {len(chosen)} of {len(states)} ingredients "
          f"({', '.join(Path(args.sources[i]).name for i in chosen)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
