"""The percolation experiment: the smoke sweep and its files, and the verdict rules on
hand-made tables with known outcomes."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from factordiff.experiments import resolve_experiment, run_experiment
from factordiff.experiments.captions import has_caption
from factordiff.experiments.percolation import (
    PercolationExpConfig,
    crossing,
    crossing_span,
    decided,
    percolation_config,
    plot_loss_vs_lambda,
    plot_umap_grid,
    sweep_runs,
    verdicts_from_rows,
)
from factordiff.experiments.percolation.onset_rules import SimOnset
from factordiff.experiments.sweep import LocalExecutor
from factordiff.plotting import SEED_GID

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
    assert all(has_caption(summary["experiment"], f) for f in summary["figures"])
    assert "## Simulated critical shares" in (tmp_path / "report.md").read_text()
    # one seed, each claim needing 3: never decided; judged again from the stored rows alike
    assert {v["verdict"] for v in saved["verdicts"]} <= {"inconclusive", "not judged"}
    from factordiff.experiments.skeleton import rejudge_experiment

    again = rejudge_experiment(exp, cfg, tmp_path, "a test of rejudging")
    assert [v["verdict"] for v in again["verdicts"]] == [v["verdict"] for v in saved["verdicts"]]


def test_runs_differ_only_in_sigma_and_lambda():
    cfg = percolation_config("percolation-quick")
    runs = sweep_runs(cfg)
    assert cfg.seeds == (0, 1, 2) and cfg.min_seeds == 3  # one command can be decisive
    assert len(runs) == 4 * 18 * 3  # sigma 0.5 back since 2026-12-06; the finer share grid
    assert cfg.sigmas[0] == 0.5 and cfg.max_steps == 1600
    for preset in ("percolation", "percolation-tiny"):
        assert percolation_config(preset).min_seeds == 3  # the smoke preset's too
    assert len(percolation_config("percolation").seed_list()) >= 3
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


def _rows(onsets: dict[float, float], gradual: bool = False, seeds=(0,)) -> list[dict]:
    """Accuracy 0 below the onset share and 1 from it on (or, ``gradual``, linear in log
    lambda over the whole grid), the same in every seed of ``seeds``."""
    rows = []
    for s, onset in onsets.items():
        for i, lam in enumerate(LAMBDAS):
            acc = i / (len(LAMBDAS) - 1) if gradual else float(lam >= onset)
            # the same accuracy at the earlier checkpoint: the budget check passes
            for seed in seeds:
                rows.append(
                    {"sigma": s, "lambda": lam, "seed": seed, "accuracy": acc, "accuracy_prev": acc}
                )
    return rows


def _seeded(*per_seed: list[dict]) -> list[dict]:
    """One table of several seeds' rows, the k-th argument's rows as seed k."""
    return [r | {"seed": k} for k, rows in enumerate(per_seed) for r in rows]


def _onsets(lam50: dict[float, float], factor: float, width: float = 2.0) -> dict:
    """Simulated onsets at ``factor`` times ``lam50`` with the 20%-80% ``width`` (the same at
    both overlap thresholds)."""
    half = width**0.5
    return {
        (s, t): SimOnset(s, t, 0.1, 0.01, v * factor / half, v * factor, v * factor * half)
        for s, v in lam50.items()
        for t in (0.005, 0.05)
    }


ONSETS = {0.5: 0.4, 1.0: 0.2, 1.5: 0.1}  # jump between neighbouring shares
LAM50 = {s: o / 2**0.5 for s, o in ONSETS.items()}  # interpolated half-way in log
SEEDS = (0, 1, 2)


def test_sharp_earlier_and_near_onsets_are_reproduced():
    cfg = PercolationExpConfig()
    verdicts, extra = verdicts_from_rows(_rows(ONSETS, seeds=SEEDS), cfg, _onsets(LAM50, 1.2))
    assert [v.verdict for v in verdicts] == ["reproduced"] * 3
    assert [v.reproduced for v in verdicts] == [True, True, True]
    # the trained 20%-80% span is a factor 2^0.6, the simulated one 2: 0.6 of it in log
    assert verdicts[0].value[0]["1"] == pytest.approx(0.6, rel=1e-3)  # seed 0, sigma 1
    assert verdicts[0].detail["trained lambda_80 / lambda_20"][0]["1"] == pytest.approx(
        2**0.6, rel=1e-3
    )
    assert verdicts[0].control["1, t=0.05"] == pytest.approx(2.0)  # the simulated width
    assert extra["lambda_50"]["1"][0] == pytest.approx(LAM50[1.0])
    # the statistics per seed: the span in simulated spans, the largest ratio of lambda_50
    # of neighbouring widths (2^-1: each onset half the narrower one's), the distance of
    # lambda_50 from the simulated midpoint (1.2 times it) in simulated half-spans (2^0.5)
    near = math.log(1.2) / math.log(2**0.5)
    assert verdicts[0].statistics[0] == pytest.approx([0.6] * 3, rel=1e-3)
    assert verdicts[1].statistics[0] == pytest.approx([0.5] * 3, rel=1e-3)
    assert verdicts[2].statistics[0] == pytest.approx([near] * 3, rel=1e-3)
    assert verdicts[2].control["1, t=0.005"] == pytest.approx(
        [1.2 * LAM50[1.0] / 2**0.5, 1.2 * LAM50[1.0], 1.2 * LAM50[1.0] * 2**0.5], abs=1e-4
    )
    for v, threshold in zip(verdicts, (cfg.sharp_tolerance, 1.0, cfg.near_tolerance)):
        (j,) = v.judgements
        assert j["rule"]["side"] == "below" and j["rule"]["threshold"] == threshold
        assert j["n"] == 3 and j["rule"]["min_seeds"] == 3
        assert v.spread == {"seeds": [0, 1, 2], "reproduced_in": 3}


def test_gradual_late_or_far_onsets_are_not_reproduced():
    cfg = PercolationExpConfig()
    # gradual in every seed: 20% to 80% spans a factor 2^3 of lambda, 3 simulated spans
    verdicts, _ = verdicts_from_rows(
        _rows(ONSETS, gradual=True, seeds=SEEDS), cfg, _onsets(LAM50, 1.0)
    )
    assert verdicts[0].verdict == "not reproduced"
    assert verdicts[0].statistics[0] == pytest.approx([3.0] * 3, rel=1e-3)
    # the same curves against a simulated onset as wide as them: as sharp as percolation
    as_wide = verdicts_from_rows(
        _rows(ONSETS, gradual=True, seeds=SEEDS), cfg, _onsets(LAM50, 1.0, width=8.0)
    )[0]
    assert as_wide[0].verdict == "reproduced"
    assert as_wide[0].statistics[0] == pytest.approx([1.0] * 3, rel=1e-3)
    # wider bumps later, not earlier
    reverse = {0.5: 0.1, 1.0: 0.2, 1.5: 0.4}
    verdicts, _ = verdicts_from_rows(_rows(reverse, seeds=SEEDS), cfg, _onsets(LAM50, 1.0))
    assert [v.verdict for v in verdicts[:2]] == ["reproduced", "not reproduced"]
    assert verdicts[1].statistics[0] == pytest.approx([2.0] * 3, rel=1e-3)
    # one width never reaches 50%: it cannot come "earlier"; its crossing lies beyond the
    # grid, and the bound it gives decides each seed (fails, at the bound's value)
    never = {0.5: 0.4, 1.0: 2.0, 1.5: 0.1}
    verdicts, _ = verdicts_from_rows(_rows(never, seeds=SEEDS), cfg, _onsets(LAM50, 1.0))
    assert verdicts[1].verdict == "not reproduced"
    assert verdicts[1].value[0]["1"] == "never reached"
    # its onset (never above 20%) was not seen: how sharp it is is unknown, the per-run rule
    # fails it, the statistic has no value in any seed
    assert verdicts[0].statistics[0] == [None] * 3 and verdicts[0].verdict == "inconclusive"
    assert verdicts[0].spread["reproduced_in"] == 0
    # sigma 1: 50% beyond the largest share 0.8, sigma 0.5 at 0.4 / 2^0.5: ratio > 2^1.5
    assert verdicts[1].statistics[0] == pytest.approx([2**1.5] * 3, rel=1e-3)
    # simulated thresholds 5 times away: not near
    verdicts, _ = verdicts_from_rows(_rows(ONSETS, seeds=SEEDS), cfg, _onsets(LAM50, 5.0))
    assert [v.verdict for v in verdicts] == ["reproduced", "reproduced", "not reproduced"]
    # models still learning at the budget: nothing is judged, however the curves look
    rows = _rows(ONSETS, seeds=SEEDS)
    rows[3]["accuracy_prev"] = rows[3]["accuracy"] - 0.3
    verdicts, _ = verdicts_from_rows(rows, cfg, _onsets(LAM50, 1.2))
    assert [v.verdict for v in verdicts] == ["not judged"] * 3
    assert not any(v.reproduced for v in verdicts)
    assert "rose by up to 0.3" in verdicts[0].not_judged


def test_straddling_seeds_and_too_few_seeds_are_inconclusive():
    cfg = PercolationExpConfig()
    sharp, gradual = _rows(ONSETS), _rows(ONSETS, gradual=True)
    # two seeds sharp (0.6 simulated spans), one gradual (3): the interval straddles 1.3
    verdicts, _ = verdicts_from_rows(_seeded(sharp, sharp, gradual), cfg, _onsets(LAM50, 1.2))
    assert verdicts[0].verdict == "inconclusive"
    assert verdicts[0].judgements[0]["reason"] == "the interval straddles 1.3"
    assert verdicts[0].spread["reproduced_in"] == 2  # below the threshold in two seeds
    # two seeds, both passing: fewer than the minimum of 3
    verdicts, _ = verdicts_from_rows(_rows(ONSETS, seeds=(0, 1)), cfg, _onsets(LAM50, 1.2))
    assert [v.verdict for v in verdicts] == ["inconclusive"] * 3
    assert all("needs at least 3" in v.judgements[0]["reason"] for v in verdicts)
    # one seed (the smoke preset's) likewise; a minimum of 1 (a --set override) decides
    one = _rows(ONSETS)
    assert [v.verdict for v in verdicts_from_rows(one, cfg, _onsets(LAM50, 1.2))[0]] == [
        "inconclusive"
    ] * 3
    loose = PercolationExpConfig(min_seeds=1)
    assert [v.verdict for v in verdicts_from_rows(one, loose, _onsets(LAM50, 1.2))[0]] == [
        "reproduced"
    ] * 3
    with pytest.raises(ValueError, match="min_seeds"):
        PercolationExpConfig(min_seeds=0).validate()


def test_bounds_from_crossings_outside_the_grid_decide_a_seed_or_leave_it_without_a_value():
    lam = np.array([0.1, 0.2, 0.4])
    assert crossing_span(lam, np.array([0.0, 1.0, 1.0]), 0.5) == pytest.approx(
        (0.1 * 2**0.5, 0.1 * 2**0.5)
    )
    assert crossing_span(lam, np.array([0.9, 1.0, 1.0]), 0.5) == (0.0, 0.1)
    assert crossing_span(lam, np.array([0.0, 0.1, 0.2]), 0.5) == (0.4, math.inf)
    assert decided(3.0, math.inf, 2.0) == 3.0  # fails whatever the bound resolves to
    assert decided(1.0, 1.5, 2.0) == 1.5  # holds whatever it resolves to
    assert decided(1.2, math.inf, 2.0) is None  # could go either way: no value
    assert decided(1.7, 1.7, 2.0) == 1.7
    cfg = PercolationExpConfig()
    # above 50% at the smallest share for two widths in a row: their order is unknown
    early = {0.5: 0.4, 1.0: 0.025, 1.5: 0.025}
    verdicts, _ = verdicts_from_rows(_rows(early, seeds=SEEDS), cfg, _onsets(LAM50, 1.0))
    assert verdicts[1].statistics[0] == [None] * 3 and verdicts[1].verdict == "inconclusive"
    assert verdicts[1].spread["reproduced_in"] == 0  # the per-run rule: two bounds fail
    # above 20% at the smallest share (0.025), 80% crossed at 0.1 * 2^(5/7):
    # lambda_80 / lambda_20 >= that / 0.025 = 2^(2 + 5/7), at least 2 + 5/7 simulated spans
    # of 2, which fails whatever lambda_20 is
    rows = []
    for seed in SEEDS:
        for s, acc in {
            0.5: [0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
            1.0: [0.3, 0.3, 0.3, 1.0, 1.0, 1.0],
        }.items():
            for lam, a in zip(LAMBDAS, acc):
                rows.append(
                    {"sigma": s, "lambda": lam, "seed": seed, "accuracy": a, "accuracy_prev": a}
                )
    verdicts, _ = verdicts_from_rows(rows, cfg, _onsets(LAM50, 1.0))
    assert verdicts[0].detail["trained lambda_80 / lambda_20"][0]["1"] is None  # no ratio
    assert verdicts[0].value[0]["1"] == pytest.approx(2 + 5 / 7, rel=1e-3)  # the bound
    assert verdicts[0].statistics[0] == pytest.approx([2 + 5 / 7] * 3, rel=1e-3)
    assert verdicts[0].verdict == "not reproduced"


def test_a_width_without_a_simulated_onset_is_unknown_unless_another_decides():
    cfg = PercolationExpConfig()
    onsets = _onsets(LAM50, 1.2)
    for t in (0.005, 0.05):  # sigma 1.5: a simulated curve that never rises from its floor
        onsets[(1.5, t)] = SimOnset(1.5, t, 1.0, 0.004, math.nan, math.nan, math.nan)
    verdicts, _ = verdicts_from_rows(_rows(ONSETS, seeds=SEEDS), cfg, onsets)
    sharp, _, near = verdicts
    assert near.value[0]["1.5"] is None and near.control["1.5, t=0.05"] is None
    assert near.value[0]["1"] == pytest.approx(math.log(1.2) / math.log(2**0.5), rel=1e-3)
    # the other widths hold, so the seed's largest value is unknown: no value, inconclusive
    assert near.statistics[0] == [None] * 3 and near.verdict == "inconclusive"
    assert sharp.statistics[0] == [None] * 3 and sharp.verdict == "inconclusive"
    # the other widths fail (5 times from the simulated midpoint): the seed fails anyway
    far = _onsets(LAM50, 5.0)
    far.update({k: v for k, v in onsets.items() if k[0] == 1.5})
    near = verdicts_from_rows(_rows(ONSETS, seeds=SEEDS), cfg, far)[0][2]
    assert near.verdict == "not reproduced"
    assert near.statistics[0] == pytest.approx([math.log(5) / math.log(2**0.5)] * 3, rel=1e-3)


def test_umap_grid_figure_has_one_panel_per_run_and_a_colour_key():
    rng = np.random.default_rng(0)
    emb = {(s, x): rng.normal(size=(16, 2)) for s in (0.5, 1.0) for x in (0.1, 1.0)}
    fig = plot_umap_grid(emb, rng.uniform(0, 8, size=(16, 2)), seed=3)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 4
    (key,) = [ax for ax in fig.axes if ax not in panels]  # one colour bar for every panel
    assert "mu_x" in key.get_ylabel()
    assert "seed 3" in fig.get_suptitle() and "mu_x" in fig.get_suptitle()


def test_loss_figure_shows_every_seed_and_its_tick_labels_do_not_overlap():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    lam = np.array([0.02, 0.04, 0.08, 0.15, 0.3, 0.6, 1.0])
    per = np.stack([np.linspace(0.2, 0.0, 7) + d for d in (0.0, 0.01)])  # (2 seeds, 7)
    val = per.copy()
    val[:, -1] = np.nan  # no held-out site at lambda = 1: the right panel ends at 0.6
    data = {s: (lam, per.mean(0), per) for s in (0.75, 1.0)}
    fig = plot_loss_vs_lambda(data, {s: (lam, val.mean(0), val) for s in (0.75, 1.0)})
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in fig.axes:
        assert sum(line.get_gid() == SEED_GID for line in ax.lines) == 2 * 2
        shown = [t for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True)]
        shown = [t for t in shown if t.get_visible() and t.get_text()]
        assert shown and not any("10^" in t.get_text() for t in shown)
        boxes = sorted((t.get_window_extent(renderer) for t in shown), key=lambda b: b.x0)
        boxes = [b for b in boxes if ax.bbox.x0 - 1 <= (b.x0 + b.x1) / 2 <= ax.bbox.x1 + 1]
        assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:])), "tick labels overlap"


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
    assert "the onset of accuracy is sharp" in quiet  # the verdict lines are still printed
