"""Experiment 3's sweep: the training data of every run, on one step budget.

:func:`sweep_runs` lists every run of a config as ``(params, run config)``, in a fixed order
(the sweep's folders are named from the run configs, so the order and the configs are part
of the experiment's record); :func:`dataset_config` is the data of one run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from factordiff.config import DataConfig, RunConfig
from factordiff.data.rescale import scaled_data_config
from factordiff.experiments.budgets import with_step_budget
from factordiff.experiments.exp3.config import DATASETS, Exp3Config


def dataset_config(
    base: DataConfig, dataset: str, n: int, share: float, stripes_share: float | None = None
) -> DataConfig:
    """The data of one run: (a) ``bumps`` = the ``bump`` preset, (b) ``bumps+stripes`` = the
    ``bump+stripes`` preset (margin scaled with N), at size ``n``; the 2D bumps subsampled by
    ``share``, (b)'s 1D stripes by ``stripes_share`` (None: by ``share`` too, the design
    before 2026-12-06; 1.0: every stripe kept). Bump width and lattice spacing come from
    ``base``.

    The bump part of (b) is then the very same subset as (a)'s training set: both are drawn
    from the first random stream of the seed over the same in-frame sites in the same order."""
    from factordiff.data import get_dataset_preset

    if dataset not in DATASETS:
        raise ValueError(f"dataset = {dataset!r} is invalid; allowed: {list(DATASETS)}")
    preset = get_dataset_preset("bump" if dataset == "bumps" else "bump+stripes")
    preset = replace(preset, sigma_x=base.sigma_x, sigma_y=base.sigma_y, dx=base.dx, dy=base.dy)
    data = scaled_data_config(preset, n)
    kept = share if stripes_share is None else stripes_share
    extra = {"stripes_subsample": kept} if data.mix_stripes else {}
    out = replace(data, subsample=share, **extra)
    out.validate()
    return out


def sweep_runs(cfg: Exp3Config) -> list[tuple[dict[str, Any], RunConfig]]:
    out = []
    for n in cfg.image_sizes:
        for share in cfg.shares:
            for dataset in DATASETS:
                for seed in cfg.seed_list():
                    data = dataset_config(cfg.run.data, dataset, n, share, cfg.stripes_share)
                    run = replace(cfg.run, seed=seed, data=data)
                    run = with_step_budget(run, cfg.max_steps, cfg.eval_fraction)
                    params = {"N": n, "share": share, "dataset": dataset, "seed": seed}
                    out.append((params, run))
    return out
