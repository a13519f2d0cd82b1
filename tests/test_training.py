import json

import pytest
import torch

from factordiff import training
from factordiff.config import apply_overrides
from factordiff.presets import preset_config
from factordiff.training import (
    RunExistsError,
    Trainer,
    TrainingDiverged,
    list_checkpoints,
    load_checkpoint,
    load_model,
    read_metrics,
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


def test_run_folder_checkpoints_and_load(tmp_path, monkeypatch):
    cfg = tiny_cfg()
    trainers = []

    class Recording(Trainer):  # keeps the trainer, to compare the files with its memory
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            trainers.append(self)

    monkeypatch.setattr(training, "Trainer", Recording)
    res = train(cfg, tmp_path / "run", progress=False)
    (trainer,) = trainers
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
    # save -> load gives the output of the trained model in memory, EMA and raw weights
    model, loaded_cfg, meta = load_model(ckpts[-1])
    assert meta["epoch"] == 4 and loaded_cfg == cfg
    raw, _, _ = load_model(ckpts[-1], ema=False)
    ck = load_checkpoint(ckpts[-1])
    x = torch.randn(2, 1, 16, 16)
    t = torch.tensor([3, 40])
    lab = torch.tensor([[2.0, 3.0], [9.0, 1.0]])
    with torch.no_grad():
        ema_out = trainer.ema_model()(x, t, lab)
        raw_out = trainer.model.eval()(x, t, lab)
        assert torch.equal(model(x, t, lab), ema_out)
        assert torch.equal(raw(x, t, lab), raw_out)
        assert not torch.allclose(ema_out, raw_out)  # the two checks are not the same check
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


# ----------------------------------------------------------------------------- nothing lost
class _Stop(Exception):
    pass


def _interrupt(cfg, run, after_epoch: int) -> None:
    """Train until the first step after epoch ``after_epoch``'s checkpoint, then crash."""
    t = Trainer(cfg, run, progress=False)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(cfg.to_json())
    orig = t.train_step

    def step(idx):
        if t.epoch >= after_epoch and t.step % t.steps_per_epoch == 1:
            raise _Stop
        return orig(idx)

    t.train_step = step
    with pytest.raises(_Stop):
        t.train()


def _same_weights(a: dict, b: dict) -> bool:
    return a["step"] == b["step"] and all(
        torch.equal(a["model"][k], b["model"][k]) for k in a["model"]
    )


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """An uninterrupted tiny run (evaluations at epochs 0, 2, 4) to compare resumes with."""
    cfg = tiny_cfg()
    run = tmp_path_factory.mktemp("full") / "run"
    train(cfg, run, progress=False)
    return cfg, run


def _metric_keys(run):
    recs = read_metrics(run)
    return [(r["step"], "eval" if "eval/accuracy" in r else "train", r.get("loss")) for r in recs]


def test_crash_between_the_files_of_one_save_loses_nothing(full_run, tmp_path, monkeypatch):
    cfg, full = full_run
    run = tmp_path / "run"
    real_save = training.atomic_save

    def crash_on_final_latest(obj, path):
        if path.name == "latest.pt" and obj["epoch"] == cfg.train.epochs:
            raise _Stop  # the process dies after the kept file, before latest.pt
        real_save(obj, path)

    monkeypatch.setattr(training, "atomic_save", crash_on_final_latest)
    with pytest.raises(_Stop):
        train(cfg, run, progress=False)
    monkeypatch.undo()
    # the kept checkpoint of the final epoch was written first; latest.pt is one save behind
    assert load_checkpoint(run / "checkpoints" / "epoch-00004.pt")["epoch"] == 4
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["epoch"] == 3
    assert not json.loads((run / "state.json").read_text())["finished"]
    train(cfg, run, progress=False)  # rerun: resumes, replays epoch 4
    for name in ("epoch-00000.pt", "epoch-00002.pt", "epoch-00004.pt", "latest.pt"):
        a = load_checkpoint(full / "checkpoints" / name)
        b = load_checkpoint(run / "checkpoints" / name)
        assert _same_weights(a, b), name
    assert _metric_keys(run) == _metric_keys(full)


def test_resume_repairs_metrics_and_recreates_a_missing_kept_checkpoint(full_run, tmp_path):
    cfg, full = full_run
    run = tmp_path / "run"
    _interrupt(cfg, run, after_epoch=2)
    ckdir = run / "checkpoints"
    assert load_checkpoint(ckdir / "latest.pt")["epoch"] == 2
    # an older version's crash: latest.pt written, the kept epoch-2 file not
    (ckdir / "epoch-00002.pt").unlink()
    # a crash mid-write of metrics.jsonl, after a record of a step that will be replayed
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 9, "epoch": 2.25, "loss": 0.5}) + "\n")
        f.write('{"step": 10, "epoch": 2.5, "lo')
    train(cfg, run, progress=False)
    assert _same_weights(
        load_checkpoint(ckdir / "epoch-00002.pt"),
        load_checkpoint(full / "checkpoints" / "epoch-00002.pt"),
    )
    lines = (run / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line whole again
    steps = [(r["step"], "eval/accuracy" in r) for r in records]
    assert len(steps) == len(set(steps)), "replayed steps logged twice"
    assert _metric_keys(run) == _metric_keys(full)
    assert "metrics.jsonl: dropped a partial last line" in (run / "train.log").read_text()


def test_truncated_latest_resumes_from_the_newest_readable_checkpoint(full_run, tmp_path, capsys):
    cfg, full = full_run
    run = tmp_path / "run"
    _interrupt(cfg, run, after_epoch=3)
    latest = run / "checkpoints" / "latest.pt"
    assert load_checkpoint(latest)["epoch"] == 3
    latest.write_bytes(latest.read_bytes()[:1000])  # e.g. a full disk
    capsys.readouterr()
    train(cfg, run, progress=False)
    err = capsys.readouterr().err
    assert "latest.pt is not a readable factordiff checkpoint" in err
    assert "resuming from the newest readable checkpoint, epoch-00002.pt (epoch 2)" in err
    assert "resuming from the newest readable" in (run / "train.log").read_text()
    assert _same_weights(
        load_checkpoint(latest), load_checkpoint(full / "checkpoints" / "latest.pt")
    )


def test_read_metrics_merges_replays_and_names_bad_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    recs = [
        {"step": 2, "loss": 1.0},
        {"step": 4, "loss": 0.9},
        {"step": 4, "eval/accuracy": 0.1},
        {"step": 4, "loss": 0.8},  # replayed after a resume: the last one counts
        {"step": 6, "loss": 0.7},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"step": 8, "lo')
    got = read_metrics(tmp_path)
    assert [(r["step"], r.get("loss")) for r in got] == [(2, 1.0), (4, 0.8), (4, None), (6, 0.7)]
    path.write_text(
        json.dumps(recs[0]) + "\n" + '{"step": 4}{"step": 5}\n' + json.dumps(recs[1]) + "\n"
    )
    with pytest.raises(ValueError, match=r"metrics.jsonl, line 2: not a JSON record"):
        read_metrics(path)
    assert read_metrics(tmp_path / "missing") == []


def test_extend_equals_a_run_trained_to_the_larger_budget(tmp_path):
    longer = tiny_cfg(**{"train.eval_every_epochs": 0, "train.checkpoint_epochs": "[0,2,4]"})
    shorter = tiny_cfg(
        **{"train.eval_every_epochs": 0, "train.epochs": 2, "train.checkpoint_epochs": "[0,2]"}
    )
    train(longer, tmp_path / "full", progress=False)
    train(shorter, tmp_path / "ext", progress=False)
    with pytest.raises(RunExistsError, match="another config"):
        train(longer, tmp_path / "ext", progress=False)  # without --extend: refused
    res = train(longer, tmp_path / "ext", extend=True, progress=False)
    assert res.epoch == 4
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "ext" / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"]
    for part in ("model", "ema_model"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    assert json.loads((tmp_path / "ext" / "config.json").read_text())["train"]["epochs"] == 4
    steps = [r["step"] for r in read_metrics(tmp_path / "ext" / "metrics.jsonl")]
    assert steps == [r["step"] for r in read_metrics(tmp_path / "full" / "metrics.jsonl")]


@pytest.mark.parametrize(
    "over, why",
    [
        ({"train.epochs": 4, "train.lr": 5e-3}, "train.lr"),
        ({"train.epochs": 1, "train.checkpoint_epochs": "[0,1]"}, "not above the run's 2"),
        ({"train.epochs": 4, "train.checkpoint_epochs": "[0,4]"}, r"drops the kept epochs \[2\]"),
        ({"train.max_steps": 40, "train.checkpoint_epochs": "[0,2,3]"}, "changes unit"),
    ],
)
def test_extend_refuses_what_would_not_equal_a_longer_run(tmp_path, over, why):
    base = {"train.eval_every_epochs": 0, "train.epochs": 2, "train.checkpoint_epochs": "[0,2]"}
    train(tiny_cfg(**base), tmp_path / "run", progress=False)
    before = (tmp_path / "run" / "config.json").read_text()
    with pytest.raises(RunExistsError, match=why):
        train(tiny_cfg(**{**base, **over}), tmp_path / "run", extend=True, progress=False)
    assert (tmp_path / "run" / "config.json").read_text() == before


def test_extend_refuses_a_budget_dependent_schedule(tmp_path):
    base = {"train.eval_every_epochs": 0, "train.epochs": 2, "train.checkpoint_epochs": "[0,2]"}
    base["train.lr_schedule"] = "cosine"
    train(tiny_cfg(**base), tmp_path / "run", progress=False)
    longer = tiny_cfg(**{**base, "train.epochs": 4, "train.checkpoint_epochs": "[0,2,4]"})
    with pytest.raises(RunExistsError, match="lr_schedule = 'cosine'.*allowed: 'constant'"):
        train(longer, tmp_path / "run", extend=True, progress=False)


def test_a_finite_loss_blow_up_is_recorded_as_a_spike(tmp_path, capsys, monkeypatch):
    from factordiff.cli import main
    from factordiff.loss_watch import LossSpikeWatch, loss_spikes

    watch = LossSpikeWatch(factor=50)
    losses = [0.01, 0.009, 0.011, 0.008, 0.01, 0.01, 0.6, 0.9, 0.8, 0.012, 0.011, 0.7]
    spikes = [watch.observe(20 * i, x) for i, x in enumerate(losses)]
    # one record per blow-up (not one per logged mean while it lasts), and again after recovery
    assert [s["step"] for s in spikes if s] == [120, 220]
    assert spikes[6]["median_before"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="factor = 1 is invalid"):
        LossSpikeWatch(factor=1)

    # in a run: the loss jumps x1000 after step 10 (a stand-in for rung2's blow-up)
    cfg = tiny_cfg(**{"train.eval_every_epochs": 0, "train.log_every_steps": 1})
    real = Trainer.train_step

    def step(self, idx):
        loss = real(self, idx)
        return loss * 1000 if self.step > 10 else loss

    monkeypatch.setattr(training.Trainer, "train_step", step)
    code = main(
        ["train", "--preset", "tiny", "--set", "train.eval_every_epochs=0"]
        + ["--set", "train.log_every_steps=1", "--out", str(tmp_path / "run"), "--no-progress"]
    )
    assert code == 0
    (spike,) = loss_spikes(tmp_path / "run")
    assert spike["step"] == 11 and spike["spike_loss"] > 100 * spike["median_before"]
    assert "warning: loss spike at step 11" in capsys.readouterr().err
    assert cfg.train.log_every_steps == 1
