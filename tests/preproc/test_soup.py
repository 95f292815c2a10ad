"""Weight averaging (preproc/soup.py): the average by hand, the greedy rule, the ingredient formats, the CLI."""
from __future__ import annotations

import hashlib

import pytest
import torch

from harness.errors import HarnessError
from preproc.soup import average, greedy_soup, main, read_ingredient
from preproc.training.loop import train


def test_average_of_two_state_dicts_by_hand():
    a = {"w": torch.tensor([[1.0, -2.0], [0.5, 4.0]]), "n": torch.tensor(7)}
    b = {"w": torch.tensor([[3.0, 2.0], [0.25, -1.0]]), "n": torch.tensor(7)}
    soup = average([a, b])
    assert torch.equal(soup["w"], torch.tensor([[2.0, 0.0], [0.375, 1.5]]))  # (1+3)/2, (-2+2)/2, ...
    assert soup["w"].dtype == torch.float32 and soup["n"].item() == 7
    three = average([{"w": torch.tensor([1.0])}, {"w": torch.tensor([2.0])}, {"w": torch.tensor([6.0])}])
    assert three["w"].item() == pytest.approx(3.0)


@pytest.mark.parametrize("other, message", [({"v": torch.zeros(1)}, "other tensors"),
                                             ({"w": torch.zeros(2)}, "shapes"),
                                             ({"w": torch.zeros(1, dtype=torch.int64) + 1}, "integer")])
def test_average_refuses_other_networks(other, message):
    with pytest.raises(HarnessError, match=message):
        average([{"w": torch.zeros(1, dtype=torch.int64) if message == "integer" else torch.zeros(1)}, other])


def test_greedy_soup_keeps_what_helps():
    # Score: closeness of the single weight to 1.5. Alone: w=0 -> -1.5, w=2 -> -0.5, w=10 -> -8.5.
    # Start from w=2; with w=0 the average is 1 (-0.5, not worse: kept); with w=10 it is 4 (-2.5: dropped).
    states = [{"w": torch.tensor([0.0])}, {"w": torch.tensor([2.0])}, {"w": torch.tensor([10.0])}]
    chosen, log = greedy_soup(states, lambda s: -abs(s["w"].item() - 1.5))
    assert chosen == [1, 0]
    assert [(e["ingredient"], e.get("kept")) for e in log[3:]] == [(0, True), (2, False)]
    assert [e["score"] for e in log[3:]] == [pytest.approx(-0.5), pytest.approx(-2.5)]


def _tiny_run(tmp_path):
    from tests.preproc.test_train import _tiny_config

    cfg = _tiny_config(tmp_path)
    cfg.ema, cfg.snapshots = 0.9, True
    train(cfg, tmp_path / "run", threads=1, iterations=4, quiet=True)
    return tmp_path / "run"


def test_snapshots_and_last_checkpoint_are_ingredients(tmp_path):
    run = _tiny_run(tmp_path)
    assert sorted(p.name for p in run.glob("val_*.pth")) == ["val_000002.pth", "val_000004.pth"]
    params, meta = read_ingredient(run / "last.pth")  # the EMA of the last iteration, as validated there
    snap, snap_meta = read_ingredient(run / "val_000004.pth")
    assert meta["iterations"] == snap_meta["iterations"] == 4 and meta["weights"] == "ema"
    assert all(torch.equal(params[k], snap[k]) for k in snap) and set(params) == set(snap)


def test_cli_writes_the_uniform_average_with_its_ingredients(tmp_path, capsys):
    run = _tiny_run(tmp_path)
    sources = [run / "val_000002.pth", run / "val_000004.pth"]
    assert main([str(tmp_path / "soup.pth"), *map(str, sources)]) == 0
    out = torch.load(tmp_path / "soup.pth", weights_only=True)
    a, b = (torch.load(p, weights_only=True)["params"] for p in sources)
    assert all(torch.allclose(out["params"][k], (a[k] + b[k]) / 2, atol=1e-7) for k in a)
    assert [i["sha256"] for i in out["soup"]["ingredients"]] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in sources]
    assert out["iterations"] == 4 and out["model_name"] == "cajnn" and out["soup"]["method"] == "uniform"


def test_cli_refuses_another_network_in_one_line(tmp_path, capsys):
    run = _tiny_run(tmp_path)
    other = torch.load(run / "val_000002.pth", weights_only=True)
    other["config"] = {**other["config"], "nb": 2}
    torch.save(other, tmp_path / "other.pth")
    assert main([str(tmp_path / "soup.pth"), str(run / "val_000004.pth"), str(tmp_path / "other.pth")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: soup:") and "another network" in err and "\n" not in err
    assert main([str(tmp_path / "soup.pth"), str(tmp_path / "missing.pth")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_greedy_cli_scores_like_the_trainer(tmp_path, capsys):
    import json
    from dataclasses import asdict

    from tests.preproc.test_train import _tiny_config

    run = _tiny_run(tmp_path)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({k: v for k, v in asdict(_tiny_config(tmp_path / "again")).items()
                                  if k not in ("train_folders",)} | {"val_folder": str(tmp_path / "val")}))
    sources = [str(run / "val_000002.pth"), str(run / "val_000004.pth")]
    assert main([str(tmp_path / "soup.pth"), *sources, "--greedy", str(config)]) == 0
    out = torch.load(tmp_path / "soup.pth", weights_only=True)
    stored = [torch.load(p, weights_only=True)["val_psnr"]["mean"] for p in sources]
    alone = [e["score"] for e in out["soup"]["log"] if e["step"] == "alone"]
    assert alone == [pytest.approx(s, abs=1e-9) for s in stored]  # the trainer's own validation scores
    best = max(range(2), key=lambda i: stored[i])
    assert out["soup"]["chosen"][0] == best and out["val_psnr"]["mean"] >= stored[best]
    assert "validation mean" in capsys.readouterr().out


def test_greedy_soup_uses_known_scores_without_scoring_again():
    states = [{"w": torch.tensor([0.0])}, {"w": torch.tensor([2.0])}]
    calls = []

    def score(state):
        calls.append(state["w"].item())
        return -abs(state["w"].item() - 1.5)

    chosen, log = greedy_soup(states, score, known=[-1.5, None])
    assert calls == [2.0, 1.0]  # ingredient 1 alone, then the average; ingredient 0's score was known
    assert chosen == [1, 0] and log[0] == {"step": "alone", "ingredient": 0, "score": -1.5, "stored": True}


def test_stored_score_only_when_the_run_validated_the_same_way():
    from preproc.soup import stored_score

    meta = {"train_config": "paper_ft_mixed_patch24", "val_psnr": {"clean": 29.0, "mean": 27.5}}
    assert stored_score(meta, "paper_ft_mixed_patch40") == 27.5  # same images and conditions, other patches
    assert stored_score(meta, "paper_ft_qf10_50_bsds500") is None  # validates without the clean condition
    assert stored_score({**meta, "train_config": "not_a_config"}, "paper_ft_mixed_patch40") is None
    assert stored_score({"train_config": "paper_ft_mixed_patch24"}, "paper_ft_mixed_patch40") is None
