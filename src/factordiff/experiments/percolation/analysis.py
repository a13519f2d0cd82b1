"""The percolation experiment's measurements: per finished run (:func:`analyse_run`) the
accuracy of its last two checkpoints, its final training loss and a validation loss at fixed
noise, the mass ratio of its own kept sites and (optionally) its final representation; and
the simulated largest-cluster mass ratio on the same lattice (:func:`simulate_curves`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from factordiff.experiments.budgets import frame_lattice, label_mask, sample_rows, score_last_two
from factordiff.experiments.percolation.config import PercolationExpConfig
from factordiff.experiments.sweep import SweepRun


def last_train_loss(run_dir: Path) -> float:
    """The last logged training loss of a run (mean over its last logging interval)."""
    from factordiff.training import read_metrics  # skips replays, names a bad line

    last = math.nan
    if (Path(run_dir) / "metrics.jsonl").is_file():
        for rec in read_metrics(run_dir):
            if "loss" in rec:
                last = float(rec["loss"])
    return last


def fixed_noise_loss(model, diffusion, images, labels, repeats: int, seed: int) -> float:
    """Mean diffusion loss of ``model`` on (images (M, 1, N, N), labels (M, 2)) over
    ``repeats`` fixed (timestep, noise) draws per image, drawn from ``seed``: the same
    noise and timesteps for every run scored on the same sites."""
    import torch

    if len(images) == 0:
        return math.nan
    gen = torch.Generator().manual_seed(seed)
    losses = []
    with torch.no_grad():
        for _ in range(repeats):
            losses.append(diffusion.training_losses(model, images, labels, gen).mean().item())
    return float(np.mean(losses))


def analyse_run(cfg: PercolationExpConfig, run: SweepRun, device: str) -> dict:
    """Accuracy at the last two checkpoints, final training and validation loss, the mass
    ratio of the run's own kept sites, and (optionally) the final representation."""
    import torch

    from factordiff.analysis.percolation_clusters import cluster_labels, kept_mask_from_labels
    from factordiff.analysis.percolation_model import lattice_graph
    from factordiff.data import build_labels, render_images
    from factordiff.diffusion import GaussianDiffusion
    from factordiff.training import list_checkpoints, load_model, resolve_device

    rc = run.config
    sigma = rc.data.sigma_x
    ls = build_labels(rc.data, seed=rc.seed)
    sites_all = frame_lattice(cfg.image_size, rc.data)
    sites = sites_all[sample_rows(len(sites_all), cfg.num_eval, cfg.eval_seed)]
    trained = label_mask(sites, ls.labels)
    ckpts = list_checkpoints(run.dir)[-2:]
    last, prev = score_last_two(ckpts, sites, trained, rc.data, cfg, device, overall="accuracy")

    dev = resolve_device(device)
    model, _, _ = load_model(ckpts[-1], ema=True, map_location=dev)
    diffusion = GaussianDiffusion(rc.diffusion)

    def loss_on(labels: np.ndarray) -> float:
        imgs = render_images(labels, rc.data).to(dev)
        lab = torch.as_tensor(labels, dtype=torch.float32).to(dev)
        return fixed_noise_loss(model, diffusion, imgs, lab, cfg.val_repeats, cfg.eval_seed)

    held_sites = sites[~trained]
    train_sites = ls.labels[sample_rows(len(ls.labels), cfg.num_eval, cfg.eval_seed)]
    row: dict[str, Any] = {
        "sigma": sigma,
        "lambda": run.params["lambda"],
        "seed": rc.seed,
        "n_images": int(len(ls.labels)),
        "step": last["step"],
        "accuracy": last["accuracy"],
        "heldout": last["heldout"],
        "step_prev": prev["step"],
        "accuracy_prev": prev["accuracy"],
        "heldout_prev": prev["heldout"],
        "train_loss": last_train_loss(run.dir),
        "train_loss_fixed": loss_on(train_sites),
        "val_loss": loss_on(held_sites),
        "n_val": int(len(held_sites)),
    }
    for t in cfg.thresholds:  # the mass ratio of the very subset this model saw
        graph = lattice_graph(sigma, t, image_size=cfg.image_size, spacing=rc.data.dx)
        lab = cluster_labels(graph, kept_mask_from_labels(graph, ls.labels))
        kept = lab >= 0
        row[f"mass_ratio_t{t:g}"] = float((lab == 0).sum() / max(1, kept.sum()))
    out: dict[str, Any] = {"row": row}
    if cfg.umap:
        from factordiff.analysis.activations import extract_representation

        grid = frame_lattice(cfg.image_size, rc.data)
        rep = extract_representation(
            model, grid, t=rc.diffusion.num_train_timesteps - 1, pooling="flatten", seed=0
        )
        out["representation"] = (rep.X, grid)
    return out


# ----------------------------------------------------------------------------- simulation
def simulate_curves(cfg: PercolationExpConfig, spacing: float) -> dict:
    """``{(sigma, threshold): MassRatioCurve}`` on the experiment's lattice."""
    from factordiff.analysis.percolation_clusters import mass_ratio_curve
    from factordiff.analysis.percolation_model import lattice_graph

    k = len(frame_lattice(cfg.image_size, cfg.run.data))
    lo = max(1.0 / k, 1e-3)  # below one kept site per lattice the curve is meaningless
    lams = np.unique(np.geomspace(lo, 1.0, cfg.sim_lambdas))
    out = {}
    for s in cfg.sigmas:
        for t in cfg.thresholds:
            g = lattice_graph(s, t, image_size=cfg.image_size, spacing=spacing)
            out[(s, t)] = mass_ratio_curve(g, lams, cfg.sim_draws, seed=0)
    return out
