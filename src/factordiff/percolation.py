"""The percolation model of data efficiency: bumps on a lattice, kept at random, linked by overlap.

Setting (the paper's Fig. 6, 13, 14b)
-------------------------------------
A dataset of 2D Gaussian bumps of width ``sigma`` (px) has one image per site of a square
lattice of spacing ``d`` (px) over an ``N x N`` frame (the cell-centred lattice of
:func:`~factordiff.data.lattice_labels`: ``K = floor(N / d)`` sites per axis, ``K^2`` in all).
A share ``lambda`` of the sites is kept, uniformly at random and without replacement, with
the datasets' own rule (``max(1, round(lambda * K^2))`` sites). Two kept sites are linked when
the overlap of their images exceeds a threshold ``t``: *every* pair within the reach where the
overlap exceeds ``t``, not only nearest neighbours. The clusters are the connected components
of that graph.

Overlap
-------
The overlap of two images ``a`` and ``b`` is their normalised inner product (cosine
similarity) ``<a, b> / (|a| |b|)``, with raw intensities (background 0, bump peak 1). Two
measures are offered:

- ``'rendered'`` (our default): computed from the images the model is trained on, as rendered
  by :func:`~factordiff.data.render_bump` (pixel-centre sampling, cropping at the frame edge,
  wrap-around when periodic). It is what the model actually sees.
- ``'analytic'``: the closed form for continuous isotropic 2D Gaussians on the plane,
  ``exp(-r^2 / (4 sigma^2))`` for centres ``r`` apart (distances wrapped on the torus when
  periodic). It matches the rendered overlap to within 1e-3 for ``sigma >= 1`` px away from the
  edges, but not for narrower bumps: at ``sigma = 0.5`` and ``d = 1`` the rendered
  nearest-neighbour overlap is 0.261 against the closed form's 0.368, because a bump narrower
  than a pixel is undersampled.

A bump is separable, ``g = g_y (x) g_x``, so both measures factorise: the overlap of sites
``(i_x, i_y)`` and ``(j_x, j_y)`` is ``c_x[i_x, j_x] * c_y[i_y, j_y]`` with ``c`` the
``K x K`` overlap matrix of the 1D profiles. The graph is built from the two 1D matrices
without forming the ``K^2 x K^2`` one.

Mass ratio and critical lambda
------------------------------
For each draw, with ``n_kept`` kept sites and ``s_max`` sites in the largest cluster:

- ``largest_over_kept = s_max / n_kept``: the share of the *training data* in the largest
  cluster. This is the plotted mass ratio: it runs from small to 1 as the kept points join
  up, on the same 0-1 scale as accuracy, which is what it is compared with. Its one wrinkle:
  with only a handful of kept points it is large again (1 kept point is a cluster of ratio 1).
- ``largest_over_sites = s_max / K^2``: the textbook percolation strength, the share of the
  whole lattice in the largest cluster; it never exceeds ``lambda``.

Both are averaged over ``num_draws`` random draws per ``lambda``. The critical ``lambda`` of a
curve is where the mean ``largest_over_kept`` crosses 0.5 for the last time from below
(linear interpolation between grid points), so the small-``lambda`` wrinkle cannot produce it;
NaN when the curve never crosses. The ``lambda`` of steepest rise of the mean curve (central
differences of a 5-point moving average) is reported beside it.

Run ``python -m factordiff.percolation --out docs/results/percolation-sim`` to regenerate the
committed simulation (figures and ``percolation.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from factordiff.config import DataConfig, json_ready
from factordiff.data.datasets import lattice_axis, lattice_labels
from factordiff.data.render import gaussian_profile, render_bump

OVERLAP_MEASURES = ("rendered", "analytic")


# ----------------------------------------------------------------------------- overlap
def overlap_closed_form(distance: np.ndarray | float, sigma: float) -> np.ndarray:
    """Normalised inner product of two continuous isotropic 2D Gaussians of width ``sigma``
    whose centres are ``distance`` apart: ``exp(-distance^2 / (4 sigma^2))``.

    Args:
        distance: (...) centre distances in px.
        sigma: width in px, > 0.

    Returns:
        (...) float64 overlaps in (0, 1].
    """
    _check_positive(sigma, "sigma")
    r = np.asarray(distance, dtype=np.float64)
    return np.exp(-(r**2) / (4.0 * sigma**2))


def _bump_config(image_size: int, sigma: float, spacing: float, periodic: bool) -> DataConfig:
    cfg = DataConfig(
        kind="bump",
        image_size=image_size,
        sigma_x=sigma,
        sigma_y=sigma,
        dx=spacing,
        dy=spacing,
        periodic=periodic,
    )
    cfg.validate()
    return cfg


def overlap_rendered(
    labels_a: np.ndarray,
    labels_b: np.ndarray,
    sigma: float,
    *,
    image_size: int = 32,
    periodic: bool = False,
) -> np.ndarray:
    """Normalised inner product of bump images rendered by :func:`render_bump`, pairwise.

    Args:
        labels_a: (B, 2) centres ``(mu_x, mu_y)`` in px.
        labels_b: (B, 2) centres, paired row by row with ``labels_a``.
        sigma: bump width in px.
        image_size: N of the N x N frame.
        periodic: render on the torus.

    Returns:
        (B,) float64 overlaps in [0, 1].
    """
    a, b = np.asarray(labels_a, np.float64), np.asarray(labels_b, np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(
            f"labels_a and labels_b must both have shape (B, 2); got {a.shape} and {b.shape}"
        )
    cfg = _bump_config(image_size, sigma, 1.0, periodic)
    ia = render_bump(a, cfg).double().flatten(1)  # (B, N*N)
    ib = render_bump(b, cfg).double().flatten(1)
    dot = (ia * ib).sum(1)
    norm = ia.norm(dim=1) * ib.norm(dim=1)
    return (dot / norm.clamp_min(1e-300)).numpy()


def axis_overlap(
    positions: np.ndarray,
    sigma: float,
    *,
    image_size: int,
    periodic: bool = False,
    measure: str = "rendered",
) -> np.ndarray:
    """The 1D overlap matrix ``c[i, j]`` of the profiles of one lattice axis.

    The 2D overlap of two bumps is ``c_x[i_x, j_x] * c_y[i_y, j_y]`` (see the module doc).

    Args:
        positions: (K,) coordinates of the lattice axis in px.
        sigma: width in px.
        image_size: N (the frame, and the period when ``periodic``).
        periodic: wrap distances around the frame.
        measure: ``'rendered'`` (cosine of the profiles sampled at pixel centres, as
            :func:`render_bump` draws them) or ``'analytic'`` (``exp(-dx^2 / 4 sigma^2)``).

    Returns:
        (K, K) float64 symmetric matrix with ones on the diagonal.
    """
    _check_measure(measure)
    _check_positive(sigma, "sigma")
    pos = np.asarray(positions, np.float64)
    if measure == "analytic":
        diff = pos[:, None] - pos[None, :]
        if periodic:
            diff = np.remainder(diff + image_size / 2, image_size) - image_size / 2
        return np.exp(-(diff**2) / (4.0 * sigma**2))
    prof = gaussian_profile(torch.from_numpy(pos), image_size, sigma, periodic=periodic).numpy()
    # A centre far outside the frame would render a blank profile; the lattice never has one.
    prof = prof / np.linalg.norm(prof, axis=1, keepdims=True)  # (K, N)
    c = prof @ prof.T
    np.fill_diagonal(c, 1.0)  # exact, not 1 - 1e-16
    return c


# ----------------------------------------------------------------------------- graph
@dataclass
class LatticeGraph:
    """The overlap graph of a full lattice: sites and the pairs whose overlap exceeds ``t``.

    Attributes:
        labels: (n, 2) float64 site centres ``(mu_x, mu_y)``, ``mu_y`` outer (site
            ``s = i_y * K + i_x``), as :func:`~factordiff.data.lattice_labels` lists them.
        edges: (E, 2) int64 site pairs ``(u, v)`` with ``u < v``, each pair once.
        overlap: (E,) float64 overlap of each pair (all > ``threshold``).
        axis_size: K, sites per axis (``n = K^2``).
        sigma, spacing, threshold, image_size, periodic, measure: what it was built from.
    """

    labels: np.ndarray
    edges: np.ndarray
    overlap: np.ndarray
    axis_size: int
    sigma: float
    spacing: float
    threshold: float
    image_size: int
    periodic: bool
    measure: str

    @property
    def num_sites(self) -> int:
        return self.labels.shape[0]

    def degrees(self) -> np.ndarray:
        """(n,) int64 number of linked sites of each site in the full lattice."""
        return np.bincount(self.edges.ravel(), minlength=self.num_sites)


def lattice_graph(
    sigma: float,
    threshold: float,
    *,
    image_size: int = 32,
    spacing: float = 1.0,
    periodic: bool = False,
    measure: str = "rendered",
) -> LatticeGraph:
    """Link every pair of lattice sites whose bump images overlap by more than ``threshold``.

    Args:
        sigma: bump width in px.
        threshold: overlap threshold ``t`` in [0, 1); ``t = 0`` links every pair whose
            overlap is positive in float64, which is every pair unless the bumps are so
            narrow and far apart that their images share no nonzero pixel.
        image_size: N; the lattice is ``K = floor(N / spacing)`` sites per axis.
        spacing: lattice spacing ``d`` in px.
        periodic: bumps on the torus (distances wrap around the frame).
        measure: ``'rendered'`` or ``'analytic'`` (see the module doc).

    Returns:
        The :class:`LatticeGraph`.
    """
    _check_measure(measure)
    _check_positive(sigma, "sigma")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold = {threshold!r} is invalid; allowed: a number in [0, 1)")
    cfg = _bump_config(image_size, sigma, spacing, periodic)
    lo, hi = (0.0, float(image_size))
    axis = lattice_axis(lo, hi, spacing)  # (K,)
    k = len(axis)
    c = axis_overlap(axis, sigma, image_size=image_size, periodic=periodic, measure=measure)
    # 1D pairs that can still reach the threshold: the other factor is at most 1. Strict '>'
    # throughout, so t = 0 keeps an underflowed 0.0 overlap out.
    ai, aj = np.nonzero(c > threshold)  # (P,) each
    ac = c[ai, aj]
    # Cartesian product of x-pairs and y-pairs -> candidate 2D pairs. Row-major site index
    # s = i_y * K + i_x, matching lattice_labels.
    px = len(ai)
    xi, yi = np.repeat(np.arange(px), px), np.tile(np.arange(px), px)
    ov = ac[xi] * ac[yi]
    u = ai[yi] * k + ai[xi]
    v = aj[yi] * k + aj[xi]
    keep = (ov > threshold) & (u < v)
    labels = lattice_labels(cfg)
    assert labels.shape[0] == k * k
    return LatticeGraph(
        labels=labels,
        edges=np.stack([u[keep], v[keep]], axis=1).astype(np.int64),
        overlap=ov[keep],
        axis_size=k,
        sigma=float(sigma),
        spacing=float(spacing),
        threshold=float(threshold),
        image_size=int(image_size),
        periodic=bool(periodic),
        measure=measure,
    )


# ----------------------------------------------------------------------------- clusters
def sample_kept(
    num_sites: int, share: float, num_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Random keep masks: each row keeps ``max(1, round(share * num_sites))`` sites, uniformly
    without replacement (the rule of the datasets' subsampling).

    Returns:
        (num_draws, num_sites) bool.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share = {share!r} is invalid; allowed: a number in (0, 1]")
    keep = max(1, int(round(share * num_sites)))
    # argsort of uniform keys = one random permutation per row, vectorised over draws.
    order = np.argsort(rng.random((num_draws, num_sites)), axis=1)[:, :keep]
    mask = np.zeros((num_draws, num_sites), bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask


def cluster_labels(graph: LatticeGraph, kept: np.ndarray) -> np.ndarray:
    """Cluster of each site of one draw.

    Args:
        graph: the full-lattice overlap graph.
        kept: (n,) bool keep mask.

    Returns:
        (n,) int64 cluster ids (0, 1, ..., largest cluster first); -1 where not kept.
    """
    kept = _check_kept(graph, np.asarray(kept)[None])[0]
    n = graph.num_sites
    u, v = graph.edges[:, 0], graph.edges[:, 1]
    on = kept[u] & kept[v]
    adj = coo_matrix((np.ones(on.sum(), np.int8), (u[on], v[on])), shape=(n, n)).tocsr()
    _, lab = connected_components(adj, directed=False)
    out = np.full(n, -1, np.int64)
    ids, inverse, sizes = np.unique(lab[kept], return_inverse=True, return_counts=True)
    rank = np.empty(len(ids), np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(ids))
    out[kept] = rank[inverse]
    return out


def kept_mask_from_labels(graph: LatticeGraph, labels: np.ndarray) -> np.ndarray:
    """The keep mask of an actual dataset: which lattice sites its labels occupy.

    Lets an experiment measure the mass ratio of the very subset a model was trained on
    (e.g. the labels of :func:`~factordiff.data.build_labels`).

    Args:
        graph: the full-lattice graph of the dataset's lattice.
        labels: (M, 2) ``(mu_x, mu_y)`` in px, each on a lattice site (within 1e-4 px).

    Returns:
        (n,) bool mask.

    Raises:
        ValueError: a label that is not on the lattice.
    """
    lab = np.asarray(labels, np.float64)
    if lab.ndim != 2 or lab.shape[1] != 2:
        raise ValueError(f"labels must have shape (M, 2); got {lab.shape}")
    k, d = graph.axis_size, graph.spacing
    first = graph.labels[0]  # site (0, 0); sites are first + (i_x, i_y) * d
    idx = np.rint((lab - first) / d).astype(np.int64)  # (M, 2) = (i_x, i_y)
    inside = np.all((idx >= 0) & (idx < k), axis=1)
    site = np.where(inside, idx[:, 1] * k + idx[:, 0], 0)
    off = np.abs(graph.labels[site] - lab).max(1)
    bad = ~inside | (off > 1e-4)
    if bad.any():
        raise ValueError(
            f"label {lab[np.argmax(bad)].tolist()} is not a site of the lattice "
            f"(K = {k} per axis, spacing {d} px, first site {first.tolist()})"
        )
    mask = np.zeros(graph.num_sites, bool)
    mask[site] = True
    return mask


def largest_cluster_sizes(graph: LatticeGraph, kept: np.ndarray) -> np.ndarray:
    """Size of the largest cluster of kept sites, for many draws in one graph.

    The draws are stacked as disjoint copies of the lattice in one sparse graph, so a single
    :func:`scipy.sparse.csgraph.connected_components` call serves them all.

    Args:
        graph: the full-lattice overlap graph.
        kept: (D, n) bool keep masks, one row per draw.

    Returns:
        (D,) int64 largest cluster sizes (0 for a draw that keeps nothing).
    """
    kept = _check_kept(graph, np.asarray(kept))
    d, n = kept.shape
    u, v = graph.edges[:, 0], graph.edges[:, 1]
    on = kept[:, u] & kept[:, v]  # (D, E) edge present in draw
    draw, e = np.nonzero(on)
    rows, cols = draw * n + u[e], draw * n + v[e]
    adj = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(d * n, d * n)).tocsr()
    ncomp, lab = connected_components(adj, directed=False)
    flat_kept = kept.ravel()
    sizes = np.bincount(lab[flat_kept], minlength=ncomp)  # kept sites per component
    comp_draw = np.zeros(ncomp, np.int64)
    comp_draw[lab] = np.arange(d * n) // n  # components never span two draws
    largest = np.zeros(d, np.int64)
    np.maximum.at(largest, comp_draw, sizes)
    return largest


def critical_lambda(lambdas: np.ndarray, ratio: np.ndarray, level: float = 0.5) -> float:
    """Where a mass-ratio curve crosses ``level`` for the last time from below.

    Linear interpolation between the bracketing grid points. The last upward crossing is
    taken so that the small-``lambda`` rise of ``largest_over_kept`` (a few kept points form
    large shares of themselves) cannot be mistaken for the transition.

    Args:
        lambdas: (M,) increasing shares.
        ratio: (M,) mean mass ratio at each share.

    Returns:
        The critical share, or NaN when the curve ends below ``level`` or never is below it.
    """
    lam, r = np.asarray(lambdas, np.float64), np.asarray(ratio, np.float64)
    if lam.shape != r.shape or lam.ndim != 1 or len(lam) < 2:
        raise ValueError(
            f"lambdas and ratio must be 1D arrays of one length >= 2; got {lam.shape}, {r.shape}"
        )
    if np.any(np.diff(lam) <= 0):
        raise ValueError("lambdas must be strictly increasing")
    if r[-1] < level:
        return math.nan
    below = np.flatnonzero(r < level)
    if len(below) == 0:
        return math.nan
    i = below[-1]  # r[i] < level <= r[i + 1]
    f = (level - r[i]) / (r[i + 1] - r[i])
    return float(lam[i] + f * (lam[i + 1] - lam[i]))


def steepest_lambda(lambdas: np.ndarray, ratio: np.ndarray, window: int = 5) -> float:
    """The ``lambda`` where a mass-ratio curve rises fastest: argmax of the central-difference
    slope of its ``window``-point moving average (edges padded with the end values).

    Args:
        lambdas: (M,) increasing shares.
        ratio: (M,) mean mass ratio.
    """
    lam, r = np.asarray(lambdas, np.float64), np.asarray(ratio, np.float64)
    if lam.shape != r.shape or len(lam) < 3:
        raise ValueError(f"lambdas and ratio must be 1D of one length >= 3; got {lam.shape}")
    half = window // 2
    padded = np.concatenate([np.full(half, r[0]), r, np.full(half, r[-1])])
    smooth = np.convolve(padded, np.ones(window) / window, mode="valid")
    return float(lam[int(np.argmax(np.gradient(smooth, lam)))])


@dataclass
class MassRatioCurve:
    """The largest-cluster mass ratio against ``lambda`` for one graph.

    Attributes:
        lambdas: (M,) shares kept.
        kept_mean: (M,) mean over draws of ``largest / kept`` (the plotted mass ratio).
        kept_std: (M,) its standard deviation over draws.
        sites_mean: (M,) mean of ``largest / lattice sites``.
        sites_std: (M,) its standard deviation.
        num_draws: draws per share.
        critical_lambda: :func:`critical_lambda` of ``kept_mean`` (NaN if no crossing).
        steepest_lambda: :func:`steepest_lambda` of ``kept_mean``.
    """

    lambdas: np.ndarray
    kept_mean: np.ndarray
    kept_std: np.ndarray
    sites_mean: np.ndarray
    sites_std: np.ndarray
    num_draws: int
    critical_lambda: float
    steepest_lambda: float


def mass_ratio_curve(
    graph: LatticeGraph, lambdas: np.ndarray, num_draws: int, seed: int
) -> MassRatioCurve:
    """Average the largest-cluster mass ratio over ``num_draws`` random keeps per ``lambda``.

    The draws depend only on ``(seed, index of lambda)`` and the lattice size, so graphs of
    the same lattice (other ``sigma`` or threshold) see the very same kept sets and their
    curves differ only through the graph.

    Args:
        graph: the full-lattice overlap graph.
        lambdas: (M,) strictly increasing shares in (0, 1].
        num_draws: random draws per share, >= 1.
        seed: integer >= 0.
    """
    lam = np.asarray(lambdas, np.float64)
    if lam.ndim != 1 or len(lam) < 2 or np.any(np.diff(lam) <= 0):
        raise ValueError(
            f"lambdas must be a strictly increasing 1D array of length >= 2; got {lam}"
        )
    if lam[0] <= 0 or lam[-1] > 1:
        raise ValueError(f"lambdas must lie in (0, 1]; got [{lam[0]}, {lam[-1]}]")
    _check_int(num_draws, "num_draws", 1)
    _check_int(seed, "seed", 0)
    n = graph.num_sites
    kept_ratio = np.empty((len(lam), num_draws))
    sites_ratio = np.empty((len(lam), num_draws))
    for j, share in enumerate(lam):
        rng = np.random.default_rng([seed, j])
        kept = sample_kept(n, share, num_draws, rng)
        largest = largest_cluster_sizes(graph, kept)
        kept_ratio[j] = largest / kept.sum(1)
        sites_ratio[j] = largest / n
    km = kept_ratio.mean(1)
    return MassRatioCurve(
        lambdas=lam,
        kept_mean=km,
        kept_std=kept_ratio.std(1),
        sites_mean=sites_ratio.mean(1),
        sites_std=sites_ratio.std(1),
        num_draws=int(num_draws),
        critical_lambda=critical_lambda(lam, km),
        steepest_lambda=steepest_lambda(lam, km),
    )


# ----------------------------------------------------------------------------- the study
def _default_lambdas() -> tuple[float, ...]:
    # Fine steps where the wide bumps percolate (a few tens of kept sites), coarser above.
    parts = (
        np.arange(1, 21) * 0.0025,  # 0.0025 .. 0.05
        np.arange(11, 41) * 0.005,  # 0.055 .. 0.2
        np.arange(11, 51) * 0.02,  # 0.22 .. 1.0
    )
    return tuple(float(round(x, 4)) for x in np.concatenate(parts))


@dataclass
class PercolationConfig:
    """The simulated study. Defaults are OUR choices, made to match our Experiment 3 and
    percolation datasets (N = 32, d = 1 px, non-periodic bumps); the paper's thresholds are
    0.005 and 0.05."""

    image_size: int = 32  # N: the frame, and K = N / spacing sites per axis
    spacing: float = 1.0  # d, px
    sigmas: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5)  # px
    thresholds: tuple[float, ...] = (0.005, 0.05)
    lambdas: tuple[float, ...] = field(default_factory=_default_lambdas)
    num_draws: int = 100
    periodic: bool = False
    measure: str = "rendered"
    seed: int = 0
    # overlap-vs-d figure: spacings (px) at which the overlap of two neighbours is shown
    overlap_spacings: tuple[float, ...] = tuple(
        float(x) for x in np.round(np.arange(0, 61) * 0.1, 2)
    )

    def validate(self) -> None:
        _check_int(self.image_size, "image_size", 4)
        _check_positive(self.spacing, "spacing")
        if self.spacing > self.image_size / 2:
            raise ValueError(
                f"spacing = {self.spacing} is invalid; allowed: (0, {self.image_size / 2}] px "
                "(at least 2 sites per axis)"
            )
        if not self.sigmas:
            raise ValueError("sigmas = () is invalid; allowed: one or more widths > 0 px")
        for s in self.sigmas:
            _check_positive(s, "sigmas[i]")
        if not self.thresholds:
            raise ValueError("thresholds = () is invalid; allowed: one or more numbers in [0, 1)")
        for t in self.thresholds:
            if not 0.0 <= t < 1.0:
                raise ValueError(f"thresholds contains {t!r}; allowed: numbers in [0, 1)")
        lam = np.asarray(self.lambdas, np.float64)
        if len(lam) < 3 or np.any(np.diff(lam) <= 0) or lam[0] <= 0 or lam[-1] > 1:
            raise ValueError(
                f"lambdas = {self.lambdas} is invalid; allowed: >= 3 strictly increasing "
                "shares in (0, 1]"
            )
        _check_int(self.num_draws, "num_draws", 1)
        _check_measure(self.measure)
        _check_int(self.seed, "seed", 0)
        if any(s < 0 for s in self.overlap_spacings) or len(self.overlap_spacings) < 2:
            raise ValueError(
                f"overlap_spacings = {self.overlap_spacings} is invalid; allowed: >= 2 "
                "spacings >= 0 px"
            )


@dataclass
class OverlapTable:
    """Overlap of two neighbouring bumps against their spacing, per ``sigma``.

    Attributes:
        spacings: (K,) centre distances in px.
        sigmas: (S,) widths in px.
        analytic: (S, K) closed form ``exp(-d^2 / 4 sigma^2)``.
        rendered: (S, K) from rendered images, one bump on the pixel centre nearest the frame
            centre and the other ``d`` px to its right (along ``x``).
    """

    spacings: np.ndarray
    sigmas: np.ndarray
    analytic: np.ndarray
    rendered: np.ndarray


def overlap_table(
    spacings: np.ndarray, sigmas: np.ndarray, *, image_size: int = 32, periodic: bool = False
) -> OverlapTable:
    """Neighbour overlap against spacing for several widths, both measures (see
    :class:`OverlapTable`)."""
    d = np.asarray(spacings, np.float64)
    sig = np.asarray(sigmas, np.float64)
    # Left bump on a pixel centre, moved left by half the largest spacing so that both bumps
    # stay well inside the frame (the caller picks a frame wide enough).
    x0 = np.floor(image_size / 2) + 0.5 - np.floor(d.max() / 2)
    y0 = np.floor(image_size / 2) + 0.5
    a = np.tile([x0, y0], (len(d), 1))  # (K, 2)
    b = a.copy()
    b[:, 0] += d
    rendered = np.stack(
        [overlap_rendered(a, b, s, image_size=image_size, periodic=periodic) for s in sig]
    )
    analytic = np.stack([overlap_closed_form(d, s) for s in sig])
    return OverlapTable(spacings=d, sigmas=sig, analytic=analytic, rendered=rendered)


@dataclass
class PercolationResult:
    """Everything the simulated study measured.

    Attributes:
        config: the config it ran.
        overlaps: neighbour overlap against spacing.
        curves: ``{(sigma, threshold): MassRatioCurve}``.
        neighbours: ``{(sigma, threshold): linked sites of a site at the lattice centre}``.
    """

    config: PercolationConfig
    overlaps: OverlapTable
    curves: dict[tuple[float, float], MassRatioCurve]
    neighbours: dict[tuple[float, float], int]

    def critical_table(self) -> list[dict]:
        """One row per (sigma, threshold): critical and steepest lambda, neighbours."""
        return [
            {
                "sigma": s,
                "threshold": t,
                "neighbours": self.neighbours[(s, t)],
                "critical_lambda": c.critical_lambda,
                "steepest_lambda": c.steepest_lambda,
            }
            for (s, t), c in self.curves.items()
        ]

    def to_json(self) -> dict:
        """A JSON-ready dict (NaN -> null)."""
        cfg = self.config
        return json_ready(
            {
                "config": asdict(cfg),
                "definitions": {
                    "overlap": "normalised inner product <a,b>/(|a||b|) of raw bump images; "
                    f"measure = {cfg.measure!r}",
                    "mass_ratio": "largest cluster size / kept sites (plotted); "
                    "largest_over_sites = largest cluster size / lattice sites",
                    "critical_lambda": "last upward crossing of 0.5 by the mean "
                    "largest/kept, linear interpolation",
                    "steepest_lambda": "argmax slope of the 5-point moving average of the mean "
                    "largest/kept",
                },
                "lattice_sites": int(round(cfg.image_size / cfg.spacing)) ** 2,
                "overlap_vs_spacing": {
                    "spacings": self.overlaps.spacings.tolist(),
                    "sigmas": self.overlaps.sigmas.tolist(),
                    "analytic": self.overlaps.analytic.tolist(),
                    "rendered": self.overlaps.rendered.tolist(),
                },
                "critical": self.critical_table(),
                "curves": [
                    {
                        "sigma": s,
                        "threshold": t,
                        "lambdas": c.lambdas.tolist(),
                        "largest_over_kept_mean": c.kept_mean.tolist(),
                        "largest_over_kept_std": c.kept_std.tolist(),
                        "largest_over_sites_mean": c.sites_mean.tolist(),
                        "largest_over_sites_std": c.sites_std.tolist(),
                        "num_draws": c.num_draws,
                    }
                    for (s, t), c in self.curves.items()
                ],
            }
        )


def simulate(cfg: PercolationConfig) -> PercolationResult:
    """Run the simulated study of ``cfg``: the overlap table, then one mass-ratio curve per
    (sigma, threshold), all with the same random draws."""
    cfg.validate()
    curves, neighbours = {}, {}
    for s in cfg.sigmas:
        for t in cfg.thresholds:
            g = lattice_graph(
                s,
                t,
                image_size=cfg.image_size,
                spacing=cfg.spacing,
                periodic=cfg.periodic,
                measure=cfg.measure,
            )
            k = g.axis_size
            neighbours[(s, t)] = int(g.degrees()[(k // 2) * k + k // 2])
            curves[(s, t)] = mass_ratio_curve(g, np.asarray(cfg.lambdas), cfg.num_draws, cfg.seed)
    overlaps = overlap_table(
        np.asarray(cfg.overlap_spacings),
        np.asarray(cfg.sigmas),
        image_size=max(cfg.image_size, int(np.ceil(2 * max(cfg.overlap_spacings))) + 8),
        periodic=False,
    )
    return PercolationResult(config=cfg, overlaps=overlaps, curves=curves, neighbours=neighbours)


def example_clusters(
    cfg: PercolationConfig, sigma: float, threshold: float, lambdas: tuple[float, ...]
) -> dict[float, np.ndarray]:
    """Cluster maps of one draw per ``lambda`` (the first draw of :func:`mass_ratio_curve`
    when ``lambda`` is on the config's grid): ``{lambda: (K, K) int64 cluster ids}``, largest
    cluster 0, -1 where not kept."""
    g = lattice_graph(
        sigma,
        threshold,
        image_size=cfg.image_size,
        spacing=cfg.spacing,
        periodic=cfg.periodic,
        measure=cfg.measure,
    )
    grid = list(cfg.lambdas)
    out = {}
    for lam in lambdas:
        j = grid.index(lam) if lam in grid else len(grid)
        kept = sample_kept(g.num_sites, lam, 1, np.random.default_rng([cfg.seed, j]))[0]
        out[lam] = cluster_labels(g, kept).reshape(g.axis_size, g.axis_size)
    return out


def _write_atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: never half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def simulate_and_plot(out: str | Path, cfg: PercolationConfig | None = None) -> dict[str, Path]:
    """Run :func:`simulate` and write ``percolation.json`` and the figures into ``out``.

    Returns:
        ``{name: path}`` of every file written.
    """
    from factordiff import plotting

    cfg = cfg or PercolationConfig()
    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    res = simulate(cfg)
    paths: dict[str, Path] = {}

    paths["json"] = out / "percolation.json"
    text = json.dumps(res.to_json(), indent=1)
    _write_atomic(paths["json"], lambda p: Path(p).write_text(text + "\n"))

    ov = res.overlaps
    figs = {
        "overlap_vs_spacing": plotting.plot_overlap_vs_spacing(
            ov.spacings,
            {s: ov.rendered[i] for i, s in enumerate(ov.sigmas)},
            analytic={s: ov.analytic[i] for i, s in enumerate(ov.sigmas)},
            thresholds=cfg.thresholds,
            lattice_spacing=cfg.spacing,
        ),
        "mass_ratio_vs_lambda": plotting.plot_mass_ratio(
            {key: (c.lambdas, c.kept_mean, c.kept_std) for key, c in res.curves.items()},
            critical={key: c.critical_lambda for key, c in res.curves.items()},
            ylabel="largest cluster / kept points",
        ),
        "strength_vs_lambda": plotting.plot_mass_ratio(
            {key: (c.lambdas, c.sites_mean, c.sites_std) for key, c in res.curves.items()},
            ylabel="largest cluster / lattice sites",
            log_lambda=False,
            half_line=False,
        ),
    }
    mid = sorted(cfg.sigmas)[len(cfg.sigmas) // 2]
    t0 = max(cfg.thresholds)
    crit = res.curves[(mid, t0)].critical_lambda
    shown = sorted({_nearest(cfg.lambdas, x) for x in _example_lambdas(crit)})
    figs["clusters"] = plotting.plot_cluster_maps(
        example_clusters(cfg, mid, t0, tuple(shown)),
        title=f"sigma = {mid:g} px, threshold {t0:g}",
    )
    for name, fig in figs.items():
        paths[name] = out / f"{name}.png"
        _write_atomic(
            paths[name],
            lambda p, f=fig: f.savefig(
                p, dpi=90, format="png", bbox_inches="tight", pad_inches=0.05
            ),
        )
    return paths


def _example_lambdas(crit: float) -> list[float]:
    if not math.isfinite(crit):
        return [0.1, 0.3, 0.6, 0.9]
    return [crit * 0.5, crit * 0.9, crit * 1.1, min(1.0, crit * 2)]


def _nearest(grid, x: float) -> float:
    g = np.asarray(grid)
    return float(g[int(np.argmin(np.abs(g - x)))])


# ----------------------------------------------------------------------------- checks
def _check_measure(measure: str) -> None:
    if measure not in OVERLAP_MEASURES:
        raise ValueError(f"measure = {measure!r} is invalid; allowed: {list(OVERLAP_MEASURES)}")


def _check_positive(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not value > 0:
        raise ValueError(f"{name} = {value!r} is invalid; allowed: a number > 0 (px)")


def _check_int(value, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} = {value!r} is invalid; allowed: an integer >= {low}")


def _check_kept(graph: LatticeGraph, kept: np.ndarray) -> np.ndarray:
    if kept.ndim != 2 or kept.shape[1] != graph.num_sites or kept.dtype != bool:
        raise ValueError(
            f"kept must be a bool array of shape (D, {graph.num_sites}); got "
            f"{kept.dtype} {kept.shape}"
        )
    return kept


# ----------------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    """``python -m factordiff.percolation --out DIR``: regenerate the simulated study."""
    p = argparse.ArgumentParser(
        prog="python -m factordiff.percolation",
        description="Simulate bump percolation (overlap graph, largest cluster vs lambda) "
        "and write percolation.json and figures.",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--num-draws", type=int, default=PercolationConfig.num_draws)
    p.add_argument("--seed", type=int, default=PercolationConfig.seed)
    p.add_argument("--measure", default=PercolationConfig.measure, help="rendered | analytic")
    p.add_argument("--periodic", action="store_true")
    args = p.parse_args(argv)
    try:
        cfg = PercolationConfig(
            num_draws=args.num_draws,
            seed=args.seed,
            measure=args.measure,
            periodic=args.periodic,
        )
        paths = simulate_and_plot(args.out, cfg)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
