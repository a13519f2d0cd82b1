"""The percolation experiment's sweep: one run per (sigma, lambda, seed) on one step budget.

:func:`sweep_runs` lists every run of a config as ``(params, run config)``, in a fixed order
(the sweep's folders are named from the run configs, so the order and the configs are part
of the experiment's record).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from factordiff.config import RunConfig
from factordiff.experiments.budgets import with_step_budget
from factordiff.experiments.percolation.config import PercolationExpConfig


def sweep_runs(cfg: PercolationExpConfig) -> list[tuple[dict[str, Any], RunConfig]]:
    """One run per (sigma, lambda, seed): the run's bump data with only sigma and the share
    changed (frame ``image_size``, no margin, no hole)."""
    out = []
    for sigma in cfg.sigmas:
        for lam in cfg.lambdas:
            for seed in cfg.seed_list():
                data = replace(
                    cfg.run.data,
                    kind="bump",
                    image_size=cfg.image_size,
                    sigma_x=sigma,
                    sigma_y=sigma,
                    subsample=lam,
                )
                run = replace(cfg.run, seed=seed, data=data)
                run = with_step_budget(run, cfg.max_steps, cfg.eval_fraction)
                out.append(({"sigma": sigma, "lambda": lam, "seed": seed}, run))
    return out
