"""Figures of the percolation model and its experiment: numbers in, ``Figure`` out.

A leaf like :mod:`factordiff.plotting` (which re-exports these functions): nothing here
trains, samples, scores or judges; the experiment modules pass the numbers they saved and
save what these return with :func:`save_figure`. Every figure that shows a quantity measured
per seed draws every seed (a thin line each, gid ``"seed"``) beside the mean, and log axes
are labelled in plain numbers (:func:`plain_log_axis`); those helpers are in
:mod:`factordiff.plotting_common`, the Exp 3 figures in :mod:`factordiff.plotting_scaling`
(both re-exported here, where they lived before).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from factordiff.plotting_common import (  # noqa: F401  (re-exported: plotting_exp.save_figure ...)
    SEED_GID,
    _sigma_colors,
    plain_log_axis,
    save_figure,
    seed_lines,
)
from factordiff.plotting_scaling import (  # noqa: F401  (re-exported)
    plot_accuracy_vs_share,
    plot_threshold_size_scaling,
)


def plot_overlap_vs_spacing(
    spacings: np.ndarray,
    rendered: Mapping[float, np.ndarray],
    analytic: Mapping[float, np.ndarray] | None = None,
    thresholds: Sequence[float] = (),
    lattice_spacing: float | None = None,
) -> Figure:
    """Overlap of two neighbouring bumps against their spacing ``d`` (paper Fig. 6a).

    Args:
        spacings: (K,) centre distances in px.
        rendered: ``{sigma: (K,) overlaps from rendered images}``, drawn as markers.
        analytic: ``{sigma: (K,) closed-form overlaps}``, drawn as lines.
        thresholds: overlap thresholds, drawn as dashed horizontal lines.
        lattice_spacing: the lattice's ``d``, drawn as a dotted vertical line.

    Left panel linear, right panel logarithmic (where thresholds like 0.005 are visible).
    """
    d = np.asarray(spacings, dtype=float)
    colors = _sigma_colors(list(rendered) + list(analytic or {}))
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, log in zip(axes, (False, True)):
        for s, c in colors.items():
            if analytic is not None and s in analytic:
                ax.plot(d, np.asarray(analytic[s]), "-", color=c, lw=1.2)
            if s in rendered:
                ax.plot(d, np.asarray(rendered[s]), "o", color=c, ms=2.5, label=f"σ = {s:g} px")
        for t in thresholds:
            ax.axhline(t, color="0.4", ls="--", lw=0.8)
            ax.text(d.max(), t, f" {t:g}", va="bottom", ha="right", fontsize=7, color="0.3")
        if lattice_spacing is not None:
            ax.axvline(lattice_spacing, color="0.5", ls=":", lw=0.8)
        ax.set_xlabel("spacing d of neighbouring centres (px)")
        ax.set_ylabel("overlap <a,b> / (|a| |b|)")
        if log:
            ax.set_yscale("log")
            ax.set_ylim(1e-4, 1.5)
        else:
            ax.set_ylim(-0.02, 1.02)
    axes[0].legend(fontsize=8)
    axes[0].set_title("markers: rendered images; lines: exp(-d²/4σ²)", fontsize=9)
    axes[1].set_title("log scale", fontsize=9)
    return fig


def plot_mass_ratio(
    curves: Mapping[tuple[float, float], tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    critical: Mapping[tuple[float, float], float] | None = None,
    ylabel: str = "largest cluster / kept points",
    log_lambda: bool = True,
    half_line: bool = True,
) -> Figure:
    """Largest-cluster mass ratio against the kept share lambda, one panel per threshold
    and one line per width (paper Figs. 6b-c, 13).

    Args:
        curves: ``{(sigma, threshold): (lambdas (M,), mean (M,), std (M,) or None)}``; the
            standard deviation over draws is drawn as a band.
        critical: ``{(sigma, threshold): critical lambda}`` (NaN skipped), drawn as a
            vertical tick with its value in the legend.
        log_lambda: logarithmic lambda axis (wide bumps percolate at lambda of a few %).
        half_line: draw the 0.5 level that defines the critical lambda.
    """
    thresholds = sorted({t for _, t in curves})
    colors = _sigma_colors([s for s, _ in curves])
    fig = Figure(figsize=(4.6 * len(thresholds), 3.7), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(thresholds), squeeze=False)[0])
    for ax, t in zip(axes, thresholds):
        for (s, tt), (lam, mean, std) in sorted(curves.items()):
            if tt != t:
                continue
            lam, mean = np.asarray(lam, dtype=float), np.asarray(mean, dtype=float)
            label = f"σ = {s:g} px"
            crit = (critical or {}).get((s, t), math.nan)
            if math.isfinite(crit):
                label += f", λc = {crit:.3f}"
                ax.axvline(crit, color=colors[s], ls=":", lw=1)
            ax.plot(lam, mean, "-", color=colors[s], lw=1.4, label=label)
            if std is not None:
                std = np.asarray(std, dtype=float)
                ax.fill_between(lam, mean - std, mean + std, color=colors[s], alpha=0.15, lw=0)
        if half_line:
            ax.axhline(0.5, color="0.6", ls="--", lw=0.7)
        if log_lambda:
            ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("kept share λ of the lattice")
        ax.set_ylabel(ylabel)
        ax.set_title(f"overlap threshold {t:g}")
        ax.legend(fontsize=7, loc="upper left")
    return fig


def plot_percolation_vs_accuracy(
    simulated: Mapping[Any, tuple[np.ndarray, np.ndarray]],
    trained: Mapping[Any, tuple[np.ndarray, np.ndarray]],
    critical: Mapping[Any, float] | None = None,
    ylabel: str = "mass ratio (lines) / accuracy (markers)",
    log_lambda: bool = False,
) -> Figure:
    """Simulated percolation curves and trained models' accuracy on one axis (Fig. 6 c/e).

    Args:
        simulated: ``{sigma: (lambdas (M,), mass ratio (M,))}``, drawn as lines.
        trained: ``{sigma: (lambdas (K,), accuracy (K,) or (S, K))}``, drawn as markers with
            the mean over seeds and, for (S, K), their standard deviation as error bars and
            each seed as a thin line (:func:`seed_lines`).
        critical: ``{sigma: simulated critical lambda}``, drawn as dotted vertical lines.

    Keys are matched by value; a width gets one colour in both.
    """
    keys = [float(k) for k in list(simulated) + list(trained)]
    colors = _sigma_colors(keys)
    # beside the simulated curves the legend goes to the right, off the lines
    fig = Figure(figsize=(7.6 if simulated else 5.6, 3.8), layout="constrained")
    ax = fig.subplots()
    for s, (lam, mass) in sorted(simulated.items()):
        ax.plot(
            np.asarray(lam),
            np.asarray(mass),
            "-",
            color=colors[float(s)],
            lw=1.3,
            label=f"σ = {s:g} px, simulated",
        )
        crit = (critical or {}).get(s, math.nan)
        if math.isfinite(crit):
            ax.axvline(crit, color=colors[float(s)], ls=":", lw=1)
    first = True
    for s, (lam, acc) in sorted(trained.items()):
        acc = np.asarray(acc, dtype=float)
        acc = acc[None] if acc.ndim == 1 else acc
        mean = np.nanmean(acc, axis=0)
        err = np.nanstd(acc, axis=0) if acc.shape[0] > 1 else None
        ax.errorbar(
            np.asarray(lam),
            mean,
            yerr=err,
            fmt="o",
            color=colors[float(s)],
            ms=4,
            capsize=2,
            label=f"σ = {s:g} px, trained (mean ± std)"
            if err is not None
            else f"σ = {s:g} px, trained",
        )
        drawn = seed_lines(
            ax, lam, acc, colors[float(s)], f"each of {len(acc)} seeds" if first else None
        )
        first = first and not drawn
    if log_lambda:
        ax.set_xscale("log")
        plain_log_axis(ax, "x")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("kept share λ of the lattice")
    ax.set_ylabel(ylabel)
    if simulated:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        ax.legend(fontsize=7)
    return fig


def plot_loss_vs_lambda(train: Mapping[float, tuple], val: Mapping[float, tuple]) -> Figure:
    """Final training loss (left) and validation loss (right) against lambda (Fig. 14c).

    ``train[sigma]`` and ``val[sigma]`` are ``(lambdas (K,), loss mean (K,)[, per seed
    (S, K)])``: the mean as a line with markers, each seed as a thin line."""
    colors = _sigma_colors(list(train) + list(val))
    fig = Figure(figsize=(8.6, 3.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, data, name in zip(axes, (train, val), ("final training loss", "validation loss")):
        for j, (s, (lam, loss, *per)) in enumerate(sorted(data.items())):
            several = bool(per) and np.atleast_2d(per[0]).shape[0] > 1
            ax.plot(
                lam,
                loss,
                "o-",
                color=colors[s],
                label=f"σ = {s:g} px" + (", mean" if several else ""),
            )
            if per:
                seed_lines(ax, lam, per[0], colors[s], "each seed" if j == 0 else None)
        ax.set_xscale("log")
        plain_log_axis(ax, "x")
        ax.set_xlabel("kept share λ of the lattice")
        ax.set_ylabel(name)
        ax.legend(fontsize=7)
    return fig


def plot_umap_grid(
    embeddings: Mapping[tuple, np.ndarray], labels: np.ndarray, seed: int | None = None
) -> Figure:
    """2D UMAP of the final representation per (sigma, lambda), coloured by mu_x (Fig. 15),
    with one colour bar for every panel.

    ``embeddings[(sigma, lambda)]`` (n, 2); ``labels`` (n, 2) the conditions; ``seed``: the
    runs' seed, named in the title."""
    sig = sorted({s for s, _ in embeddings})
    lam = sorted({x for _, x in embeddings})
    fig = Figure(figsize=(1.9 * len(lam) + 0.6, 1.9 * len(sig) + 0.4), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(sig), len(lam), squeeze=False))
    c = np.asarray(labels)[:, 0]
    lo, hi = float(c.min()), float(c.max())
    sc = None
    for i, s in enumerate(sig):
        for j, x in enumerate(lam):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if (s, x) in embeddings:
                e = embeddings[(s, x)]
                sc = ax.scatter(e[:, 0], e[:, 1], c=c, cmap="viridis", vmin=lo, vmax=hi, s=3)
            ax.set_title(f"σ {s:g} px, λ {x:g}", fontsize=7)
    if sc is not None:
        fig.colorbar(sc, ax=axes, shrink=0.6, aspect=30, pad=0.01, label="$\\mu_x$ (px)")
    which = "" if seed is None else f" (seed {seed})"
    fig.suptitle(
        f"2D UMAP of the final representation{which}: one panel per width σ and "
        "kept share λ, coloured by $\\mu_x$",
        fontsize=9,
    )
    return fig


def plot_cluster_maps(maps: Mapping[float, np.ndarray], title: str = "") -> Figure:
    """Kept lattice sites coloured by cluster, one panel per kept share (paper Fig. 6b).

    ``maps[lambda]`` is a (K, K) int array of cluster ids with 0 the largest cluster and -1
    an unkept site (rows = y, columns = x). The largest cluster is red, other clusters grey
    shades, unkept sites white."""
    from matplotlib.colors import ListedColormap

    fig = Figure(figsize=(2.6 * len(maps), 2.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(maps), squeeze=False)[0])
    cmap = ListedColormap(["white", "tab:red", "0.35", "0.55", "0.7"])
    for ax, (lam, m) in zip(axes, maps.items()):
        m = np.asarray(m)
        # -1 -> 0 (white), 0 -> 1 (red), other clusters cycle through three greys
        code = np.where(m < 0, 0, np.where(m == 0, 1, 2 + (m - 1) % 3))
        ax.imshow(code, cmap=cmap, vmin=0, vmax=4, origin="lower", interpolation="nearest")
        kept = int((m >= 0).sum())
        frac = (m == 0).sum() / max(kept, 1)
        ax.set_title(f"λ = {lam:.3g}: largest {frac:.2f} of {kept}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
