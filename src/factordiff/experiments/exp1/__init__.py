"""Experiment 1 of the paper: does the model factorize x and y? (periodic bumps, a torus)

A package on the experiment skeleton (``factordiff.experiments.skeleton``): its presets, its
sweep (one run per seed, or per seed and thread count), its analysis of a run (the
representation at every kept checkpoint, beside an ideal 3D ring torus, x and y coupled, and
a 4D Clifford torus, x and y factorized), its claims with their rules, and the paper's
Figs. 2-3. :func:`run_exp1` runs it; rerunning the same call skips finished runs, resumes
unfinished ones and redoes the analysis. The folder layout is the skeleton's
(``OUT/runs/<key>/`` per run).

The modules, in the order a run goes through them:

- ``config``: :class:`Exp1Config`, its validation and the presets;
- ``variants``: the training variants (``--variant NAME``), each a set of overrides;
- ``runs``: the sweep's runs, and a seed's runs under several thread counts read as one;
- ``analysis``: a finished run analysed (every kept checkpoint, the raw images, the map);
- ``rules``: each claim's statistics and rules over seeds, and the control (epoch 0);
- ``claims``: one verdict per claim for one run;
- ``readings``: beside the verdicts, the raw-images null and the "not aligned" reading;
- ``sensitivity_map``: every claim's rule over layers, timesteps, poolings and noise counts;
- ``figures``: the plots of the sweep, drawn from the saved arrays;
- ``report``: the setting line and the Markdown tables;
- ``experiment``: :class:`Exp1` on the skeleton, :data:`EXP1` and :func:`run_exp1`.

Every public name of these modules is re-exported here.
"""

from __future__ import annotations

from factordiff.experiments.exp1.analysis import analyse_run, map_columns, result_row
from factordiff.experiments.exp1.claims import gradual_verdict, per_run_answers, verdicts
from factordiff.experiments.exp1.config import (
    MIN_SEEDS,
    POOLINGS,
    PRESET_SEEDS,
    PRESETS,
    TITLE,
    Exp1Config,
    exp1_config,
    exp1_preset_config,
    load_exp1_config,
)
from factordiff.experiments.exp1.experiment import EXP1, Exp1, run_exp1
from factordiff.experiments.exp1.figures import (
    draw_figures,
    representation_figures,
    training_curves,
)
from factordiff.experiments.exp1.readings import (
    EFFECTIVE_DIMENSION_REACH,
    NOT_ALIGNED_CLAIM,
    NOT_ALIGNED_PAPER,
    RAW,
    SUPERFACTORED_REACH,
    not_aligned_reading,
    not_aligned_rules,
    not_aligned_section,
    not_aligned_statistics,
    raw_detail,
    runs_section,
    summary_readings,
)
from factordiff.experiments.exp1.report import describe_setting, render_report, report_sections
from factordiff.experiments.exp1.rules import (
    CONTROL,
    PAPER_EFFECTIVE_DIMENSION,
    control_summary,
    effective_dimension_rule,
    effective_dimension_rules,
    gradual_rules,
    gradual_statistic,
    orthogonality_rules,
    superfactored_rules,
    torus_rules,
)
from factordiff.experiments.exp1.runs import (
    finite_mean,
    group_by_seed,
    merge_runs,
    run_label,
    sweep_runs,
)
from factordiff.experiments.exp1.sensitivity_map import (
    MAP_CLAIMS,
    map_figures,
    map_raw_columns,
    map_rules,
    map_section,
    map_summary,
    sensitivity_map_of_run,
)
from factordiff.experiments.exp1.variants import DEFAULT_VARIANT, EXP1_VARIANTS, LONG_FACTOR

__all__ = [
    "CONTROL",
    "DEFAULT_VARIANT",
    "EFFECTIVE_DIMENSION_REACH",
    "EXP1",
    "EXP1_VARIANTS",
    "LONG_FACTOR",
    "MAP_CLAIMS",
    "MIN_SEEDS",
    "NOT_ALIGNED_CLAIM",
    "NOT_ALIGNED_PAPER",
    "PAPER_EFFECTIVE_DIMENSION",
    "POOLINGS",
    "PRESETS",
    "PRESET_SEEDS",
    "RAW",
    "SUPERFACTORED_REACH",
    "TITLE",
    "Exp1",
    "Exp1Config",
    "analyse_run",
    "control_summary",
    "describe_setting",
    "draw_figures",
    "effective_dimension_rule",
    "effective_dimension_rules",
    "exp1_config",
    "exp1_preset_config",
    "finite_mean",
    "gradual_rules",
    "gradual_statistic",
    "gradual_verdict",
    "group_by_seed",
    "load_exp1_config",
    "map_columns",
    "map_figures",
    "map_raw_columns",
    "map_rules",
    "map_section",
    "map_summary",
    "merge_runs",
    "not_aligned_reading",
    "not_aligned_rules",
    "not_aligned_section",
    "not_aligned_statistics",
    "orthogonality_rules",
    "per_run_answers",
    "raw_detail",
    "render_report",
    "report_sections",
    "representation_figures",
    "result_row",
    "run_exp1",
    "run_label",
    "runs_section",
    "sensitivity_map_of_run",
    "summary_readings",
    "superfactored_rules",
    "sweep_runs",
    "torus_rules",
    "training_curves",
    "verdicts",
]
