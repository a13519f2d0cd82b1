"""Step budgets (train.max_steps) and a run identity that leaves the device out."""

import json

import pytest

from factordiff.config import apply_overrides
from factordiff.presets import preset_config
from factordiff.training import RunExistsError, list_checkpoints, train, training_budget


def tiny_cfg(*over):
    return apply_overrides(preset_config("tiny"), ["train.eval_every_epochs=0", *over])


@pytest.mark.parametrize("share", [1.0, 0.5, 0.25])
def test_step_budget_gives_the_same_steps_for_every_data_share(tmp_path, share):
    # tiny: 64 images, batch 16 -> 4 steps per epoch at share 1, 1 step at share 0.25
    cfg = tiny_cfg("train.max_steps=6", f"data.subsample={share}", "train.checkpoint_epochs=[0]")
    res = train(cfg, tmp_path / "run", progress=False)
    assert res.step == 6
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state == {"finished": True, "epoch": res.epoch, "step": 6}
    spe, epochs, total = training_budget(cfg.train, round(64 * share))
    assert (res.epoch, total) == (epochs, 6)
    assert epochs == -(-6 // spe)  # the last epoch may be partial
    # the last (derived) epoch is always kept
    assert int(list_checkpoints(tmp_path / "run")[-1].stem.split("-")[1]) == epochs


def test_epoch_budget_scales_with_the_data_share():
    cfg = tiny_cfg("train.epochs=4")
    assert training_budget(cfg.train, 64) == (4, 4, 16)
    assert training_budget(cfg.train, 16) == (1, 4, 4)


def test_step_budget_validation(tmp_path):
    with pytest.raises(ValueError, match="train.max_steps = -1"):
        tiny_cfg("train.max_steps=-1")
    # checkpoint epochs beyond the derived epoch count fail before anything is written
    cfg = tiny_cfg("train.max_steps=4", "train.checkpoint_epochs=[0,3]")
    with pytest.raises(ValueError, match=r"checkpoint_epochs.*epochs in \[0, 1\]"):
        train(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_resume_with_a_step_budget_replays_the_same_steps(tmp_path):
    import torch

    cfg = tiny_cfg("train.max_steps=10", "train.checkpoint_epochs=[0]", "train.eval_every_epochs=1")
    whole = train(cfg, tmp_path / "whole", progress=False)
    assert whole.step == 10 and whole.epoch == 3  # 4 + 4 + 2 steps

    class Stop(Exception):
        pass

    def stop_at_epoch_2(rec):
        if rec["epoch"] == 2:
            raise Stop

    with pytest.raises(Stop):
        train(cfg, tmp_path / "cut", progress=False, on_eval=stop_at_epoch_2)
    resumed = train(cfg, tmp_path / "cut", progress=False)
    assert (resumed.step, resumed.epoch) == (10, 3)
    a = torch.load(tmp_path / "whole/checkpoints/latest.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut/checkpoints/latest.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_run_identity_leaves_the_device_out(tmp_path):
    cfg = tiny_cfg("train.epochs=2", "train.checkpoint_epochs=[0]", "device=auto")
    run = tmp_path / "run"
    # an unfinished run started with device=auto ...
    state_path = run / "state.json"
    train(cfg, run, progress=False)
    state = json.loads(state_path.read_text())
    state["finished"] = False
    state_path.write_text(json.dumps(state))
    # ... is resumed with device=cpu rather than refused as another config
    res = train(apply_overrides(cfg, ["device=cpu"]), run, progress=False)
    assert res.step == 8
    # while a change of what is computed is still refused
    with pytest.raises(RunExistsError, match="train.lr"):
        train(apply_overrides(cfg, ["train.lr=0.5"]), run, progress=False)
