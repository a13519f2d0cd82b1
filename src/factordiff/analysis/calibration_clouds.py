"""The calibration clouds: point clouds whose answers are known by construction, and the
answers (:data:`KNOWN_ANSWERS`, :func:`known_effective_dimension`);
:mod:`factordiff.analysis.calibration` runs every rule on them.

Each cloud lives on the ``n x n`` condition grid of an ``N = n`` image frame (labels at pixel
centres, :func:`condition_grid`), optionally with isotropic Gaussian noise:

============== ======================================================= ===========
cloud          construction                                            Betti
============== ======================================================= ===========
ring_torus     3D donut, R = 2, r = 1 (x around the axis, y the tube)  (1, 2, 1)
clifford_torus 4D flat torus ``(cos tx, sin tx, cos ty, sin ty)``       (1, 2, 1)
bump_torus     periodic Gaussian bump images (sigma = 1 px), pixels    (1, 2, 1)
bump_square    non-periodic bump images (the frame is a square)        (1, 0, 0)
circle         ``(cos tx, sin tx)``: x only, y is ignored              (1, 1, 0)
random_features an independent N(0, I / 256) vector per condition      (1, 0, 0)
============== ======================================================= ===========

Noise (OUR choice): ``level`` times the cloud's RMS distance to its centroid is the expected
norm of the noise vector, spread evenly over the coordinates (per-coordinate standard
deviation ``level * rms / sqrt(d)``), so one level is equally strong for a 3D torus and for
1,024-pixel images. The table's levels (``calibration.NOISE_LEVELS``): 0.1 (the answers must
hold) and 0.3 (a stress test; failures are reported, not hidden).

Known answers of the loop rules (:class:`FactorizationTest`), by construction:

- Clifford torus: x and y in orthogonal planes: orthogonal, parallel in x and in y, not
  superfactored (a loop is a circle).
- ring torus: x- and y-loops share the radial direction: not orthogonal; x parallel (every
  x-loop is horizontal), y not (y-loops turn with x); not superfactored.
- bump images (torus and square): an image is the outer product ``g_x(mu_x) g_y(mu_y)^T`` of
  two 1D profiles, so an x-loop spans ``{shifts of g_x} x g_y(y_j)``: x-loops at different y
  lie in nearly orthogonal subspaces (not parallel), x- and y-loops are nearly orthogonal,
  and images more than ~3 px apart are nearly orthogonal: superfactored.
- circle: y has no loop (no variance): not orthogonal, not parallel in y, not superfactored;
  parallel in x (every x-loop is the same circle).
- random features: orthogonal, not parallel, superfactored.

"Not aligned" (x-on-x and y-on-y both at most ``NOT_ALIGNED_BELOW``; the paper's reading of
the parallelism test): the bump images' and random features' loops at different values lie in
nearly orthogonal subspaces (not aligned); the Clifford torus and the circle have the same
x-loop at every y, and the ring torus's x-loops are all horizontal circles (aligned in x).

Effective dimension (participation ratio), exact where known: circle 2, Clifford torus 4,
ring torus ``25 / 10.375 = 2.41``, periodic bump images from the Fourier spectrum of one
bump (:func:`bump_torus_effective_dimension`, the covariance of all cyclic shifts of an image
is circulant), random features about ``n d / (n + d)`` (Marchenko-Pastur).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factordiff.analysis.grid import Representation, condition_grid
from factordiff.analysis.references import clifford_torus, random_feature_torus, ring_torus

CLOUDS = (
    "ring_torus",
    "clifford_torus",
    "bump_torus",
    "bump_square",
    "circle",
    "random_features",
)

#: Dimension of the random-feature cloud.
RANDOM_FEATURE_DIM = 256


@dataclass(frozen=True)
class KnownAnswer:
    """What each rule must report on a clean cloud (module docstring)."""

    betti: tuple[int, int, int]
    orthogonal: bool
    parallel_x: bool
    parallel_y: bool
    superfactored: bool
    periodic: bool  # whether the grid's loops close
    description: str
    not_aligned: bool  # x-on-x and y-on-y both <= NOT_ALIGNED_BELOW (module docstring)


KNOWN_ANSWERS: dict[str, KnownAnswer] = {
    "ring_torus": KnownAnswer((1, 2, 1), False, True, False, False, True, "3D ring torus", False),
    "clifford_torus": KnownAnswer(
        (1, 2, 1), True, True, True, False, True, "4D Clifford torus", False
    ),
    "bump_torus": KnownAnswer(
        (1, 2, 1), True, False, False, True, True, "periodic bump images", True
    ),
    "bump_square": KnownAnswer(
        (1, 0, 0), True, False, False, True, False, "bump images, square", True
    ),
    "circle": KnownAnswer((1, 1, 0), False, True, False, False, True, "circle in x only", False),
    "random_features": KnownAnswer(
        (1, 0, 0), True, False, False, True, True, "random vector per condition", True
    ),
}


def _check_cloud(name: str) -> KnownAnswer:
    if name not in KNOWN_ANSWERS:
        raise ValueError(f"cloud = {name!r} is invalid; allowed: {list(CLOUDS)}")
    return KNOWN_ANSWERS[name]


def bump_images(n: int, periodic: bool, sigma_px: float = 1.0) -> np.ndarray:
    """Bump images of the ``n x n`` grid at the pixel centres of an ``n x n`` frame, rendered
    by :func:`factordiff.data.render.render_images` in model space [-1, 1]: (n * n, n * n),
    rows x-major like :func:`condition_grid`."""
    from factordiff.config import DataConfig
    from factordiff.data.render import render_images

    cfg = DataConfig(image_size=n, periodic=periodic, sigma_x=sigma_px, sigma_y=sigma_px)
    cfg.validate()
    labels, _ = condition_grid(n, n, n)
    return render_images(labels, cfg).reshape(n * n, n * n).numpy().astype(np.float64)


def bump_torus_effective_dimension(n: int, sigma_px: float = 1.0) -> float:
    """Exact participation ratio of the periodic bump images on the ``n x n`` grid.

    The images are all cyclic shifts of one image ``u``, so their covariance is circulant
    and its eigenvalues are ``|DFT(u)(f)|^2 / n^2`` for every frequency ``f != 0``."""
    u = bump_images(n, periodic=True, sigma_px=sigma_px)[0].reshape(n, n)
    power = np.abs(np.fft.fft2(u)) ** 2  # (n, n)
    power[0, 0] = 0.0  # the mean image is removed by centring
    lam = power.ravel()
    return float(lam.sum() ** 2 / np.sum(lam**2))


def known_effective_dimension(name: str, n: int) -> float | None:
    """The effective dimension of the clean cloud ``name`` on an ``n x n`` grid, where known
    (exactly, or for random features the Marchenko-Pastur value); ``None`` otherwise."""
    _check_cloud(name)
    if name == "circle":
        return 2.0
    if name == "clifford_torus":
        return 4.0
    if name == "ring_torus":  # variances (R^2 + r^2 / 2) / 2 twice and r^2 / 2, R = 2, r = 1
        lam = np.array([2.25, 2.25, 0.5])
        return float(lam.sum() ** 2 / np.sum(lam**2))
    if name == "bump_torus":
        return bump_torus_effective_dimension(n)
    if name == "random_features":
        m = n * n
        return m * RANDOM_FEATURE_DIM / (m + RANDOM_FEATURE_DIM)
    return None


def add_relative_noise(X: np.ndarray, level: float, random_state: int | None = 0) -> np.ndarray:
    """``X`` (n, d) plus Gaussian noise whose expected norm is ``level`` times the RMS
    distance of ``X`` to its centroid (per-coordinate std ``level * rms / sqrt(d)``)."""
    if not level >= 0:
        raise ValueError(f"noise level = {level!r} is invalid; allowed: a number >= 0")
    if level == 0:
        return X
    rms = float(np.sqrt(np.mean(np.sum((X - X.mean(axis=0)) ** 2, axis=1))))
    rng = np.random.default_rng(random_state)
    return X + (level * rms / np.sqrt(X.shape[1])) * rng.standard_normal(X.shape)


def calibration_cloud(
    name: str, n: int = 32, noise_level: float = 0.0, random_state: int = 0
) -> Representation:
    """The calibration cloud ``name`` on the ``n x n`` grid of an ``n x n`` frame (period
    ``n``), with relative noise ``noise_level``. Returns a gridded :class:`Representation`
    with ``X`` (n * n, d) and metadata naming the cloud."""
    known = _check_cloud(name)
    if not isinstance(n, int) or n < 8:
        raise ValueError(f"n = {n!r} is invalid; allowed: an integer grid side >= 8")
    labels, shape = condition_grid(n, n, n)
    if name == "ring_torus":
        X = ring_torus(labels, n)
    elif name == "clifford_torus":
        X = clifford_torus(labels, n)
    elif name in ("bump_torus", "bump_square"):
        X = bump_images(n, periodic=name == "bump_torus")
    elif name == "circle":
        theta = 2 * np.pi * labels[:, 0].astype(np.float64) / n
        X = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    else:
        X = random_feature_torus(labels, dim=RANDOM_FEATURE_DIM, random_state=random_state)
    # A separate stream for the noise, so the random features do not repeat in it.
    X = add_relative_noise(
        X, noise_level, random_state=None if random_state is None else random_state + 1
    )
    return Representation(
        X=X,
        labels=labels,
        grid_shape=shape,
        metadata={
            "source": "calibration",
            "cloud": name,
            "noise_level": float(noise_level),
            "periodic": known.periodic,
            "image_size": n,
            "random_state": random_state,
        },
    )
