import json

import pytest
import torch

from factordiff.config import apply_overrides
from factordiff.presets import preset_config
from factordiff.training import (
    RunExistsError,
    Trainer,
    TrainingDiverged,
    list_checkpoints,
    load_checkpoint,
    load_model,
    train,
)


def tiny_cfg(**over):
    cfg = preset_config("tiny")
    return apply_overrides(cfg, [f"{k}={v}" for k, v in over.items()])


def test_overfits_a_few_images():
    cfg = tiny_cfg(
        **{
            "data.dx": 8.0,
            "data.dy": 8.0,
            "train.batch_size": 4,
            "train.lr": 3e-3,
            "train.warmup_steps": 0,
            "train.eval_every_epochs": 0,
        }
    )
    trainer = Trainer(cfg, "/nonexistent-not-written", progress=False)
    assert len(trainer.images) == 4
    idx = torch.arange(4)
    first = [trainer.train_step(idx) for _ in range(5)]
    for _ in range(40):
        trainer.train_step(idx)
    later = [trainer.train_step(idx) for _ in range(5)]
    assert sum(later) / 5 < 0.6 * sum(first) / 5


def test_run_folder_checkpoints_and_load(tmp_path):
    cfg = tiny_cfg()
    res = train(cfg, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert res.epoch == cfg.train.epochs
    assert json.loads((run / "config.json").read_text())["name"] == "tiny"
    assert json.loads((run / "state.json").read_text())["finished"] is True
    ckpts = list_checkpoints(run)
    assert [int(p.stem.split("-")[1]) for p in ckpts] == [0, 2, 4]
    lines = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("loss" in r and "lr" in r and "images_per_s" in r for r in lines)
    evals = [r for r in lines if "eval/accuracy" in r]
    assert [r["epoch"] for r in evals] == [0, 2, 4]
    assert (run / "train.log").read_text().strip()
    # save -> load gives the same output
    model, loaded_cfg, meta = load_model(ckpts[-1])
    assert meta["epoch"] == 4 and loaded_cfg == cfg
    ck = load_checkpoint(ckpts[-1])
    ref, _, _ = load_model(ckpts[-1])
    x = torch.randn(2, 1, 16, 16)
    t = torch.tensor([3, 40])
    lab = torch.tensor([[2.0, 3.0], [9.0, 1.0]])
    with torch.no_grad():
        assert torch.equal(model(x, t, lab), ref(x, t, lab))
    assert set(ck) >= {"model", "ema_model", "optimizer", "config", "epoch", "step"}
    # a finished run is not overwritten without force
    with pytest.raises(RunExistsError, match="finished"):
        train(cfg, run, progress=False)
    with pytest.raises(RunExistsError, match="another config"):
        train(tiny_cfg(**{"train.lr": 5e-4}), run, progress=False)
    train(cfg, run, force=True, progress=False)


def test_resume_equals_uninterrupted(tmp_path):
    cfg = tiny_cfg(**{"train.eval_every_epochs": 0})
    train(cfg, tmp_path / "full", progress=False)

    class Stop(Exception):
        pass

    # interrupt after epoch 2's checkpoint by failing the next training step
    t = Trainer(cfg, tmp_path / "part", progress=False)
    (tmp_path / "part" / "config.json").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "part" / "config.json").write_text(cfg.to_json())
    orig = t.train_step

    def step(idx):
        if t.epoch >= 2 and t.step % t.steps_per_epoch == 1:
            raise Stop
        return orig(idx)

    t.train_step = step
    with pytest.raises(Stop):
        t.train()
    assert load_checkpoint(tmp_path / "part" / "checkpoints" / "latest.pt")["epoch"] == 2
    train(cfg, tmp_path / "part", progress=False)  # same command again: resumes
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for k in a["ema_model"]:
        assert torch.equal(a["ema_model"][k], b["ema_model"][k]), k


def test_nan_loss_stops_with_step(tmp_path):
    cfg = tiny_cfg(**{"train.eval_every_epochs": 0})
    t = Trainer(cfg, tmp_path / "nan", progress=False)
    t.images[:] = float("nan")
    with pytest.raises(TrainingDiverged, match="step 0"):
        t.train()
    # the epoch-0 checkpoint, written before the first step, is kept and readable
    assert load_checkpoint(tmp_path / "nan" / "checkpoints" / "latest.pt")["step"] == 0


def test_checkpoint_rejects_foreign_file(tmp_path):
    p = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(2)}, p)
    with pytest.raises(ValueError, match="not a factordiff checkpoint"):
        load_checkpoint(p)


class _NotATensor:
    """A pickled object that weights_only loading refuses."""


def test_checkpoint_refusals_are_short_and_safe(tmp_path):
    p = tmp_path / "obj.pt"
    torch.save({"format": "factordiff-checkpoint-v1", "x": _NotATensor()}, p)
    with pytest.raises(ValueError) as info:
        load_checkpoint(p)
    msg = str(info.value)
    assert str(p) in msg and "other than tensors and plain values" in msg
    assert "weights_only" not in msg and "\n" not in msg
    cut = tmp_path / "cut.pt"
    torch.save({"format": "factordiff-checkpoint-v1", "w": torch.zeros(1000)}, cut)
    cut.write_bytes(cut.read_bytes()[:500])
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        load_checkpoint(cut)
    assert "weights_only" not in str(info.value) and "\n" not in str(info.value)
