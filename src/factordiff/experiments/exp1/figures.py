"""Experiment 1's figures (the paper's Figs. 2-3), drawn from the saved analysis arrays:
plotting stays a leaf (``factordiff.plotting``), nothing here trains or samples.

:func:`draw_figures` writes the sweep's figures: the representation figures of the first
seed's run, the training curve of every seed and, where the first run was mapped, one
heatmap per claim of the sensitivity map (:mod:`.sensitivity_map`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from factordiff.experiments.exp1.rules import PAPER_EFFECTIVE_DIMENSION
from factordiff.experiments.exp1.runs import group_by_seed
from factordiff.experiments.exp1.sensitivity_map import map_figures


def draw_figures(results: list[dict], fig_dir: Path) -> list[str]:
    """The sweep's figures into ``fig_dir`` from every run's analysis (``results``, in the
    sweep's order); the names of the files written."""
    first = results[0]["result"]  # the representation figures show the first seed's run
    # the training curve shows every seed (its first run where a seed has several)
    every_seed = {seed: runs[0]["result"]["checkpoints"] for seed, runs in group_by_seed(results)}
    written = representation_figures(
        Path(first["out"]),
        first["checkpoints"],
        fig_dir,
        seed=results[0]["run"].config.seed,
        every_seed=every_seed,
    )
    if results[0].get("map") is not None:
        written += map_figures(results[0]["map"], fig_dir)
    return written


def representation_figures(
    analysis_dir: Path,
    checkpoints: list[dict],
    fig_dir: Path,
    seed: int | None = None,
    every_seed: dict[int, list[dict]] | None = None,
) -> list[str]:
    """Experiment figures from the saved analysis arrays (plotting stays a leaf): the
    representation figures of one run (``checkpoints``, of seed ``seed``), the training
    curve of every seed in ``every_seed`` (seed -> its checkpoints; default: this run)."""
    from sklearn.decomposition import PCA

    from factordiff.plotting import (
        plot_pca_views,
        plot_spectra_over_training,
        plot_training_curve,
        save_figure,
    )

    fig_dir.mkdir(parents=True, exist_ok=True)
    written = []
    which = "" if seed is None else f"seed {seed}"
    final = checkpoints[-1]
    # Copy the terminal checkpoint's comparison figures (model beside the two ideal tori).
    for name in ("persistence.png", "factorization.png", "umap_2d.png", "umap_3d.png"):
        src = analysis_dir / final["folder"] / name
        if src.is_file():
            shutil.copy2(src, fig_dir / name)
            written.append(name)

    every_seed = every_seed or {seed if seed is not None else 0: checkpoints}
    curves = training_curves(every_seed)
    if curves is not None:
        save_figure(
            plot_training_curve(
                *curves[1:],
                reference_dimension=PAPER_EFFECTIVE_DIMENSION,
                reference_label="paper: converges to about {value:g}",
                seeds=curves[0],
            ),
            fig_dir / "accuracy_effdim.png",
        )
        written.append("accuracy_effdim.png")

    k = len(checkpoints)
    panels = sorted({round(i * (k - 1) / max(1, min(k, 4) - 1)) for i in range(min(k, 4))})
    spectra = {
        f"epoch {checkpoints[i]['epoch']}": (
            np.asarray(checkpoints[i]["summary"]["spectrum"]),
            checkpoints[i]["accuracy"],
            checkpoints[i]["summary"]["top4_share"],
        )
        for i in panels
    }
    save_figure(plot_spectra_over_training(spectra, title=which), fig_dir / "pca_spectra.png")
    written.append("pca_spectra.png")

    views = {}
    for i in sorted({0, (k - 1) // 2, k - 1}):
        z = np.load(analysis_dir / checkpoints[i]["folder"] / "arrays.npz")
        proj = PCA(n_components=3, random_state=0).fit_transform(z["X"])
        views[f"epoch {checkpoints[i]['epoch']}"] = (proj, z["labels"])
    title = "the representation on its first three principal components" + (
        f" ({which})" if which else ""
    )
    save_figure(plot_pca_views(views, cyclic=True, title=title), fig_dir / "pca_3d.png")
    written.append("pca_3d.png")
    return written


def training_curves(every_seed: dict[int, list[dict]]):
    """``(seeds, epochs (K,), accuracy (S, K), effective dimension (S, K))`` at the epochs
    every seed analysed (None when fewer than two), from each seed's checkpoints."""
    seeds = sorted(every_seed)
    common = set.intersection(*({c["epoch"] for c in every_seed[s]} for s in seeds))
    epochs = sorted(common)
    if len(epochs) < 2:
        return None
    by = {s: {c["epoch"]: c for c in every_seed[s]} for s in seeds}
    acc = [[by[s][e]["accuracy"] for e in epochs] for s in seeds]
    eff = [[by[s][e]["summary"]["effective_dimension"] for e in epochs] for s in seeds]
    return seeds, epochs, acc, eff
