"""Clusters of the kept lattice sites, the largest-cluster mass ratio and the critical lambda.

The kept sites and their overlap graph are those of :mod:`~factordiff.analysis.percolation_model`
(the setting and the overlap are described there).

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from factordiff.analysis.percolation_model import LatticeGraph, _check_int


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


# ----------------------------------------------------------------------------- checks
def _check_kept(graph: LatticeGraph, kept: np.ndarray) -> np.ndarray:
    if kept.ndim != 2 or kept.shape[1] != graph.num_sites or kept.dtype != bool:
        raise ValueError(
            f"kept must be a bool array of shape (D, {graph.num_sites}); got "
            f"{kept.dtype} {kept.shape}"
        )
    return kept
