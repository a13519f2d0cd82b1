"""Figures of the representation analysis: fitted results in, ``Figure`` out.

Every function takes a mapping ``{name: result}`` and draws one panel (column) per entry, so
the model is shown beside the ideal ring and Clifford tori as in the paper's Fig. 3
(:func:`analysis_figures` draws them all); the figures over training (paper Fig. 2b-c) take
the numbers of several checkpoints. A leaf like :mod:`factordiff.plotting`, which
re-exports these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from factordiff.plotting_common import seed_lines

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
        ax.set_xlabel("subspace similarity\n(mean cos$^2$ of principal angles)")
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
        ax.set_xlabel("cosine between centred values\nof one feature")
        ax.set_ylabel("share of value pairs")
        ax.set_title("superfactored" if f.is_superfactored_ else "not superfactored", fontsize=9)
        ax.legend(fontsize=8)
    return fig


def plot_training_curve(
    epochs: Sequence[float],
    accuracy: Sequence,
    effective_dimension: Sequence,
    reference_dimension: float | None = None,
    reference_label: str = "paper: about {value:g}",
    seeds: Sequence[int] | None = None,
) -> Figure:
    """Accuracy and effective dimension against epoch on one figure (paper Fig. 2c).

    ``epochs`` (K,); ``accuracy`` and ``effective_dimension`` (K,) for one run or (S, K) for
    S seeds: then each seed is a thin line (gid :data:`~factordiff.plotting_common.SEED_GID`)
    and the mean over seeds a bold one. Missing accuracies (``None``) are skipped. The two quantities share the x axis
    and have their own y axes. ``reference_dimension``: a dashed horizontal line on the
    effective-dimension axis, labelled ``reference_label`` (e.g. the paper's ~7)."""
    epochs = np.asarray(epochs, dtype=float)
    acc = np.array(
        [[np.nan if a is None else a for a in row] for row in _rows(accuracy)], dtype=float
    )
    eff = np.asarray(_rows(effective_dimension), dtype=float)
    if not len(epochs) == acc.shape[1] == eff.shape[1] or len(acc) != len(eff):
        raise ValueError(
            f"epochs, accuracy and effective_dimension must have one value per checkpoint "
            f"(and as many seeds each); got {len(epochs)}, {acc.shape[::-1]}, {eff.shape[::-1]}"
        )
    fig = Figure(figsize=(6.0, 3.7), layout="constrained")
    ax = fig.subplots()
    ax2 = ax.twinx()
    several = len(acc) > 1
    mean = " (mean)" if several else ""
    with np.errstate(invalid="ignore"):
        acc_mean = np.nanmean(acc, 0) if several else acc[0]
    ok = np.isfinite(acc_mean)
    ax.plot(epochs[ok], acc_mean[ok], "o-", color="tab:blue", label="accuracy" + mean)
    ax2.plot(epochs, eff.mean(0), "s-", color="tab:red", label="effective dimension" + mean)
    what = "each seed" if seeds is None else f"each seed ({', '.join(map(str, seeds))})"
    seed_lines(ax, epochs, acc, "tab:blue", f"accuracy, {what}")
    seed_lines(ax2, epochs, eff, "tab:red", f"effective dimension, {what}")
    if reference_dimension is not None:
        label = reference_label.format(value=reference_dimension)
        ax2.axhline(reference_dimension, color="0.3", ls=(0, (6, 3)), lw=1.2, label=label)
        ax2.annotate(
            label,
            (0.99, reference_dimension),
            xycoords=("axes fraction", "data"),
            xytext=(0, 3),
            textcoords="offset points",
            fontsize=7,
            ha="right",
            color="0.3",
        )
    top = np.nanmax(np.append(eff, reference_dimension or 0.0))
    ax2.set_ylim(0, 1.08 * top if top > 0 else 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy", color="tab:blue")
    ax2.set_ylabel("effective dimension (participation ratio)", color="tab:red")
    n = f" ({len(acc)} seeds)" if several else ""
    ax.set_title(f"accuracy and effective dimension over training{n}", fontsize=10)
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    fig.legend(
        handles[0] + handles2[0],
        handles[1] + handles2[1],
        fontsize=7,
        ncol=2,
        loc="outside lower center",
        frameon=False,
    )
    return fig


def _rows(values) -> list:
    """``values`` as a list of rows: (K,) -> [(K,)], (S, K) -> S rows (None kept)."""
    values = list(values)
    if values and isinstance(values[0], Sequence | np.ndarray) and not isinstance(values[0], str):
        return [list(v) for v in values]
    return [values]


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


def plot_spectra_over_training(
    spectra: Mapping[str, tuple], n_components: int = 15, title: str | None = None
) -> Figure:
    """PCA eigenspectra at several checkpoints (the paper's Fig. 2b).

    ``spectra``: ``{panel title: (ratios (k,), accuracy or None, top-4 share)}``; each panel
    shows the first ``n_components`` explained-variance ratios with its accuracy and the share
    of variance in the top 4 PCs. ``title``: above the panels (e.g. the run's seed)."""
    k = len(spectra)
    fig = Figure(figsize=(3.0 * k, 2.9), layout="constrained")
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, (name, (ratios, acc, top4)) in zip(axes, spectra.items()):
        r = np.asarray(ratios)[:n_components]
        ax.bar(np.arange(1, len(r) + 1), r, color="tab:blue")
        ax.set_ylim(0, max(0.05, float(r.max()) * 1.15) if len(r) else 1)
        acc_txt = "n/a" if acc is None else f"{acc:.2f}"
        ax.set_title(f"{name}\naccuracy {acc_txt}, top-4 {top4:.2f}", fontsize=9)
        ax.set_xlabel("principal component")
    axes[0].set_ylabel("explained variance ratio")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_pca_views(views: Mapping[str, tuple], cyclic: bool = True, title: str | None = None):
    """3D PCA views of the representation at several checkpoints, coloured by mu_x (top row)
    and by mu_y (bottom row), axes PC1-PC3, each colour bar labelled with what it encodes.
    ``views``: ``{title: (projection (n, 3), labels (n, 2))}``; ``cyclic`` uses a cyclic
    colour map, right for periodic labels; ``title``: above the panels (e.g. the seed)."""
    k = len(views)
    fig = Figure(figsize=(3.6 * k, 6.6), layout="constrained")
    for j, (name, (proj, labels)) in enumerate(views.items()):
        for i, axis in enumerate("xy"):
            ax = fig.add_subplot(2, k, i * k + j + 1, projection="3d")
            sc = ax.scatter(
                proj[:, 0],
                proj[:, 1],
                proj[:, 2],
                c=labels[:, i],
                cmap="twilight" if cyclic else "viridis",
                s=4,
            )
            ax.set_title(f"{name}, coloured by $\\mu_{axis}$", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_zticks([])
            for set_label, pc in ((ax.set_xlabel, 1), (ax.set_ylabel, 2), (ax.set_zlabel, 3)):
                set_label(f"PC{pc}", labelpad=-12, fontsize=8)
            fig.colorbar(sc, ax=ax, shrink=0.6, pad=0.12, label=f"$\\mu_{axis}$ (px)")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
