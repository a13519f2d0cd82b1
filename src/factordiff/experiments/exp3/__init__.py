"""Experiment 3 of the paper: how much data does a model need? (data efficiency, Fig. 5)

A package on the experiment skeleton (``factordiff.experiments.skeleton``). For each image
size N and each subsampling share of the lattice, two datasets are trained on one step
budget: (a) 2D bumps alone and (b) 2D bumps plus 1D stripes (``bump+stripes``, its margin
scaled with N). The share subsamples the 2D bumps; the presets keep every stripe of (b)
(``stripes_share``) and count 2D bumps as the dataset size (``size_measure``), since
2026-12-06. Each run is scored on generating 2D bumps at lattice sites of the frame: all of
them (or a fixed sample, the *whole lattice*) and those held out of (a)'s training set. The
dataset size at which accuracy first reaches the threshold (60%) is interpolated per seed
and fitted against N on log-log axes, per seed; the paper says the exponent is about 2 for
bumps alone and about 1 with stripes, judged from the interval of the per-seed exponents
over seeds (:mod:`factordiff.experiments.judgement`).

The modules, in the order a run goes through them:

- ``config``: :class:`Exp3Config`, its validation, the presets and the names of the
  datasets, threshold metrics and size measures;
- ``runs``: the training data of every run of the sweep, on one step budget;
- ``analysis``: the sites a run is scored at and the scores of its last two checkpoints;
- ``verdicts``: the sizes at the threshold, their fits and one verdict per claim;
- ``tables``: the tables beside the exponents (sizes per N, accuracy per share);
- ``figures``: the sweep's figures;
- ``report``: the setting line, the summary's own keys and the Markdown tables;
- ``experiment``: :class:`Exp3` on the skeleton and :data:`EXP3`;
- ``eval_noise``: ``python -m factordiff.experiments.exp3.eval_noise``, the sampling noise of
  a finished folder's accuracy (not imported here, so that ``python -m`` runs it cleanly).

The step budget, the scoring of the last two checkpoints, the plateau check and the budget
gate are shared with the percolation experiment and live in
:mod:`factordiff.experiments.budgets`; they are re-exported here as well, with every other
public name callers imported from the former ``exp3`` and ``exp3_tables`` modules.
"""

from __future__ import annotations

from factordiff.experiments.budgets import (
    BUDGET_GATE_RULE,
    budget_check_lines,
    budget_gate,
    check_min_seeds,
    checkpoint_accuracy,
    fmt_number,
    frame_lattice,
    label_mask,
    plateau_check,
    sample_rows,
    score_last_two,
    stats,
    with_step_budget,
)
from factordiff.experiments.exp3.analysis import analyse_run, eval_sites
from factordiff.experiments.exp3.config import (
    DATASETS,
    PRESETS,
    SIZE_MEASURES,
    THRESHOLD_METRICS,
    Exp3Config,
    exp3_config,
)
from factordiff.experiments.exp3.experiment import EXP3, Exp3
from factordiff.experiments.exp3.figures import PAPER_SLOPES, draw_figures, share_curves
from factordiff.experiments.exp3.report import describe_setting, report_sections, summary_extra
from factordiff.experiments.exp3.runs import dataset_config, sweep_runs
from factordiff.experiments.exp3.tables import (
    accuracy_table,
    heldout_exponents,
    report_lines,
    size_table,
    stripes_per_n,
)
from factordiff.experiments.exp3.verdicts import (
    exponent_verdict,
    fit_exponents,
    threshold_sizes,
    verdicts_from_rows,
)

__all__ = [
    "BUDGET_GATE_RULE",
    "DATASETS",
    "EXP3",
    "PAPER_SLOPES",
    "PRESETS",
    "SIZE_MEASURES",
    "THRESHOLD_METRICS",
    "Exp3",
    "Exp3Config",
    "accuracy_table",
    "analyse_run",
    "budget_check_lines",
    "budget_gate",
    "check_min_seeds",
    "checkpoint_accuracy",
    "dataset_config",
    "describe_setting",
    "draw_figures",
    "eval_sites",
    "exp3_config",
    "exponent_verdict",
    "fit_exponents",
    "fmt_number",
    "frame_lattice",
    "heldout_exponents",
    "label_mask",
    "plateau_check",
    "report_lines",
    "report_sections",
    "sample_rows",
    "score_last_two",
    "share_curves",
    "size_table",
    "stats",
    "stripes_per_n",
    "summary_extra",
    "sweep_runs",
    "threshold_sizes",
    "verdicts_from_rows",
    "with_step_budget",
]
