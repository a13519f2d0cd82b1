"""Finding Gaussian bumps and stripes in images: how many there are, and where a single one is.

The detection half of :mod:`factordiff.evaluation` (steps 1-3 of its detection rule, which
its module docstring states): thresholds derived from the dataset's widths, connected
components of a thresholded image (merged across the wrapped edges of a torus), runs of a
1-D profile, and the sub-pixel log-parabola refinement of a peak. Everything here works on
raw intensities (bump peak 1) as numpy arrays; the verdicts (distance to the label,
expected absence, status codes) stay in :mod:`factordiff.evaluation`.

A bump is located in a 2-D image, so it has exactly two coordinates ``(x, y)``: this is a
2-D step, whatever the number of label factors elsewhere.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from factordiff.config import DataConfig

_LOG_FLOOR = 1e-4  # values below are noise for the log-parabola; avoids log(<= 0)
_MAX_SHIFT = 1.0  # px, three-point refinement (exact data never needs more than 0.5)
_MAX_EDGE_SHIFT = 2.0  # px, two-point refinement at a frame edge (centre may lie outside)


def _log(v: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(v, _LOG_FLOOR))


def _refine(
    v_minus: np.ndarray,
    v0: np.ndarray,
    v_plus: np.ndarray,
    has_minus: np.ndarray,
    has_plus: np.ndarray,
    sigma: float,
) -> np.ndarray:
    """Sub-pixel shift of a Gaussian peak from a pixel value and its neighbours, all (K,).

    Three points: the vertex of the parabola through the logs. Two points (a frame edge):
    ``log v(+1) - log v(0) = -(2 (x0 - mu) + 1) / (2 sigma^2)`` solved for ``mu``."""
    lm, l0, lp = _log(v_minus), _log(v0), _log(v_plus)
    den = lm - 2 * l0 + lp
    with np.errstate(divide="ignore", invalid="ignore"):
        three = np.where(den < 0, 0.5 * (lm - lp) / den, 0.0)
    three = np.clip(three, -_MAX_SHIFT, _MAX_SHIFT)
    right_only = np.clip(0.5 + sigma**2 * (lp - l0), -_MAX_EDGE_SHIFT, _MAX_EDGE_SHIFT)
    left_only = np.clip(-0.5 - sigma**2 * (lm - l0), -_MAX_EDGE_SHIFT, _MAX_EDGE_SHIFT)
    return np.where(
        has_minus & has_plus,
        three,
        np.where(has_plus, right_only, np.where(has_minus, left_only, 0.0)),
    )


def _neighbours(n: int, idx: np.ndarray, periodic: bool):
    """Indices of the -1 / +1 neighbours of pixel ``idx`` (K,) and whether they exist."""
    if periodic:
        ones = np.ones(idx.shape, bool)
        return (idx - 1) % n, (idx + 1) % n, ones, ones
    return np.maximum(idx - 1, 0), np.minimum(idx + 1, n - 1), idx > 0, idx < n - 1


def bump_threshold(cfg: DataConfig) -> float:
    """``t_2d``: half the lowest peak pixel of an exactly rendered bump (raw intensity)."""
    return 0.5 * float(np.exp(-1 / (8 * cfg.sigma_x**2) - 1 / (8 * cfg.sigma_y**2)))


def stripe_threshold(sigma: float) -> float:
    """``t_1d``: half the lowest peak pixel of an exactly rendered stripe of width sigma."""
    return 0.5 * float(np.exp(-1 / (8 * sigma**2)))


def max_bump_area(cfg: DataConfig) -> float:
    """Most pixels a component above :func:`bump_threshold` may cover and still count as a
    bump: four times the area ``2 pi sx sy ln(1 / t_2d)`` of the ellipse where an exactly
    rendered bump exceeds the threshold (24 px at sigma = 1). OUR bound: a larger bright
    region (a uniform image, a washed-out blob) is no bump and has no location."""
    t = bump_threshold(cfg)
    return 4.0 * 2.0 * np.pi * cfg.sigma_x * cfg.sigma_y * np.log(1.0 / t)


def detect_bumps(u: np.ndarray, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """Count bumps and locate single ones.

    Args:
        u: (B, N, N) raw intensities (bump peak 1).
        cfg: sigma and periodicity.

    Returns:
        count (B,) int64 connected components above :func:`bump_threshold`, and centre
        (B, 2) float64 ``(x, y)`` in px, NaN unless ``count == 1`` and that component is no
        larger than :func:`max_bump_area` (a uniform image is one component with no
        location, so it is never a correct bump, nor a correct blank).
    """
    b, n, _ = u.shape
    mask = u > bump_threshold(cfg)  # NaN compares False: a NaN image has no bump
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = True  # 8-connectivity inside each image, none across the batch
    lab, nlab = ndimage.label(mask, structure=structure)
    flat = lab.reshape(-1)
    pos = np.flatnonzero(flat)
    image_of = np.zeros(nlab, np.int64)
    image_of[flat[pos] - 1] = pos // (n * n)  # every label lives in one image
    area = np.bincount(flat[pos] - 1, minlength=nlab).astype(np.float64)  # (nlab,) pixels
    if cfg.periodic and nlab:
        # Merge components that touch across the wrapped edges (8-neighbourhood).
        src, dst = [], []
        for a, c in ((lab[:, :, 0], lab[:, :, -1]), (lab[:, 0, :], lab[:, -1, :])):
            for s in (-1, 0, 1):
                c_s = np.roll(c, s, axis=1)
                both = (a > 0) & (c_s > 0)
                src.append(a[both] - 1)
                dst.append(c_s[both] - 1)
        src, dst = np.concatenate(src), np.concatenate(dst)
        graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(nlab, nlab))
        ncomp, comp = connected_components(graph, directed=False)
        comp_image = np.zeros(ncomp, np.int64)
        comp_image[comp] = image_of
        count = np.bincount(comp_image, minlength=b)
        comp_area = np.bincount(comp, weights=area, minlength=ncomp)
        oversize = np.bincount(comp_image, weights=comp_area > max_bump_area(cfg), minlength=b)
    else:
        count = np.bincount(image_of, minlength=b)
        oversize = np.bincount(image_of, weights=area > max_bump_area(cfg), minlength=b)

    centre = np.full((b, 2), np.nan)
    one = np.flatnonzero((count == 1) & (oversize == 0))
    if len(one):
        img = u[one]  # (K, N, N)
        arg = img.reshape(len(one), -1).argmax(axis=1)
        i0, j0 = arg // n, arg % n
        k = np.arange(len(one))
        jm, jp, hjm, hjp = _neighbours(n, j0, cfg.periodic)
        im, ip, him, hip = _neighbours(n, i0, cfg.periodic)
        sx = _refine(img[k, i0, jm], img[k, i0, j0], img[k, i0, jp], hjm, hjp, cfg.sigma_x)
        sy = _refine(img[k, im, j0], img[k, i0, j0], img[k, ip, j0], him, hip, cfg.sigma_y)
        centre[one, 0] = j0 + 0.5 + sx
        centre[one, 1] = i0 + 0.5 + sy
        if cfg.periodic:
            centre[one] %= n
    return count, centre


def detect_stripes(profile: np.ndarray, sigma: float, periodic: bool):
    """Count and locate stripes in baseline-free profiles.

    Args:
        profile: (B, N) mean intensity per column (or row), baseline removed.
        sigma: stripe width in px.
        periodic: runs and neighbours wrap around.

    Returns:
        count (B,) int64 runs above :func:`stripe_threshold`, and position (B,) float64 in
        px, NaN unless ``count == 1``.
    """
    b, n = profile.shape
    mask = profile > stripe_threshold(sigma)
    if periodic:
        prev = np.roll(mask, 1, axis=1)
    else:
        prev = np.concatenate([np.zeros((b, 1), bool), mask[:, :-1]], axis=1)
    count = (mask & ~prev).sum(axis=1)
    if periodic:  # a run covering the whole circle has no start
        count[mask.all(axis=1)] = 1
    pos = np.full(b, np.nan)
    one = np.flatnonzero(count == 1)
    if len(one):
        p = profile[one]
        j0 = p.argmax(axis=1)
        k = np.arange(len(one))
        jm, jp, hm, hp = _neighbours(n, j0, periodic)
        pos[one] = j0 + 0.5 + _refine(p[k, jm], p[k, j0], p[k, jp], hm, hp, sigma)
        if periodic:
            pos[one] %= n
    return count.astype(np.int64), pos
