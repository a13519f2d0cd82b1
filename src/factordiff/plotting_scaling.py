"""Figures of Exp 3, the data-efficiency sweep: accuracy against the subsampling share (paper
Fig. 5a-b) and the dataset size needed for an accuracy threshold against image size, log-log,
with reference slopes (paper Fig. 5c).

A leaf like :mod:`factordiff.plotting` (which re-exports these functions): numbers in,
``Figure`` out; the power-law fits are computed elsewhere
(:class:`factordiff.analysis.power_law.PowerLawFit`) and only drawn here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from factordiff.plotting_common import plain_log_axis, seed_lines

_SUPERSCRIPT = str.maketrans("0123456789.-", "⁰¹²³⁴⁵⁶⁷⁸⁹·⁻")


def plot_threshold_size_scaling(
    image_sizes: np.ndarray,
    sizes: Mapping[str, np.ndarray],
    fits: Mapping[str, Any] | None = None,
    threshold: float = 0.6,
    references: Mapping[float, str] | None = None,
) -> Figure:
    """Dataset size needed to reach an accuracy threshold against image size N, log-log,
    with reference slopes (paper Fig. 5c).

    Args:
        image_sizes: (K,) image sizes N.
        sizes: ``{dataset name: (K,) or (S, K) size at the threshold}``, NaN where a seed
            never reached it. Markers: geometric mean over the finite seeds; error bars: their
            min-max range; thin lines: each seed (:func:`seed_lines`).
        fits: ``{dataset name: fit}`` with ``exponent``, ``prefactor``, ``ci_low``, ``ci_high``
            (a :class:`~factordiff.analysis.power_law.PowerLawFit`), drawn as solid lines.
        threshold: the accuracy threshold, for the axis label.
        references: ``{exponent: label}`` of the reference slopes (default ``{1: "∝ N",
            2: "∝ N²"}``), each a grey dashed line ``∝ N^exponent`` through the first data
            point (the first dataset's mean at its smallest N), labelled in the legend and
            at its end.

    The x ticks are the image sizes that have a point, in plain numbers.
    """
    n = np.asarray(image_sizes, dtype=float)
    fig = Figure(figsize=(5.4, 4.2), layout="constrained")
    ax = fig.subplots()
    anchor, with_point = None, np.zeros(len(n), bool)
    for i, (name, y) in enumerate(sizes.items()):
        ok, first = _draw_sizes(ax, n, name, y, f"C{i}", (fits or {}).get(name))
        with_point |= ok
        if anchor is None and first is not None:
            anchor = first
    if anchor is not None:
        refs = references if references is not None else {1: "∝ N", 2: "∝ N²"}
        _draw_reference_slopes(ax, n, anchor, refs)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_axis(ax, "x", n[with_point] if with_point.any() else n)
    plain_log_axis(ax, "y")
    ax.set_xlabel("image size N (px)")
    ax.set_ylabel(f"training images for {threshold:.0%} accuracy")
    ax.legend(fontsize=7)
    return fig


def _draw_sizes(
    ax, n: np.ndarray, name: str, y, color: str, fit: Any | None
) -> tuple[np.ndarray, tuple[float, float] | None]:
    """One dataset of :func:`plot_threshold_size_scaling`: the geometric mean over seeds with
    their range, each seed, and the fit. Returns ``(ok, first)``: which image sizes have a
    point (K,) bool, and the first point ``(N, mean)`` (``None`` when there is none)."""
    y = np.asarray(y, dtype=float)
    y = y[None] if y.ndim == 1 else y
    finite = np.isfinite(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        gmean = np.exp(np.nansum(np.log(np.where(finite, y, 1.0)), 0) / finite.sum(0))
    ok = finite.any(0)
    lo = np.nanmin(np.where(finite, y, np.nan)[:, ok], 0)
    hi = np.nanmax(np.where(finite, y, np.nan)[:, ok], 0)
    # clipped: rounding can put the geometric mean of equal values a hair outside them
    yerr = np.clip(np.stack([gmean[ok] - lo, hi - gmean[ok]]), 0, None)
    several = len(y) > 1
    ax.errorbar(
        n[ok],
        gmean[ok],
        yerr=yerr if several else None,
        fmt="o",
        color=color,
        capsize=2,
        label=f"{name}" + (" (geometric mean, range)" if several else ""),
    )
    seed_lines(ax, n, y, color, f"{name}, each of {len(y)} seeds")
    if fit is not None:
        ax.plot(
            n,
            fit.prefactor * n**fit.exponent,
            "-",
            color=color,
            lw=1.1,
            label=f"fit: exponent {fit.exponent:.2f} [{fit.ci_low:.2f}, {fit.ci_high:.2f}]",
        )
    return ok, ((n[ok][0], gmean[ok][0]) if ok.any() else None)


def _draw_reference_slopes(
    ax, n: np.ndarray, anchor: tuple[float, float], references: Mapping[float, str]
) -> None:
    """Grey dashed lines ``∝ N^exponent`` through ``anchor``, each labelled in the legend and
    at its end (``N²``)."""
    n0, y0 = anchor
    dashes = [(4, 2), (8, 3), (2, 2)]
    for k, (p, label) in enumerate(sorted(references.items())):
        y_ref = y0 * (n / n0) ** p
        ax.plot(n, y_ref, ls=(0, dashes[k % 3]), color="0.35", lw=1, label=label)
        ax.annotate(
            "N" + f"{p:g}".translate(_SUPERSCRIPT),
            (n[-1], y_ref[-1]),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color="0.3",
        )


def plot_accuracy_vs_share(curves: Mapping[str, Mapping[str, tuple]], title: str = "") -> Figure:
    """Accuracy against the subsampling share, one panel per dataset (paper Fig. 5a-b).

    ``curves[dataset][metric] = (shares (K,), mean (K,), std (K,)[, per seed (S, K)])``; one
    line per metric (``lattice``, ``heldout``) with its spread over seeds as error bars and,
    when given, each seed as a thin line."""
    fig = Figure(figsize=(4.4 * len(curves), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(curves), squeeze=False)[0])
    names = {"lattice": "whole lattice", "heldout": "held out of (a)'s training set"}
    for ax, (dataset, metrics) in zip(axes, curves.items()):
        for i, (metric, (x, mean, std, *per)) in enumerate(metrics.items()):
            ax.errorbar(
                x,
                mean,
                yerr=std,
                fmt="o-",
                color=f"C{i}",
                capsize=2,
                label=names.get(metric, metric) + " (mean ± std)",
            )
            if per:
                seed_lines(ax, x, per[0], f"C{i}", "each seed" if i == 0 else None)
        ax.set_xscale("log")
        plain_log_axis(ax, "x")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("subsampling share of the lattice")
        ax.set_ylabel("accuracy of 2D bumps")
        ax.set_title(dataset)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
