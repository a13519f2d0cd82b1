"""Experiment 3's analysis of a finished run: the last two checkpoints scored on 2D bumps at
lattice sites of the frame (:func:`analyse_run`), at the sites of :func:`eval_sites`.
"""

from __future__ import annotations

import math

import numpy as np

from factordiff.config import DataConfig
from factordiff.experiments.budgets import frame_lattice, label_mask, sample_rows, score_last_two
from factordiff.experiments.exp3.config import Exp3Config
from factordiff.experiments.sweep import SweepRun


def eval_sites(cfg: Exp3Config, data: DataConfig) -> np.ndarray:
    """The conditions a run on ``data`` is scored at, one sample each: the frame's lattice
    sites, a fixed sample of ``num_eval`` of them when there are more; with ``repeat_sites``
    and fewer sites, every site ``ceil(num_eval / sites)`` times (each sample draws its own
    noise: sample k uses seed ``eval_seed + k``)."""
    sites = frame_lattice(data.image_size, data)
    if cfg.repeat_sites and len(sites) < cfg.num_eval:
        return np.tile(sites, (math.ceil(cfg.num_eval / len(sites)), 1))
    return sites[sample_rows(len(sites), cfg.num_eval, cfg.eval_seed + data.image_size)]


def analyse_run(cfg: Exp3Config, run: SweepRun, device: str) -> dict:
    """Score the last two checkpoints of a run on 2D bumps at frame lattice sites.

    The conditions are the frame's lattice sites (a fixed sample of ``num_eval`` when there
    are more); ``heldout`` accuracy is over those not in (a)'s training set (the bump part
    of the run's own dataset; NaN when every site was trained on)."""
    from factordiff.data import build_labels
    from factordiff.training import list_checkpoints

    rc = run.config
    n = rc.data.image_size
    ls = build_labels(rc.data, seed=rc.seed)
    bumps_a = ls.labels[ls.parts == ls.part_names.index("bump")]
    sites = eval_sites(cfg, rc.data)
    trained = label_mask(sites, bumps_a)  # (M,) site in (a)'s training set
    last, prev = score_last_two(
        list_checkpoints(run.dir)[-2:], sites, trained, rc.data, cfg, device, overall="lattice"
    )
    row = {
        "N": n,
        "share": run.params["share"],
        "dataset": run.params["dataset"],
        "seed": rc.seed,
        "n_images": int(len(ls.labels)),
        "n_bumps": int(len(bumps_a)),
        "n_eval": int(len(sites)),
        "n_sites": int(len(np.unique(sites, axis=0))),
        "n_eval_heldout": int((~trained).sum()),
        "step": last["step"],
        "lattice": last["lattice"],
        "heldout": last["heldout"],
        "step_prev": prev["step"],
        "lattice_prev": prev["lattice"],
        "heldout_prev": prev["heldout"],
    }
    return {"row": row}
