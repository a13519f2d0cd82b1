"""The percolation experiment: the smoke sweep and its files, and the verdict rules on
hand-made tables with known outcomes."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from factordiff.experiments import resolve_experiment, run_experiment
from factordiff.experiments.percolation import (
    PercolationExpConfig,
    crossing,
    percolation_config,
    plot_umap_grid,
    sweep_runs,
    verdicts_from_rows,
)
from factordiff.experiments.sweep import LocalExecutor

ONE = LocalExecutor(workers=1, threads=1)
LAMBDAS = (0.025, 0.05, 0.1, 0.2, 0.4, 0.8)


def test_percolation_smoke_writes_table_summary_report_and_figures(tmp_path):
    exp, name = resolve_experiment("percolation-tiny")
    cfg = exp.config(name)
    summary = run_experiment(exp, cfg, tmp_path, executor=ONE, log=lambda *_: None)
    table = pd.read_csv(tmp_path / "results.csv")
    assert len(table) == 2 * 2  # sigmas x lambdas
    for col in ("param.sigma", "param.lambda", "accuracy", "accuracy_prev", "train_loss"):
        assert col in table.columns
    assert set(table["step"]) == {cfg.max_steps}  # one step budget for every share
    assert np.isfinite(table["train_loss"]).all() and np.isfinite(table["train_loss_fixed"]).all()
    # validation loss on held-out sites: there are none at lambda = 1
    assert np.isfinite(table.loc[table["lambda"] < 1, "val_loss"]).all()
    assert table.loc[table["lambda"] == 1, "val_loss"].isna().all()
    for t in cfg.thresholds:  # mass ratio of each run's own kept sites
        assert table[f"mass_ratio_t{t:g}"].between(0, 1).all()
    assert (table.loc[table["lambda"] == 1, "mass_ratio_t0.005"] == 1).all()
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert len(saved["verdicts"]) == 3
    for v in saved["verdicts"]:
        assert v["rule"] and isinstance(v["reproduced"], bool)
    assert len(saved["simulated"]) == len(cfg.sigmas) * len(cfg.thresholds)
    for fig in summary["figures"]:
        assert (tmp_path / "figures" / fig).stat().st_size > 0
    assert {
        "accuracy_vs_lambda.png",
        "mass_ratio.png",
        "percolation_vs_accuracy_t0.005.png",
        "percolation_vs_accuracy_t0.05.png",
        "loss_vs_lambda.png",
    } <= set(summary["figures"])
    assert "## Simulated critical shares" in (tmp_path / "report.md").read_text()


def test_runs_differ_only_in_sigma_and_lambda():
    cfg = percolation_config("percolation-quick")
    runs = sweep_runs(cfg)
    assert len(runs) == 3 * 7
    ref = runs[0][1]
    for params, run in runs:
        assert run.data.sigma_x == run.data.sigma_y == params["sigma"]
        assert run.data.subsample == params["lambda"]
        assert run.train.max_steps == cfg.max_steps
        assert run.model == ref.model and run.diffusion == ref.diffusion
        assert (run.data.image_size, run.data.dx, run.data.margin) == (16, 1.0, 0)
    with pytest.raises(ValueError, match="sigmas"):
        PercolationExpConfig(sigmas=(1.0,)).validate()
    with pytest.raises(ValueError, match="lambdas"):
        PercolationExpConfig(lambdas=(0.5, 1.5)).validate()


def test_crossing_interpolates_in_log_lambda_and_flags_bounds():
    lam = np.array([0.1, 0.2, 0.4])
    v, status = crossing(lam, np.array([0.0, 1.0, 1.0]), 0.5)
    assert status == "interpolated" and v == pytest.approx(0.1 * 2**0.5)
    assert crossing(lam, np.array([0.0, 0.1, 0.2]), 0.5) == (math.inf, "never_reached")
    assert crossing(lam, np.array([0.9, 1.0, 1.0]), 0.5) == (0.1, "reached_at_smallest")


def _rows(onsets: dict[float, float], gradual: bool = False) -> list[dict]:
    """Accuracy 0 below the onset share and 1 from it on (or, ``gradual``, linear in log
    lambda over the whole grid)."""
    rows = []
    for s, onset in onsets.items():
        for i, lam in enumerate(LAMBDAS):
            acc = i / (len(LAMBDAS) - 1) if gradual else float(lam >= onset)
            # the same accuracy at the earlier checkpoint: the budget check passes
            rows.append(
                {"sigma": s, "lambda": lam, "seed": 0, "accuracy": acc, "accuracy_prev": acc}
            )
    return rows


def _critical(lam50: dict[float, float], factor: float) -> dict:
    return {(s, t): v * factor for s, v in lam50.items() for t in (0.005, 0.05)}


def test_sharp_earlier_and_near_onsets_are_reproduced():
    cfg = PercolationExpConfig()
    onsets = {0.5: 0.4, 1.0: 0.2, 1.5: 0.1}  # jump between neighbouring shares
    lam50 = {s: o / 2**0.5 for s, o in onsets.items()}  # interpolated half-way in log
    verdicts, extra = verdicts_from_rows(_rows(onsets), cfg, _critical(lam50, 1.5))
    assert [v.reproduced for v in verdicts] == [True, True, True]
    assert verdicts[0].value["1"] == pytest.approx(2**0.6, rel=1e-3)
    assert extra["lambda_50"]["1"][0] == pytest.approx(lam50[1.0])


def test_gradual_late_or_far_onsets_are_not_reproduced():
    cfg = PercolationExpConfig()
    onsets = {0.5: 0.4, 1.0: 0.2, 1.5: 0.1}
    lam50 = {s: o / 2**0.5 for s, o in onsets.items()}
    # gradual: 20% to 80% spans a factor 2^3 of lambda
    verdicts, _ = verdicts_from_rows(_rows(onsets, gradual=True), cfg, _critical(lam50, 1.0))
    assert not verdicts[0].reproduced
    # wider bumps later, not earlier
    reverse = {0.5: 0.1, 1.0: 0.2, 1.5: 0.4}
    verdicts, _ = verdicts_from_rows(_rows(reverse), cfg, _critical(lam50, 1.0))
    assert verdicts[0].reproduced and not verdicts[1].reproduced
    # one width never reaches 50%: it cannot come "earlier"
    never = {0.5: 0.4, 1.0: 2.0, 1.5: 0.1}
    verdicts, _ = verdicts_from_rows(_rows(never), cfg, _critical(lam50, 1.0))
    assert not verdicts[1].reproduced and not verdicts[0].reproduced
    assert verdicts[1].value["1"] == "never reached"
    # simulated thresholds 5 times away: not near
    verdicts, _ = verdicts_from_rows(_rows(onsets), cfg, _critical(lam50, 5.0))
    assert verdicts[1].reproduced and not verdicts[2].reproduced
    # models still learning at the budget: nothing is judged, however the curves look
    rows = _rows(onsets)
    rows[3]["accuracy_prev"] = rows[3]["accuracy"] - 0.3
    verdicts, _ = verdicts_from_rows(rows, cfg, _critical(lam50, 1.5))
    assert [v.verdict for v in verdicts] == ["not judged"] * 3
    assert not any(v.reproduced for v in verdicts)
    assert "rose by up to 0.3" in verdicts[0].not_judged


def test_a_graph_percolating_at_every_simulated_share_bounds_the_near_factor():
    cfg = PercolationExpConfig()
    onsets = {0.5: 0.4, 1.0: 0.2, 1.5: 0.1}
    lam50 = {s: o / 2**0.5 for s, o in onsets.items()}
    critical = _critical(lam50, 1.5)
    for t in (0.005, 0.05):  # sigma 1.5: above one half at every share from 0.004 up
        critical[(1.5, t)] = math.nan
    below = {(1.5, 0.005): 0.004, (1.5, 0.05): 0.004}
    verdicts, _ = verdicts_from_rows(_rows(onsets), cfg, critical, below)
    near = verdicts[2]
    assert not near.reproduced  # a bound never passes
    assert near.value["1.5"] == f"> {lam50[1.5] / 0.004:.3g}"
    assert near.value["1"] == pytest.approx(1.5)
    assert near.control["1.5, t=0.05"] == "< 0.004"
    # without the bound the factor is unknown, as before
    verdicts, _ = verdicts_from_rows(_rows(onsets), cfg, critical)
    assert verdicts[2].value["1.5"] is None and verdicts[2].control["1.5, t=0.05"] is None


def test_umap_grid_figure_has_one_panel_per_run():
    rng = np.random.default_rng(0)
    emb = {(s, x): rng.normal(size=(16, 2)) for s in (0.5, 1.0) for x in (0.1, 1.0)}
    fig = plot_umap_grid(emb, rng.uniform(0, 8, size=(16, 2)))
    assert len(fig.axes) == 4


def test_experiment_command_prints_progress_unless_told_not_to(tmp_path, capsys):
    from factordiff.cli import main

    out = tmp_path / "perc"
    args = ["experiment", "percolation-tiny", "--out", str(out), "--workers", "1"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    done = [ln for ln in lines if ln.startswith("[percolation] run ")]
    assert [ln.split()[2] for ln in done] == ["1/4", "2/4", "3/4", "4/4"]
    assert "estimated training time left" in done[0] and "no training left" in done[-1]
    assert main(args + ["--force", "--no-progress"]) == 0
    quiet = capsys.readouterr().out
    assert "[percolation] run " not in quiet and "estimated" not in quiet
    assert "reproduced" in quiet  # the verdict lines are still printed
