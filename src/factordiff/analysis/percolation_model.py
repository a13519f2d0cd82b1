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


The clusters, the mass ratio and the critical ``lambda`` are in
:mod:`~factordiff.analysis.percolation_clusters`; the simulated study, its figures and its
command line in :mod:`~factordiff.analysis.percolation_sim`. Not to be confused with
:mod:`factordiff.experiments.percolation`, the experiment that trains models on these datasets.

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from factordiff.config import DataConfig
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


# ----------------------------------------------------------------------------- overlap table
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
