"""Experiment 2 of the paper: composition versus interpolation (Figs. 4, 10-12).

A package on the experiment skeleton (``factordiff.experiments.skeleton``). Its sweep:

- **main**: three models on the plus-shaped hole (x or y in the band 13 to 19 of 32 left
  out): ``2d`` (2D SOS with the hole), ``1d`` (1D stripes over the full range with the rim
  of 2D examples), ``2d+1d`` (both); every seed of ``seeds``.
- **rim**: the rim ablation, 1D stripes without the rim (``1d-norim``); the with-rim model is
  the main ``1d`` run (same config, so one folder); every seed of ``seeds``.
- **subsampling**: 2D bumps + 1D stripes with the 2D part kept at several sampling rates.
- **lesion**: 2D SOS without the k lattice columns nearest the middle of label space, for
  each k of ``lesion_columns`` (k = 0: no lesion; :mod:`.designs`).
- **squares**: 2D bumps and 2D SOS without a W x W square, interior or exterior.

The curves (subsampling, lesion, squares) run every seed of ``curve_seeds`` (default: every
seed of ``seeds``).

Every run trains on one step budget (``run.train.max_steps``), so that no run gets more
compute for having more data. The plus hole, margin and squares are stated at N = 32 and
scaled to ``image_size`` (``factordiff.data.rescale``); the lesions (in lattice
columns) and the rim (in px) are stated at ``image_size`` (:mod:`.designs`).

Each finished run is evaluated per section of label space (:func:`evaluate_run_sections`): for
each section, ``samples_per_section`` conditions are drawn inside it, one image generated per
condition and scored (x, y and joint accuracy). Each (section, axis) is marked *seen* when
the training set shows that coordinate value on that axis, *novel* otherwise;
:func:`classify_outcome` turns these into composes / interpolates by the rule stated there.

Each claim is judged over seeds (:func:`claim_rules`, :mod:`factordiff.experiments.judgement`):
every rule is a per-seed statistic, a threshold and the side the claim predicts, read from
the 90% interval over seeds; fewer seeds than ``min_seeds`` read inconclusive.

The modules, in the order a run goes through them:

- ``config``: :class:`Exp2Config`, its validation, the presets and the names of the parts,
  models and sections;
- ``designs``: the lesions and the rim on the lattice, and what each removes;
- ``runs``: the training data of every run of the sweep and the label spaces it is scored on;
- ``sections``: scoring section by section and the per-run outcome rule;
- ``analysis``: sampling and scoring a finished run, cached in the run folder;
- ``verdicts``: the claims' rules and one verdict per claim over the seeds;
- ``figures``: the plots (a leaf) and the sweep's figures;
- ``report``: the setting line and the Markdown tables;
- ``experiment``: :class:`Exp2` on the skeleton, :data:`EXP2` and :func:`run_exp2`.

Every public name of these modules that callers used is re-exported here.
"""

from __future__ import annotations

from factordiff.experiments.exp2.analysis import (
    evaluate_run_sections,
    result_row,
)
from factordiff.experiments.exp2.config import (
    EVAL_DIR,
    HOLE_SECTIONS,
    MAIN_DATASETS,
    MAIN_MODELS,
    PARTS,
    PLUS_SECTIONS,
    POSITIONS,
    PRESETS,
    RIM_GRID,
    SQUARE_KINDS,
    Exp2Config,
    exp2_config,
    load_exp2_config,
)
from factordiff.experiments.exp2.designs import (
    design_lines,
    design_problems,
    design_setting,
    design_summary,
    lesion_band,
    lesion_data,
    lesion_eval_data,
    lesion_rules,
    lesion_statistics,
    lesion_verdict,
    lesion_width_px,
    paper_rim_share,
    removed_columns,
    removed_lattice_labels,
    rim_data,
    rim_share,
)
from factordiff.experiments.exp2.experiment import (
    EXP2,
    Exp2,
    run_exp2,
)
from factordiff.experiments.exp2.figures import (
    draw_figures,
    plot_accuracy_curves,
    plot_image_grid,
    plot_section_bars,
)
from factordiff.experiments.exp2.report import (
    cpu_description,
    describe_setting,
    report_sections,
)
from factordiff.experiments.exp2.runs import (
    evaluations,
    index_results,
    main_data,
    plus_eval_data,
    rim_eval_data,
    square_data,
    subsampling_data,
    sweep_runs,
)
from factordiff.experiments.exp2.sections import (
    OUTCOME_RULE,
    classify_outcome,
    section_conditions,
    section_scores,
    seen_coordinates,
    shown_axes,
)
from factordiff.experiments.exp2.verdicts import (
    CLAIMS,
    claim_rules,
    claim_verdicts,
    hole_accuracy,
)

__all__ = [
    "CLAIMS",
    "EVAL_DIR",
    "EXP2",
    "HOLE_SECTIONS",
    "MAIN_DATASETS",
    "MAIN_MODELS",
    "OUTCOME_RULE",
    "PARTS",
    "PLUS_SECTIONS",
    "POSITIONS",
    "PRESETS",
    "RIM_GRID",
    "SQUARE_KINDS",
    "Exp2",
    "Exp2Config",
    "claim_rules",
    "claim_verdicts",
    "classify_outcome",
    "cpu_description",
    "describe_setting",
    "design_lines",
    "design_problems",
    "design_setting",
    "design_summary",
    "draw_figures",
    "evaluate_run_sections",
    "evaluations",
    "exp2_config",
    "hole_accuracy",
    "index_results",
    "lesion_band",
    "lesion_data",
    "lesion_eval_data",
    "lesion_rules",
    "lesion_statistics",
    "lesion_verdict",
    "lesion_width_px",
    "load_exp2_config",
    "main_data",
    "paper_rim_share",
    "plot_accuracy_curves",
    "plot_image_grid",
    "plot_section_bars",
    "plus_eval_data",
    "removed_columns",
    "removed_lattice_labels",
    "report_sections",
    "result_row",
    "rim_data",
    "rim_eval_data",
    "rim_share",
    "run_exp2",
    "section_conditions",
    "section_scores",
    "seen_coordinates",
    "shown_axes",
    "square_data",
    "subsampling_data",
    "sweep_runs",
]
