"""The ladder from our CPU model to the paper's network (factordiff.ladder): each rung removes
one deviation, builds and trains; a config's listed deviations match its fields."""

from __future__ import annotations

import pytest
import torch

from factordiff.config import apply_overrides
from factordiff.ladder import DEVIATIONS, PAPER_NETWORK, deviations, rung_config
from factordiff.presets import preset_config, preset_names

RUNGS = [f"rung{k}" for k in range(len(DEVIATIONS) + 1)]


def test_every_rung_is_a_preset_removing_one_deviation_at_a_time():
    assert set(RUNGS) <= set(preset_names())
    names = [d.name for d in DEVIATIONS]
    assert names[0] == "coordinate channels"  # removed first
    for k, rung in enumerate(RUNGS):
        cfg = preset_config(rung)
        left = [d.split(":")[0] for d in deviations(cfg)]
        assert left == names[k:], rung
    last = preset_config(RUNGS[-1])
    assert last.model == PAPER_NETWORK and last.diffusion.prediction_type == "epsilon"
    # the training setting is the same on every rung (ours), only the network changes
    assert len({(preset_config(r).train.lr, preset_config(r).train.batch_size) for r in RUNGS}) == 1


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.coord_frequencies=2", "coordinate channels: 2 pair(s)"),
        ("diffusion.prediction_type=v_prediction", "v-prediction: v_prediction objective"),
        ("model.scale_shift=true", "scale-shift conditioning"),
        ("model.label_encoding=periodic", "periodic label encoding"),
        ("model.layers_per_block=1", "one residual block per level: 1 residual"),
        ("model.attention=[true,true,true,false]", "self-attention at levels [0, 1, 2] of 4"),
    ],
)
def test_listed_deviations_follow_the_config(override, expected):
    cfg = apply_overrides(preset_config("paper"), [override])
    (dev,) = deviations(cfg)
    assert expected in dev


def test_paper_scale_presets_sit_on_the_last_rung():
    from factordiff.experiments import resolve_experiment

    for name in ("paper", "exp1"):
        assert deviations(preset_config(name)) == [], name
    for name in ("exp1", "exp2", "exp3", "percolation"):
        exp, preset = resolve_experiment(name, quick=False)
        runs = exp.runs(exp.config(preset))
        assert all(deviations(rc) == [] for _, rc in runs), name
    assert len(deviations(preset_config("small"))) == len(DEVIATIONS)


def test_bad_rung_names_the_value():
    with pytest.raises(ValueError, match=r"rung = 9 is invalid; allowed: an integer in 0\.\.7"):
        rung_config(9, preset_config("small"))


@pytest.mark.parametrize("rung", RUNGS)
def test_each_rung_builds_and_trains_two_steps(rung):
    from factordiff.training import Trainer

    cfg = apply_overrides(
        preset_config(rung),
        ["train.precision=fp32", "train.num_threads=1", "train.warmup_steps=0", "data.dx=4"]
        + ["data.dy=4", "train.batch_size=4"],
    )
    trainer = Trainer(cfg, "/nonexistent-not-written", progress=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    losses = [trainer.train_step(torch.arange(4) + 4 * i) for i in range(2)]
    assert all(torch.isfinite(torch.tensor(losses)))
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_list_shows_the_rungs_with_their_deviations(capsys):
    from factordiff.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "rung0" in out and "deviations from the paper's network: coordinate channels" in out
    assert "the paper's network as we read it" in out


def test_experiment_reports_list_the_deviations_left_in_their_runs(tmp_path):
    from factordiff.experiments import resolve_experiment
    from factordiff.experiments.report import render_report
    from factordiff.experiments.skeleton import run_deviations
    from factordiff.experiments.sweep import plan_sweep

    exp, name = resolve_experiment("exp1", quick=True)
    cfg = exp.config(name, seeds=[0])
    devs = run_deviations(plan_sweep(tmp_path / "out", exp.runs(cfg)))
    assert [d.split(":")[0] for d in devs] == [d.split(":")[0] for d in deviations(cfg.run)]
    assert devs and not any("coordinate channels" in d for d in devs)
    summary = {
        "experiment": name,
        "command": "c",
        "wall_seconds": 1,
        "train_seconds": 1,
        "analysis_seconds": 0,
        "device": "cpu",
        "setting": "s",
        "deviations": devs,
        "verdicts": [],
    }
    text = render_report(summary)
    assert "Deviations from the paper's network that remain in this run: v-prediction" in text
    assert "none (the paper's network" in render_report(summary | {"deviations": []})
    assert "Deviations" not in render_report(
        {k: v for k, v in summary.items() if k != "deviations"}
    )


def test_no_experiment_preset_feeds_coordinate_channels():
    from factordiff.experiments import EXPERIMENTS, resolve_experiment

    for exp_name, exp in EXPERIMENTS.items():
        for preset in exp.presets:
            exp_, name = resolve_experiment(preset, quick=False)
            runs = exp_.runs(exp_.config(name))
            assert all(rc.model.coord_frequencies == 0 for _, rc in runs), (exp_name, preset)


def test_epsilon_rungs_carry_the_setting_they_were_measured_to_train_with():
    """From rung2 on (epsilon-prediction) the presets train with min-SNR weighting and a
    cosine schedule over 6,400 steps (docs/fidelity.md); the v-prediction rungs keep
    `small`'s setting, and the network alone changes from rung2 to rung7."""
    from factordiff.training_schedule import lr_at

    for k, rung in enumerate(RUNGS):
        cfg = preset_config(rung)
        eps = cfg.diffusion.prediction_type == "epsilon"
        assert eps == (k >= 2), rung
        assert (cfg.diffusion.loss_weighting == "min_snr") == eps
        assert (cfg.train.lr_schedule, cfg.train.epochs) == (
            ("cosine", 400) if eps else ("constant", 150)
        )
    trains = [(preset_config(r).train, preset_config(r).diffusion) for r in RUNGS[2:]]
    assert all(t == trains[0] for t in trains)
    cfg = preset_config("rung2").train
    total = 400 * 1024 // 64  # 6,400 steps
    assert lr_at(100, total, cfg) == pytest.approx(cfg.lr)  # after warmup, the peak
    assert lr_at(total, total, cfg) < 1e-3 * cfg.lr  # annealed to ~0 at the end
