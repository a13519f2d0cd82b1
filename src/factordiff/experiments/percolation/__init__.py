"""The percolation experiment of the paper: a sudden onset of learning (Figs. 6e, 14c, 15).

A package on the experiment skeleton (``factordiff.experiments.skeleton``). Models are
trained, on one step budget, on 2D bump datasets that differ only in the bump width sigma,
each at several kept shares lambda of the lattice (``data.subsample``). Per run: the terminal
accuracy of 2D bumps at frame lattice sites, the final training loss (the last logged value
of ``metrics.jsonl``), a validation loss (the diffusion loss of the EMA model on lattice
sites held out of its training set, at fixed noise and timesteps) and, optionally, a UMAP of
the final representation. Beside them, the simulated largest-cluster mass ratio for the same
sigma and lattice (:mod:`factordiff.analysis.percolation_model`, thresholds 0.005 and 0.05).

Claims: the onset is sharp, comes earlier for wider bumps, and sits near the simulated
percolation threshold, each measured on every seed's own curves and judged from its interval
over seeds (:func:`verdicts_from_rows`). Since 2026-12-06 the sharp and near rules compare
the trained onset with the simulated onset at the same N, sigma and overlap threshold
(:mod:`.onset_rules`). The rules are in :class:`PercolationExpConfig` and docs/exp3.md.

The modules, in the order a run goes through them:

- ``config``: :class:`PercolationExpConfig`, its validation, the share grids and the presets;
- ``runs``: the training data of every run of the sweep, on one step budget;
- ``analysis``: a finished run's accuracy, losses, mass ratio and representation, and the
  simulated curves of the same lattice;
- ``onset_rules``: the simulated onset and the sharp and near statistics against it;
- ``curves``: the accuracy curves and the three claims measured on them;
- ``verdicts``: the claims' rules and one verdict per claim over the seeds;
- ``figures``: the sweep's figures;
- ``report``: the setting line, the summary's own keys and the Markdown tables;
- ``experiment``: :class:`PercolationExperiment` on the skeleton and :data:`PERCOLATION`;
- ``onset_calibration``: ``python -m factordiff.experiments.percolation.onset_calibration``,
  the onset rules calibrated on the simulation (not imported here, so that ``python -m``
  runs it cleanly).

The step budget, the scoring of the last two checkpoints, the plateau check and the budget
gate are shared with Experiment 3 and live in :mod:`factordiff.experiments.budgets`. Every
public name callers imported from the former ``percolation``, ``percolation_verdicts`` and
``onset_rules`` modules is re-exported here.

Not to be confused with :mod:`factordiff.analysis.percolation_model`, the percolation model
itself (the overlap graph and its simulated mass ratio).
"""

from __future__ import annotations

from factordiff.experiments.percolation.analysis import (
    analyse_run,
    fixed_noise_loss,
    last_train_loss,
    simulate_curves,
)
from factordiff.experiments.percolation.config import (
    FINE_SHARES,
    PAPER_LAMBDAS,
    PRESETS,
    QUICK_LAMBDAS,
    PercolationExpConfig,
    percolation_config,
)
from factordiff.experiments.percolation.curves import (
    crossing,
    crossing_span,
    curve_measures,
    decided,
    mean_curves,
    seed_curves,
)
from factordiff.experiments.percolation.experiment import PERCOLATION, PercolationExperiment
from factordiff.experiments.percolation.figures import (
    draw_figures,
    plot_loss_vs_lambda,
    plot_umap_grid,
)
from factordiff.experiments.percolation.onset_rules import (
    LEVELS,
    SimOnset,
    best_over_thresholds,
    factor_two_coverage,
    first_reach,
    near_span,
    position,
    rise,
    sharp_span,
    simulated_onset,
)
from factordiff.experiments.percolation.report import (
    describe_setting,
    report_sections,
    summary_extra,
)
from factordiff.experiments.percolation.runs import sweep_runs
from factordiff.experiments.percolation.verdicts import (
    claim_rules,
    claim_texts,
    verdicts_from_rows,
)

__all__ = [
    "FINE_SHARES",
    "LEVELS",
    "PAPER_LAMBDAS",
    "PERCOLATION",
    "PRESETS",
    "QUICK_LAMBDAS",
    "PercolationExpConfig",
    "PercolationExperiment",
    "SimOnset",
    "analyse_run",
    "best_over_thresholds",
    "claim_rules",
    "claim_texts",
    "crossing",
    "crossing_span",
    "curve_measures",
    "decided",
    "describe_setting",
    "draw_figures",
    "factor_two_coverage",
    "first_reach",
    "fixed_noise_loss",
    "last_train_loss",
    "mean_curves",
    "near_span",
    "percolation_config",
    "plot_loss_vs_lambda",
    "plot_umap_grid",
    "position",
    "report_sections",
    "rise",
    "seed_curves",
    "sharp_span",
    "simulate_curves",
    "simulated_onset",
    "summary_extra",
    "sweep_runs",
    "verdicts_from_rows",
]
