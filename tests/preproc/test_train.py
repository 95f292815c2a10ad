"""The trainer: schedule, pairs, augmentation, and an end-to-end smoke run with exact resume."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from harness.errors import HarnessError
from preproc.training.config import TrainConfig
from harness.degrade import modcrop
from harness.image import list_images, load_image
from harness.metrics import psnr_y
from harness.resize import imresize
from preproc.training.data import (PatchSampler, batch_loader, dihedral, load_folder_images, make_pair,
                                   pair_in_context, to_image)
from preproc.training.loop import lr_at, train


def test_cosine_schedule_with_restarts():
    cfg = TrainConfig(lr=2e-4, eta_min=1e-7, periods=[100, 200])
    assert lr_at(0, cfg) == pytest.approx(2e-4)
    assert lr_at(50, cfg) == pytest.approx((2e-4 + 1e-7) / 2)
    assert lr_at(100, cfg) == pytest.approx(2e-4)  # restart
    assert lr_at(200, cfg) == pytest.approx(1e-7 + 0.5 * (2e-4 - 1e-7) * (1 + math.cos(math.pi / 2)))
    assert lr_at(300, cfg) == pytest.approx(2e-4)  # the last period repeats


def test_paper_config_is_the_papers():
    cfg = TrainConfig.load("paper")
    assert (cfg.batch, cfg.iterations, cfg.lr, cfg.eta_min) == (36, 1_000_000, 2e-4, 1e-7)
    assert cfg.periods == [250_000] * 4 and cfg.hr_patch == 128 and cfg.qf == [10, 100]
    assert cfg.model == {"name": "cajnn", "nf": 64, "gc": 32, "nb": 20}


def test_bad_config_names_the_problem(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"pair": "joint", "learning_rate": 1}))
    with pytest.raises(HarnessError, match="learning_rate"):
        TrainConfig.load(str(path))
    with pytest.raises(HarnessError, match="not found"):
        TrainConfig.load("no_such_config")


def test_pair_modes_sizes():
    hr = np.random.default_rng(0).integers(0, 256, (34, 40, 3), dtype=np.uint8)
    for mode, (ishape, tshape) in {"joint": ((8, 10), (32, 40)), "car": ((8, 10), (8, 10)),
                                   "sr": ((8, 10), (32, 40))}.items():
        inp, tgt = make_pair(hr, mode, 4, 20)
        assert inp.shape[:2] == ishape and tgt.shape[:2] == tshape


def test_eight_distinct_dihedral_transforms():
    img = np.arange(2 * 3 * 1).reshape(2, 3, 1)
    assert len({dihedral(img, k).tobytes() + bytes(dihedral(img, k).shape) for k in range(8)}) == 8


def _write_images(folder, n, seed):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        base = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(base).resize((40, 44), Image.BICUBIC).save(folder / f"img{i}.png")


def _tiny_config(tmp_path) -> TrainConfig:
    _write_images(tmp_path / "train", 3, 0)
    _write_images(tmp_path / "val", 1, 1)
    return TrainConfig(name="tiny", model={"name": "cajnn", "nf": 8, "gc": 4, "nb": 1}, pair="joint",
                       train_folders=[str(tmp_path / "train")], val_folder=str(tmp_path / "val"),
                       val_images=1, val_qf=[20], hr_patch=32, batch=2, iterations=6, lr=1e-3,
                       eta_min=1e-5, periods=[4], log_every=1, val_every=2, checkpoint_every=2, seed=3)


def test_smoke_training_resumes_exactly(tmp_path):
    cfg = _tiny_config(tmp_path)
    straight = train(cfg, tmp_path / "straight", threads=1, iterations=6, quiet=True)
    assert straight["iteration"] == 6
    first = train(cfg, tmp_path / "resumed", threads=1, iterations=4, quiet=True)
    assert first["iteration"] == 4
    ckpt = torch.load(tmp_path / "resumed" / "last.pth", weights_only=False)
    assert ckpt["iteration"] == 4
    steps = {int(s["step"]) for s in ckpt["optimizer"]["state"].values()}
    assert steps == {4}
    second = train(cfg, tmp_path / "resumed", threads=1, iterations=6, quiet=True)
    assert second["iteration"] == 6
    ckpt = torch.load(tmp_path / "resumed" / "last.pth", weights_only=False)
    assert {int(s["step"]) for s in ckpt["optimizer"]["state"].values()} == {6}
    # Same loss curve and same weights as the uninterrupted run.
    def losses(run):
        lines = (tmp_path / run / "log.jsonl").read_text().splitlines()
        return [(e["iter"], e["loss"]) for e in map(json.loads, lines) if "loss" in e]
    assert [i for i, _ in losses("resumed")] == [1, 2, 3, 4, 5, 6]
    assert np.allclose([l for _, l in losses("resumed")], [l for _, l in losses("straight")], atol=1e-6)
    ref = torch.load(tmp_path / "straight" / "last.pth", weights_only=False)["model"]
    for key, value in ckpt["model"].items():
        assert torch.allclose(value, ref[key], atol=1e-6), key
    # The best weights are in the shippable format and load into the preprocessor's loader.
    from preproc.cajnn import load_cajnn
    model, meta = load_cajnn(tmp_path / "resumed" / "best.pth")
    assert meta["config"] == {"nf": 8, "gc": 4, "nb": 1}


def test_batches_do_not_depend_on_loader_workers(tmp_path):
    cfg = _tiny_config(tmp_path)
    images = [img for _, img in load_folder_images(cfg.train_folders)]
    sampler = PatchSampler(images, cfg, seed=5, batch=2)
    direct = [sampler[i] for i in range(3, 7)]
    loaded = list(batch_loader(sampler, 3, 7, workers=2, pin_memory=False))
    assert len(loaded) == 4
    for (a_in, a_tgt), (b_in, b_tgt) in zip(direct, loaded):
        assert torch.equal(a_in, b_in) and torch.equal(a_tgt, b_tgt)
    assert not torch.equal(direct[0][0], direct[1][0])  # batches differ from one another
    assert direct[0][0].shape == (2, 3, 8, 8) and direct[0][1].shape == (2, 3, 32, 32)


def test_max_minutes_stops_with_a_checkpoint(tmp_path):
    cfg = _tiny_config(tmp_path)
    out = train(cfg, tmp_path / "run", threads=1, iterations=6, quiet=True, max_minutes=0)
    assert out["iteration"] == 0
    assert torch.load(tmp_path / "run" / "last.pth", weights_only=False)["iteration"] == 0


def test_init_from_weights_when_no_checkpoint(tmp_path):
    cfg = _tiny_config(tmp_path)
    train(cfg, tmp_path / "a", threads=1, iterations=2, quiet=True)
    out = train(cfg, tmp_path / "b", threads=1, iterations=3, init=str(tmp_path / "a" / "best.pth"),
                quiet=True)
    # best.pth of run a was written at iteration 2; run b continues the count from there.
    assert out["iteration"] == 3


def test_a_missing_init_file_is_an_error_not_a_fresh_start(tmp_path):
    cfg = _tiny_config(tmp_path)
    with pytest.raises(HarnessError, match="no-such.pth'.*no such file.*realesrgan-x4plus"):
        train(cfg, tmp_path / "a", threads=1, iterations=1, init=str(tmp_path / "no-such.pth"), quiet=True)


def test_export_writes_loadable_weights(tmp_path):
    from preproc.cajnn import load_cajnn
    from preproc.training.export import export_weights

    cfg = _tiny_config(tmp_path)
    train(cfg, tmp_path / "run", threads=1, iterations=2, quiet=True)
    meta = export_weights(tmp_path / "run", tmp_path / "cajnn_tiny.pth")
    assert meta["iterations"] == 2 and "machine" in meta
    model, info = load_cajnn(tmp_path / "cajnn_tiny.pth")
    assert info["config"] == {"nf": 8, "gc": 4, "nb": 1} and info["iterations"] == 2
    (tmp_path / "run" / "best.pth").unlink()  # falls back to last.pth's weights
    assert export_weights(tmp_path / "run", tmp_path / "from_last.pth")["iterations"] == 2
    with pytest.raises(HarnessError, match="best.pth"):
        export_weights(tmp_path / "empty", tmp_path / "x.pth")
    # fp16 export: half the bytes, the same weights to fp16 rounding once loaded (into fp32).
    export_weights(tmp_path / "run", tmp_path / "half.pth", half=True, note="a checkpoint")
    full, _ = load_cajnn(tmp_path / "from_last.pth")
    half, info = load_cajnn(tmp_path / "half.pth")
    assert info["note"] == "a checkpoint"
    assert all(p.dtype == torch.float32 for p in half.parameters())
    for a, b in zip(full.parameters(), half.parameters()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("k", range(8))
def test_context_pairs_are_crops_of_a_degraded_whole_image(k):
    # With enough context, the LR patch equals the same crop of the whole (transformed) image degraded,
    # for every dihedral transform; the HR target is the transformed crop itself.
    img = np.random.default_rng(k).integers(0, 256, (96, 120, 3), dtype=np.uint8)
    cfg = TrainConfig(pair="sr", scale=4, hr_patch=32, context=24)
    y, x, patch = 40, 44, 32
    inp, tgt = pair_in_context(img, y, x, patch, cfg, k, quality=90)
    assert np.array_equal(tgt, dihedral(img[y:y + patch, x:x + patch], k))
    whole_lr, _ = make_pair(dihedral(img, k), "sr", 4, 90)
    marked = np.zeros(img.shape[:2], bool)
    marked[y:y + patch, x:x + patch] = True
    rows, cols = np.nonzero(dihedral(marked[..., None], k)[..., 0])
    top, left = rows.min() // 4, cols.min() // 4
    assert np.array_equal(inp, whole_lr[top:top + 8, left:left + 8])
    # Without context the patch's borders are resized from mirrored pixels, so they differ.
    plain, _ = make_pair(dihedral(img[y:y + patch, x:x + patch], k), "sr", 4, 90)
    assert not np.array_equal(plain, inp)


def test_context_pairs_at_the_image_border_keep_their_size():
    img = np.random.default_rng(9).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for pair in ("joint", "car", "sr"):
        cfg = TrainConfig(pair=pair, scale=4, hr_patch=32, context=16)
        inp, tgt = pair_in_context(img, 0, 32, 32, cfg, 5, quality=30)
        assert inp.shape == (8, 8, 3)
        assert tgt.shape == ((8, 8, 3) if pair == "car" else (32, 32, 3))


def test_context_must_be_a_multiple_of_the_scale():
    with pytest.raises(HarnessError, match="context"):
        TrainConfig(context=6).validate()


def _logged(out_dir, key):
    lines = (out_dir / "log.jsonl").read_text().splitlines()
    return [(e["iter"], e[key]) for e in map(json.loads, lines) if key in e]


def test_lr_warms_up_linearly_after_a_fresh_optimizer(tmp_path):
    cfg = _tiny_config(tmp_path)
    cfg.warmup, cfg.periods = 4, [10 ** 6]  # a flat cosine: lr_at is cfg.lr to 1e-9 relative
    train(cfg, tmp_path / "a", threads=1, iterations=2, quiet=True)
    # Log entry k holds the lr of the step that made iteration k: k / 4 of the schedule's lr, then all of it.
    assert [lr / cfg.lr for _, lr in _logged(tmp_path / "a", "lr")] == pytest.approx([0.25, 0.5])
    train(cfg, tmp_path / "a", threads=1, iterations=6, quiet=True)  # resumed: the ramp goes on, not anew
    assert [lr / cfg.lr for _, lr in _logged(tmp_path / "a", "lr")] == pytest.approx([0.25, 0.5, 0.75, 1, 1, 1])
    # From weights with a fresh optimizer it warms up again, from the iteration the weights were saved at.
    start = torch.load(tmp_path / "a" / "best.pth", weights_only=False)["iterations"]
    train(cfg, tmp_path / "b", threads=1, iterations=start + 2, init=str(tmp_path / "a" / "best.pth"), quiet=True)
    assert [i for i, _ in _logged(tmp_path / "b", "lr")] == [start + 1, start + 2]
    assert [lr / cfg.lr for _, lr in _logged(tmp_path / "b", "lr")] == pytest.approx([0.25, 0.5])


def test_ema_update_by_hand():
    from preproc.training.loop import _ema_update
    update = _ema_update(0.5)
    averaged, current = [torch.tensor([0.0])], [torch.tensor([1.0])]
    update(averaged, current, torch.tensor(1))  # decay min(0.5, 2/11): 0 + (1 - 2/11) * (1 - 0)
    assert averaged[0].item() == pytest.approx(9 / 11)
    update(averaged, current := [torch.tensor([3.0])], torch.tensor(20))  # decay min(0.5, 21/30) = 0.5
    assert averaged[0].item() == pytest.approx(0.5 * 9 / 11 + 0.5 * 3)


def test_ema_weights_are_validated_exported_and_resume_exactly(tmp_path):
    cfg = _tiny_config(tmp_path)
    cfg.ema, cfg.val_every = 0.9, 6
    train(cfg, tmp_path / "straight", threads=1, iterations=6, quiet=True)
    train(cfg, tmp_path / "resumed", threads=1, iterations=3, quiet=True)
    train(cfg, tmp_path / "resumed", threads=1, iterations=6, quiet=True)
    straight = torch.load(tmp_path / "straight" / "last.pth", weights_only=False)
    resumed = torch.load(tmp_path / "resumed" / "last.pth", weights_only=False)
    for key, value in straight["ema"].items():
        assert torch.allclose(value.float(), resumed["ema"][key].float(), atol=1e-6), key
    # best.pth (validated at iteration 6) holds the average, not the trained weights.
    best = torch.load(tmp_path / "straight" / "best.pth", weights_only=False)["params"]
    ema = {k.removeprefix("module."): v for k, v in straight["ema"].items() if k.startswith("module.")}
    assert all(torch.equal(best[k], ema[k]) for k in best)
    assert any(not torch.equal(best[k], straight["model"][k]) for k in best)
    assert [w for _, w in _logged(tmp_path / "straight", "weights")] == ["ema"]


def test_bf16_training_follows_fp32(tmp_path):
    cfg = _tiny_config(tmp_path)
    train(cfg, tmp_path / "fp32", threads=1, iterations=4, quiet=True)
    cfg.precision = "bf16"
    train(cfg, tmp_path / "bf16", threads=1, iterations=4, quiet=True)
    fp32, bf16 = (np.array([loss for _, loss in _logged(tmp_path / run, "loss")]) for run in ("fp32", "bf16"))
    assert len(bf16) == 4 and np.all(np.abs(bf16 / fp32 - 1) < 0.02)  # same batches, bf16 rounding only
    master = torch.load(tmp_path / "bf16" / "last.pth", weights_only=False)["model"]
    assert all(v.dtype == torch.float32 for v in master.values())  # the weights stay fp32


@pytest.mark.parametrize("field, value", [("precision", "fp16"), ("ema", 1.0), ("warmup", -1), ("clean", 1.5),
                                          ("val_qf", [20, 0]), ("val_qf", ["clean"])])
def test_bad_precision_ema_warmup_are_refused(tmp_path, field, value):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({field: value}))
    with pytest.raises(HarnessError, match=field):
        TrainConfig.load(str(path))


def test_quality_none_is_the_lr_image_without_jpeg():
    hr = np.random.default_rng(1).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    lr = imresize(hr, 0.25)
    for mode, target in {"joint": hr, "car": lr}.items():
        inp, tgt = make_pair(hr, mode, 4, None)
        assert np.array_equal(inp, lr) and np.array_equal(tgt, target)
    assert not np.array_equal(make_pair(hr, "joint", 4, 90)[0], lr)  # any JPEG changes the pixels


def test_clean_share_of_training_patches(tmp_path):
    cfg = _tiny_config(tmp_path)
    images = [img for _, img in load_folder_images(cfg.train_folders)]

    def clean_count(share):  # patches of 40 batches whose input is exactly the bicubic LR of the target
        cfg.clean = share
        sampler = PatchSampler(images, cfg, seed=0, batch=2)
        batches = [sampler[i] for i in range(40)]
        return sum(np.array_equal(to_image(inp[j:j + 1]), imresize(to_image(tgt[j:j + 1]), 0.25))
                   for inp, tgt in batches for j in range(2))

    assert clean_count(0.0) == 0
    assert clean_count(1.0) == 80
    assert 20 <= clean_count(0.5) <= 60  # binomial(80, 0.5): outside this with probability < 1e-4


def test_validation_without_jpeg_is_logged_as_clean(tmp_path):
    cfg = _tiny_config(tmp_path)
    cfg.val_qf, cfg.iterations = [None, 20], 2
    train(cfg, tmp_path / "run", threads=1, iterations=2, quiet=True)
    entry = [e for e in map(json.loads, (tmp_path / "run" / "log.jsonl").read_text().splitlines())
             if "val_psnr" in e][-1]
    assert set(entry["val_gain"]) == {"clean", "q20"}
    hr = modcrop(load_image(next(iter(list_images(tmp_path / "val")))), 4)
    bicubic = psnr_y(imresize(imresize(hr, 0.25), 4), hr)  # the clean baseline, by hand
    assert entry["val_psnr"]["clean"] - entry["val_gain"]["clean"] == pytest.approx(bicubic, abs=1e-9)
    assert entry["val_psnr"]["mean"] == pytest.approx((entry["val_psnr"]["clean"] + entry["val_psnr"]["q20"]) / 2)


def test_a_config_can_name_a_base_and_replace_some_fields(tmp_path):
    child = TrainConfig.load("paper_ft_text40")
    parent = TrainConfig.load("paper_ft_mixed_patch40")
    assert (child.name, child.text, parent.text) == ("paper_ft_text40", 0.3, 0.0)
    assert {**vars(child), "name": 0, "text": 0} == {**vars(parent), "name": 0, "text": 0}
    (tmp_path / "a.json").write_text(json.dumps({"base": str(tmp_path / "b.json")}))
    (tmp_path / "b.json").write_text(json.dumps({"base": str(tmp_path / "a.json")}))
    with pytest.raises(HarnessError, match="comes back to itself"):
        TrainConfig.load(str(tmp_path / "a.json"))
    (tmp_path / "c.json").write_text(json.dumps({"base": "paper_ft_mixed_patch40", "colour": 1}))
    with pytest.raises(HarnessError, match="unknown config keys"):
        TrainConfig.load(str(tmp_path / "c.json"))


def test_recipe_line_says_what_the_config_trains_on():
    from preproc.training.export import describe_recipe

    # Every figure below read by hand from preproc/configs/paper_ft_mixed_patch40.json.
    line = describe_recipe(TrainConfig.load("paper_ft_mixed_patch40"))
    for fragment in ("`../shared/data/train/T91` + `../shared/data/train/BSD200` + `../extra_train/BSDS500_test`",
                     "the first 10 images of `../shared/data/train/BSD200` held out",
                     "160 px HR patches", "MATLAB bicubic x1/4", "20% of the patches without JPEG",
                     "QF uniform in 10..100", "32 px of surrounding image", "batch 8", "Adam(0.9, 0.99)",
                     "cosine from 5e-05 to 1e-06 restarted after [3500, 2500]", "100 iterations of lr warm-up",
                     "bf16", "EMA of the weights (0.999)"):
        assert fragment in line, fragment
    assert "synthetic word" not in line
    assert "30% of the HR patches" in describe_recipe(TrainConfig.load("paper_ft_text40"))


def test_model_card_from_a_run(tmp_path):
    from preproc.training.export import export_weights, model_card

    cfg = _tiny_config(tmp_path)
    train(cfg, tmp_path / "run", threads=1, iterations=2, quiet=True)
    export_weights(tmp_path / "run", tmp_path / "tiny.pth")
    table = tmp_path / "table1.csv"
    table.write_text("set,qf,method,psnr,ssim\nSet5,40,bicubic,27.00,0.7700\nSet5,40,tiny,27.50,0.7800\n"
                     "Set5,10,bicubic,23.99,0.6329\nSet5,10,tiny,24.10,0.6400\n")
    card = model_card(tmp_path / "tiny.pth", table, tmp_path / "run", "CMD")
    # The recipe comes from the weights file (the tiny config is in no configs folder).
    assert "32 px HR patches" in card and "batch 2" in card and "JPEG QF uniform in 10..100" in card
    # The paper's CAJNN at QF 40 on Set5 (Table I, REFERENCE.md section 2: 28.05 / 0.7981); none at QF 10.
    assert "| Set5 | 40 | 27.00 / 0.7700 | 27.50 / 0.7800 | +0.50 | 28.05 / 0.7981 |" in card
    assert "| Set5 | 10 | 23.99 / 0.6329 | 24.10 / 0.6400 | +0.11 | - |" in card
    assert "--threads 1" in card and "Measured with `CMD`" in card
