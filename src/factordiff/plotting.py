"""Figures: arrays and fitted results in, ``Figure`` out; this module holds the image grids
(:func:`sample_grid_figure`) and the sensitivity-map heatmap, and re-exports every figure.

A leaf module: nothing here trains, samples or computes an analysis. Figures are built with
``matplotlib.figure.Figure`` (no pyplot state), so they work under any backend; save them
with :func:`save_figure` (cropped to what is drawn, so no label is clipped).

The figures live by concern and are all importable from here: the representation analysis
in :mod:`factordiff.plotting_repr`, the percolation model's in :mod:`factordiff.plotting_exp`,
Exp 3's in :mod:`factordiff.plotting_scaling`, and the helpers they share (saving, per-seed
lines, plain log axes) in :mod:`factordiff.plotting_common`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

# Re-exported, so every figure stays importable as factordiff.plotting.NAME.
from factordiff.plotting_common import (  # noqa: F401
    SEED_GID,
    _sigma_colors,
    plain_log_axis,
    save_figure,
    seed_lines,
)
from factordiff.plotting_exp import (  # noqa: F401
    plot_cluster_maps,
    plot_loss_vs_lambda,
    plot_mass_ratio,
    plot_overlap_vs_spacing,
    plot_percolation_vs_accuracy,
    plot_umap_grid,
)
from factordiff.plotting_repr import (  # noqa: F401
    PRETTY,
    _title,
    analysis_figures,
    plot_factorization,
    plot_pca_views,
    plot_persistence,
    plot_spectra_over_training,
    plot_spectrum,
    plot_training_curve,
    plot_umap,
)
from factordiff.plotting_scaling import (  # noqa: F401
    plot_accuracy_vs_share,
    plot_threshold_size_scaling,
)


def grid_key(fig: Figure, tolerance_px: float | None = None, framed: bool = True, ncol: int = 3):
    """The key of an image grid below its images: what the red ``+`` and the green and red
    frames mean (frames only when ``framed``). ``tolerance_px``: the accuracy's tolerance,
    named in the key. Needs a figure with constrained layout; returns the legend."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    tol = "the tolerance" if tolerance_px is None else f"{tolerance_px:g} px"
    handles = [
        Line2D(
            [],
            [],
            ls="none",
            marker="+",
            color="red",
            ms=9,
            mew=1.5,
            label="the target ($\\mu_x$, $\\mu_y$) the image was generated for",
        ),
    ]
    if framed:
        handles += [
            Patch(
                facecolor="none",
                edgecolor="tab:green",
                lw=2,
                label=f"green frame: the generated centre lies within {tol} of the target on "
                "both axes (correct)",
            ),
            Patch(
                facecolor="none",
                edgecolor="tab:red",
                lw=2,
                label="red frame: it does not (off target, several centres or none)",
            ),
        ]
    return fig.legend(
        handles=handles, loc="outside lower center", ncol=ncol, fontsize=9, frameon=False
    )


def sample_grid_figure(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    correct: np.ndarray | None = None,
    title: str | None = None,
    max_images: int = 64,
    tolerance_px: float | None = None,
):
    """A grid of images (M, N, N) in [-1, 1], each with its target (mu_x, mu_y) marked by a
    red cross and titled with the label; frames green/red when ``correct`` (M,) is given.
    A key below the grid says what the marks mean (:func:`grid_key`, naming
    ``tolerance_px``).

    Pixel ``i`` covers ``[i, i+1)``, so a label ``mu`` is drawn at ``mu - 0.5`` in imshow's
    pixel-centre coordinates."""
    images = np.asarray(images)[:max_images]
    labels = np.asarray(labels)[:max_images]
    m = len(images)
    cols = min(8, max(1, m))
    rows = math.ceil(m / cols)
    key_rows = 1 if cols >= 8 else 3
    fig = Figure(
        figsize=(max(1.6 * cols, 4.5), 1.75 * rows + 0.4 + 0.25 * key_rows), layout="constrained"
    )
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= m:
            ax.axis("off")
            continue
        ax.imshow(images[k], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.plot(labels[k, 0] - 0.5, labels[k, 1] - 0.5, "+", color="red", ms=7, mew=1.2)
        ax.set_title(f"({labels[k, 0]:.1f}, {labels[k, 1]:.1f})", fontsize=8)
        if correct is not None:
            for s in ax.spines.values():
                s.set_edgecolor("tab:green" if correct[k] else "tab:red")
                s.set_linewidth(2)
    if title:
        fig.suptitle(title, fontsize=9)
    grid_key(fig, tolerance_px, framed=correct is not None, ncol=3 if key_rows == 1 else 1)
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
