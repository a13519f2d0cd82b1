"""The percolation experiment's figures: accuracy against lambda, the simulated mass ratio,
both on one axis per overlap threshold, the losses against lambda and the UMAP grid of the
final representations (:func:`draw_figures`; the plots themselves are in
:mod:`factordiff.plotting` and :mod:`factordiff.plotting_exp`).
"""

from __future__ import annotations

from pathlib import Path

from factordiff.experiments.percolation.config import PercolationExpConfig
from factordiff.experiments.percolation.curves import mean_curves
from factordiff.plotting_exp import plot_loss_vs_lambda, plot_umap_grid


def draw_figures(
    cfg: PercolationExpConfig, results: list[dict], fig_dir: Path, sim: dict
) -> list[str]:
    """Draw the sweep's figures into ``fig_dir`` beside the simulated curves ``sim``
    (``{(sigma, threshold): MassRatioCurve}``); returns the file names written."""
    from factordiff.plotting import (
        plot_mass_ratio,
        plot_percolation_vs_accuracy,
        save_figure,
    )

    fig_dir.mkdir(parents=True, exist_ok=True)
    rows = [r["row"] for r in results]
    acc = {s: (lam, per) for s, (lam, _, per) in mean_curves(rows).items()}
    written = []

    def save(fig, name: str) -> None:
        save_figure(fig, fig_dir / name)
        written.append(name)

    save(
        plot_percolation_vs_accuracy({}, acc, ylabel="terminal accuracy", log_lambda=True),
        "accuracy_vs_lambda.png",
    )
    save(
        plot_mass_ratio(
            {k: (c.lambdas, c.kept_mean, c.kept_std) for k, c in sim.items()},
            {k: c.critical_lambda for k, c in sim.items()},
        ),
        "mass_ratio.png",
    )
    for t in cfg.thresholds:
        simt = {s: (c.lambdas, c.kept_mean) for (s, tt), c in sim.items() if tt == t}
        crit = {s: c.critical_lambda for (s, tt), c in sim.items() if tt == t}
        save(
            plot_percolation_vs_accuracy(simt, acc, crit, log_lambda=True),
            f"percolation_vs_accuracy_t{t:g}.png",
        )
    # (lambdas, mean over seeds, per seed) per width
    loss = {k: mean_curves(rows, k) for k in ("train_loss", "val_loss")}
    save(plot_loss_vs_lambda(loss["train_loss"], loss["val_loss"]), "loss_vs_lambda.png")
    first = min(cfg.seed_list())
    reps = [r for r in results if "representation" in r and r["row"]["seed"] == first]
    if reps:
        from factordiff.analysis.geometry import UMAPEmbedding

        emb = {}
        for r in reps:
            X, grid = r["representation"]
            emb[(r["row"]["sigma"], r["row"]["lambda"])] = (
                UMAPEmbedding(n_components=2, n_neighbors=min(15, len(X) - 1), random_state=0)
                .fit(X)
                .embedding_
            )
        save(plot_umap_grid(emb, reps[0]["representation"][1], seed=first), "umap.png")
    return written
