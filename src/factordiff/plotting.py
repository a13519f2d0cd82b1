"""Figures of the representation analysis: arrays and fitted results in, ``Figure`` out.

A leaf module: nothing here trains, samples or computes an analysis. Every function takes a
mapping ``{name: result}`` and draws one panel (column) per entry, so the model is shown
beside the ideal ring and Clifford tori as in the paper's Fig. 3. Figures are built with
``matplotlib.figure.Figure`` (no pyplot state), so they work under any backend; save them
with ``fig.savefig(path)``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

PRETTY = {
    "model": "model",
    "ring_torus": "ideal ring torus (3D)",
    "clifford_torus": "ideal Clifford torus (4D)",
    "random_feature_torus": "random features",
}


def _title(name: str) -> str:
    return PRETTY.get(name, name)


def plot_spectrum(spectra: Mapping[str, Any], n_components: int = 15) -> Figure:
    """Eigenspectrum: explained-variance ratio of the first PCs, one panel per entry.

    ``spectra[name]`` is a fitted ``PCASpectrum`` (or anything with ``pca_``) or an array
    (r,) of explained-variance ratios."""
    fig = Figure(figsize=(4 * len(spectra), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(spectra), squeeze=False)[0])
    for ax, (name, s) in zip(axes, spectra.items()):
        pca = getattr(s, "pca_", s)
        ratio = np.asarray(getattr(pca, "explained_variance_ratio_", pca))[:n_components]
        pcs = np.arange(1, len(ratio) + 1)
        ax.bar(pcs, ratio, color="tab:blue", label="per PC")
        ax.plot(pcs, np.cumsum(ratio), "o-", color="tab:orange", ms=3, label="cumulative")
        text = f"top-4 share {ratio[:4].sum():.2f}"
        if hasattr(pca, "effective_dimension_"):
            text += (
                f"\neff. dim {pca.effective_dimension_:.1f}, 90%: {pca.n_components_threshold_} PCs"
            )
        ax.text(0.97, 0.5, text, transform=ax.transAxes, ha="right", va="center", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_xlim(0.4, n_components + 0.6)  # the same PC axis in every panel
        ax.set_xlabel("principal component")
        ax.set_ylabel("explained variance ratio")
        ax.set_title(_title(name))
        ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_umap(
    embeddings: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray] | np.ndarray,
    period: float | None = None,
) -> Figure:
    """UMAP embeddings coloured by ``mu_x`` (top row) and by ``mu_y`` (bottom row).

    ``embeddings[name]`` (n, 2) or (n, 3); ``labels`` (n, 2), one array for all entries or a
    mapping per entry; ``period`` sets a cyclic colour scale over ``[0, period)`` (periodic
    labels), else the colours span the labels' range."""
    names = list(embeddings)
    dims = {np.asarray(e).shape[1] for e in embeddings.values()}
    if not dims <= {2, 3} or len(dims) != 1:
        raise ValueError(f"embeddings must all be (n, 2) or all (n, 3); got dims {sorted(dims)}")
    three_d = dims == {3}
    fig = Figure(figsize=(3.6 * len(names), 6.6), layout="constrained")
    cmap = "twilight" if period is not None else "viridis"
    for col, name in enumerate(names):
        emb = np.asarray(embeddings[name])
        lab = np.asarray(labels[name] if isinstance(labels, Mapping) else labels)
        for row, axis in enumerate("xy"):
            kw = {"projection": "3d"} if three_d else {}
            ax = fig.add_subplot(2, len(names), row * len(names) + col + 1, **kw)
            c = lab[:, row]
            lo, hi = (0.0, period) if period is not None else (c.min(), c.max())
            sc = ax.scatter(*emb.T, c=c, cmap=cmap, vmin=lo, vmax=hi, s=4)
            ax.set_title(f"{_title(name)}\ncoloured by $\\mu_{axis}$", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            if three_d:
                ax.set_zticks([])
            fig.colorbar(sc, ax=ax, shrink=0.7, label=f"$\\mu_{axis}$ (px)")
    return fig


def plot_persistence(results: Mapping[str, Any]) -> Figure:
    """Persistence diagrams (persim) up to H2, one panel per entry, Betti numbers in titles.

    ``results[name]`` is a fitted ``PersistentHomology`` (or anything with ``topology_``) or a
    list of (n_k, 2) diagrams."""
    from persim import plot_diagrams

    fig = Figure(figsize=(4 * len(results), 4), layout="constrained")
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (name, r) in zip(axes, results.items()):
        topo = getattr(r, "topology_", r)
        diagrams = getattr(topo, "diagrams_", topo)
        plot_diagrams([np.asarray(d) for d in diagrams], ax=ax, show=False)
        title = _title(name)
        if hasattr(topo, "betti_"):
            title += f"\nBetti {tuple(topo.betti_)}"
        ax.set_title(title, fontsize=10)
    return fig


def plot_factorization(results: Mapping[str, Any], bins: int = 40) -> Figure:
    """Histograms of the factorization tests, one column per entry.

    Top row: subspace similarity of loop pairs, x-on-y (orthogonality), x-on-x and y-on-y
    (parallelism); 0 = orthogonal, 1 = parallel. Bottom row: cosines between centred
    representations of different values of one feature (near 0 = superfactored).
    ``results[name]`` is a fitted ``FactorizationTest`` (or anything with
    ``factorization_``)."""
    fig = Figure(figsize=(4 * len(results), 6), layout="constrained")
    axes = fig.subplots(2, len(results), squeeze=False)
    edges = np.linspace(0, 1, bins + 1)
    for col, (name, r) in enumerate(results.items()):
        f = getattr(r, "factorization_", r)
        ax = axes[0, col]
        for values, label, color in (
            (f.similarity_xy_, "x-on-y", "tab:red"),
            (f.similarity_xx_, "x-on-x", "tab:blue"),
            (f.similarity_yy_, "y-on-y", "tab:green"),
        ):
            v = values[np.isfinite(values)]
            # stepfilled: one polygon per histogram, far faster to draw than one bar per bin
            ax.hist(v, bins=edges, weights=np.full(len(v), 1 / max(len(v), 1)), alpha=0.5,
                    color=color, label=label, histtype="stepfilled")  # fmt: skip
        ax.set_xlabel("subspace similarity (mean cos$^2$ of principal angles)")
        ax.set_ylabel("share of loop pairs")
        verdict = [
            "orthogonal" if f.is_orthogonal_ else "not orthogonal",
            "x parallel" if f.is_parallel_x_ else "x not parallel",
            "y parallel" if f.is_parallel_y_ else "y not parallel",
        ]
        ax.set_title(f"{_title(name)}\n{', '.join(verdict)}", fontsize=9)
        ax.legend(fontsize=8)
        ax = axes[1, col]
        for values, label, color in (
            (f.value_cosines_x_, "x values", "tab:purple"),
            (f.value_cosines_y_, "y values", "tab:olive"),
        ):
            v = values[np.isfinite(values)]
            ax.hist(v, bins=np.linspace(-1, 1, 2 * bins + 1), alpha=0.5, color=color,
                    weights=np.full(len(v), 1 / max(len(v), 1)), label=label,
                    histtype="stepfilled")  # fmt: skip
        ax.set_xlabel("cosine between centred values of one feature")
        ax.set_ylabel("share of value pairs")
        ax.set_title("superfactored" if f.is_superfactored_ else "not superfactored", fontsize=9)
        ax.legend(fontsize=8)
    return fig


def plot_training_curve(
    epochs: Sequence[float],
    accuracy: Sequence[float | None],
    effective_dimension: Sequence[float],
) -> Figure:
    """Accuracy and effective dimension against epoch on one figure (paper Fig. 2c).

    Missing accuracies (``None``) are skipped; the two quantities share the x axis and have
    their own y axes."""
    epochs = np.asarray(epochs, dtype=float)
    acc = np.array([np.nan if a is None else a for a in accuracy], dtype=float)
    eff = np.asarray(effective_dimension, dtype=float)
    if not len(epochs) == len(acc) == len(eff):
        raise ValueError(
            f"epochs, accuracy and effective_dimension must have one value per checkpoint; "
            f"got {len(epochs)}, {len(acc)}, {len(eff)}"
        )
    fig = Figure(figsize=(5.5, 3.5), layout="constrained")
    ax = fig.subplots()
    ok = np.isfinite(acc)
    ax.plot(epochs[ok], acc[ok], "o-", color="tab:blue", label="accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(epochs, eff, "s--", color="tab:red", label="effective dimension")
    ax2.set_ylabel("effective dimension (participation ratio)", color="tab:red")
    ax.set_title("accuracy and effective dimension over training")
    return fig


def analysis_figures(analyses: Mapping[str, Any], period: float | None = None) -> dict[str, Figure]:
    """Every figure of a ``{name: RepresentationAnalysis}`` mapping, keyed by file stem:
    ``spectrum``, ``factorization`` (when gridded), ``persistence`` (when computed),
    ``umap_2d`` / ``umap_3d`` (when computed)."""
    figs = {"spectrum": plot_spectrum(analyses)}
    if all(a.factorization_ is not None for a in analyses.values()):
        figs["factorization"] = plot_factorization(analyses)
    if all(a.topology_ is not None for a in analyses.values()):
        figs["persistence"] = plot_persistence(analyses)
    common = set.intersection(*(set(a.umap_) for a in analyses.values()))
    for k in sorted(common):
        figs[f"umap_{k}d"] = plot_umap(
            {n: a.umap_[k] for n, a in analyses.items()},
            {n: a.representation_.labels for n, a in analyses.items()},
            period=period,
        )
    return figs


def sample_grid_figure(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    correct: np.ndarray | None = None,
    title: str | None = None,
    max_images: int = 64,
):
    """A grid of images (M, N, N) in [-1, 1], each with its target (mu_x, mu_y) marked by a
    red cross and titled with the label; frames green/red when ``correct`` (M,) is given.

    Pixel ``i`` covers ``[i, i+1)``, so a label ``mu`` is drawn at ``mu - 0.5`` in imshow's
    pixel-centre coordinates."""
    images = np.asarray(images)[:max_images]
    labels = np.asarray(labels)[:max_images]
    m = len(images)
    cols = min(8, max(1, m))
    rows = math.ceil(m / cols)
    fig = Figure(figsize=(1.6 * cols, 1.75 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= m:
            ax.axis("off")
            continue
        ax.imshow(images[k], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.plot(labels[k, 0] - 0.5, labels[k, 1] - 0.5, "+", color="red", ms=7, mew=1.2)
        ax.set_title(f"({labels[k, 0]:.1f}, {labels[k, 1]:.1f})", fontsize=7)
        if correct is not None:
            for s in ax.spines.values():
                s.set_edgecolor("tab:green" if correct[k] else "tab:red")
                s.set_linewidth(2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_spectra_over_training(spectra: Mapping[str, tuple], n_components: int = 15) -> Figure:
    """PCA eigenspectra at several checkpoints (the paper's Fig. 2b).

    ``spectra``: ``{panel title: (ratios (k,), accuracy or None, top-4 share)}``; each panel
    shows the first ``n_components`` explained-variance ratios with its accuracy and the share
    of variance in the top 4 PCs."""
    k = len(spectra)
    fig = Figure(figsize=(3.0 * k, 2.8))
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, (title, (ratios, acc, top4)) in zip(axes, spectra.items()):
        r = np.asarray(ratios)[:n_components]
        ax.bar(np.arange(1, len(r) + 1), r, color="tab:blue")
        ax.set_ylim(0, max(0.05, float(r.max()) * 1.15) if len(r) else 1)
        acc_txt = "n/a" if acc is None else f"{acc:.2f}"
        ax.set_title(f"{title}\naccuracy {acc_txt}, top-4 {top4:.2f}", fontsize=9)
        ax.set_xlabel("PC")
    axes[0].set_ylabel("explained variance ratio")
    fig.tight_layout()
    return fig


def plot_pca_views(views: Mapping[str, tuple], cyclic: bool = True) -> Figure:
    """3D PCA views of the representation at several checkpoints, coloured by x (top row)
    and by y (bottom row). ``views``: ``{title: (projection (n, 3), labels (n, 2))}``;
    ``cyclic`` uses a cyclic colour map, right for periodic labels."""
    k = len(views)
    fig = Figure(figsize=(3.2 * k, 6.2))
    for j, (title, (proj, labels)) in enumerate(views.items()):
        for i, (axis, name) in enumerate(((0, "x"), (1, "y"))):
            ax = fig.add_subplot(2, k, i * k + j + 1, projection="3d")
            sc = ax.scatter(
                proj[:, 0],
                proj[:, 1],
                proj[:, 2],
                c=labels[:, axis],
                cmap="twilight" if cyclic else "viridis",
                s=4,
            )
            ax.set_title(f"{title}, coloured by {name}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_zticks([])
            fig.colorbar(sc, ax=ax, shrink=0.6, pad=0.02)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- percolation
# Figures of the percolation model and of data-efficiency scaling (Experiment 3). Arrays in,
# Figure out; the numbers come from factordiff.percolation and factordiff.scaling.


def _sigma_colors(keys: Sequence[float]) -> dict[float, Any]:
    """One colour per width, ordered from narrow (light) to wide (dark)."""
    from matplotlib import colormaps

    keys = sorted(set(keys))
    cmap = colormaps["viridis"]
    return {k: cmap(0.85 - 0.75 * i / max(1, len(keys) - 1)) for i, k in enumerate(keys)}


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
            the mean over seeds and, for (S, K), their standard deviation as error bars.
        critical: ``{sigma: simulated critical lambda}``, drawn as dotted vertical lines.

    Keys are matched by value; a width gets one colour in both.
    """
    keys = [float(k) for k in list(simulated) + list(trained)]
    colors = _sigma_colors(keys)
    fig = Figure(figsize=(5.6, 3.8), layout="constrained")
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
            label=f"σ = {s:g} px, trained",
        )
    if log_lambda:
        ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("kept share λ of the lattice")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    return fig


def plot_threshold_size_scaling(
    image_sizes: np.ndarray,
    sizes: Mapping[str, np.ndarray],
    fits: Mapping[str, Any] | None = None,
    threshold: float = 0.6,
) -> Figure:
    """Dataset size needed to reach an accuracy threshold against image size N, log-log,
    with linear and quadratic reference lines (paper Fig. 5c).

    Args:
        image_sizes: (K,) image sizes N.
        sizes: ``{dataset name: (K,) or (S, K) size at the threshold}``, NaN where a seed
            never reached it. Markers: geometric mean over the finite seeds; error bars: their
            min-max range.
        fits: ``{dataset name: fit}`` with ``exponent``, ``prefactor``, ``ci_low``, ``ci_high``
            (a :class:`~factordiff.scaling.PowerLawFit`), drawn as dashed lines.
        threshold: the accuracy threshold, for the axis label.

    The references ``∝ N`` and ``∝ N²`` pass through the geometric centre of all points.
    """
    n = np.asarray(image_sizes, dtype=float)
    fig = Figure(figsize=(5.2, 4.0), layout="constrained")
    ax = fig.subplots()
    all_y = []
    for i, (name, y) in enumerate(sizes.items()):
        y = np.asarray(y, dtype=float)
        y = y[None] if y.ndim == 1 else y
        color = f"C{i}"
        finite = np.isfinite(y)
        with np.errstate(invalid="ignore", divide="ignore"):
            gmean = np.exp(np.nansum(np.log(np.where(finite, y, 1.0)), 0) / finite.sum(0))
        ok = finite.any(0)
        lo = np.nanmin(np.where(finite, y, np.nan)[:, ok], 0)
        hi = np.nanmax(np.where(finite, y, np.nan)[:, ok], 0)
        yerr = np.stack([gmean[ok] - lo, hi - gmean[ok]])
        ax.errorbar(n[ok], gmean[ok], yerr=yerr, fmt="o", color=color, capsize=2, label=name)
        all_y.extend(gmean[ok].tolist())
        fit = (fits or {}).get(name)
        if fit is not None:
            ax.plot(
                n,
                fit.prefactor * n**fit.exponent,
                "--",
                color=color,
                lw=1,
                label=f"fit: exponent {fit.exponent:.2f} [{fit.ci_low:.2f}, {fit.ci_high:.2f}]",
            )
    if all_y:
        nc = float(np.exp(np.mean(np.log(n))))
        yc = float(np.exp(np.mean(np.log(all_y))))
        for p, style, label in ((1, ":", "∝ N"), (2, "-.", "∝ N²")):
            ax.plot(n, yc * (n / nc) ** p, style, color="0.4", lw=1, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("image size N (px)")
    ax.set_ylabel(f"training images for {threshold:.0%} accuracy")
    ax.legend(fontsize=7)
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


#: Cell states of a sensitivity-map heatmap, in colour order.
MAP_STATES = (
    "trained fails",
    "trained fails, control passes",
    "trained passes, control passes too",
    "holds: trained passes, control fails",
)
_MAP_COLOURS = ("#e8e8e8", "#b0b0b0", "#f2a541", "#2a7fb8")


def plot_sensitivity_map(rows: Sequence[Mapping[str, Any]], rule: str, title: str = "") -> Figure:
    """Heatmap of where one rule holds over a sensitivity map.

    ``rows``: the rows of :func:`factordiff.analysis.sensitivity.sensitivity_map` (each with
    ``layer``, ``t``, ``pooling``, ``n_noise`` and ``rows[i][rule]`` = ``{"passes"[,
    "control_passes"]}``). One row of cells per layer (in the order of ``rows``), one column
    per (t, pooling, n_noise); each cell coloured by :data:`MAP_STATES` (without a control,
    only "trained fails" and "holds")."""
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    rows = [r for r in rows if rule in r]
    if not rows:
        raise ValueError(f"rule = {rule!r} is not in the map's rows")
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    cols = list(dict.fromkeys((r["t"], r["pooling"], r["n_noise"]) for r in rows))
    state = np.full((len(layers), len(cols)), np.nan)
    for r in rows:
        cell = r[rule]
        control = bool(cell.get("control_passes", False))
        s = (2 if control else 3) if cell["passes"] else (1 if control else 0)
        state[layers.index(r["layer"]), cols.index((r["t"], r["pooling"], r["n_noise"]))] = s
    # room for the layer names and the legend beside the cells
    fig = Figure(figsize=(4.0 + 0.42 * len(cols), 2.0 + 0.36 * len(layers)), layout="constrained")
    ax = fig.subplots()
    cmap = ListedColormap(_MAP_COLOURS)
    ax.imshow(state, cmap=cmap, norm=BoundaryNorm(np.arange(-0.5, 4.5), cmap.N), aspect="auto")
    ax.set_yticks(range(len(layers)), [name.removeprefix("unet.") for name in layers])
    ax.set_xticks(
        range(len(cols)),
        [f"t={t} {p} n={k}" for t, p, k in cols],
        rotation=60,
        ha="right",
        fontsize=7,
    )
    ax.set_xticks(np.arange(-0.5, len(cols)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(layers)), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    held = int(np.sum(state == 3))
    text = f"{title or rule}: holds in {held} of {state.size} settings"
    ax.set_title(textwrap.fill(text, width=int(40 + 4 * len(cols))), fontsize=9)
    used = sorted({int(v) for v in state[np.isfinite(state)]} | {0, 3})
    ax.legend(
        handles=[Patch(color=_MAP_COLOURS[i], label=MAP_STATES[i]) for i in used],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=7,
        frameon=False,
    )
    return fig
