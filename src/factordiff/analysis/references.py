"""Ideal reference manifolds, sampled on the same conditions as a model.

Each condition ``(mu_x, mu_y)`` becomes two angles ``theta_x = 2 pi mu_x / P`` and
``theta_y = 2 pi mu_y / P`` (``P`` = the period of the labels, ``N`` for periodic data):

- :func:`ring_torus`: the 3D ring (donut) torus, radii ``R > r``. x and y are *coupled*:
  the y-circle turns with x, so a change in y is not confined to a subspace of its own.
- :func:`clifford_torus`: the flat 4D Clifford torus ``(cos, sin) x (cos, sin)``. x and y are
  *factorized*: they live in orthogonal 2D planes.
- :func:`random_feature_torus`: an independent random vector per grid point, the extreme of
  "superfactored": every value of a feature is orthogonal to every other.

All of them go through exactly the same pipeline as a model's representation.
"""

from __future__ import annotations

import numpy as np

from factordiff.analysis.grid import Representation


def _angles(labels: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or labels.shape[1] != 2:
        raise ValueError(f"labels must have shape (n, 2), got {labels.shape}")
    if not period > 0:
        raise ValueError(f"period = {period!r} is invalid; allowed: a number > 0")
    theta = 2 * np.pi * labels / period  # (n, 2)
    return theta[:, 0], theta[:, 1]


def _noisy(X: np.ndarray, noise_std: float, random_state: int | None) -> np.ndarray:
    if noise_std < 0:
        raise ValueError(f"noise_std = {noise_std!r} is invalid; allowed: a number >= 0")
    if noise_std == 0:
        return X
    rng = np.random.default_rng(random_state)
    return X + noise_std * rng.standard_normal(X.shape)


def clifford_torus(
    labels: np.ndarray,
    period: float,
    *,
    radius: float = 1.0,
    noise_std: float = 0.0,
    random_state: int | None = None,
) -> np.ndarray:
    """Flat torus in R^4: ``radius * (cos tx, sin tx, cos ty, sin ty)``, shape (n, 4).

    ``labels`` (n, 2) in label units; ``noise_std`` adds isotropic Gaussian noise."""
    tx, ty = _angles(labels, period)
    X = radius * np.stack([np.cos(tx), np.sin(tx), np.cos(ty), np.sin(ty)], axis=1)
    return _noisy(X, noise_std, random_state)


def ring_torus(
    labels: np.ndarray,
    period: float,
    *,
    major_radius: float = 2.0,
    minor_radius: float = 1.0,
    noise_std: float = 0.0,
    random_state: int | None = None,
) -> np.ndarray:
    """Ring torus in R^3, shape (n, 3): x turns around the z axis, y around the tube.

    ``((R + r cos ty) cos tx, (R + r cos ty) sin tx, r sin ty)``. The default ``R / r = 2``
    keeps the tube thick compared with the grid spacing along x, so a 32 x 32 grid samples
    it densely enough for persistent homology to see the 2-cycle (H2)."""
    if not major_radius > minor_radius > 0:
        raise ValueError(
            f"major_radius = {major_radius!r}, minor_radius = {minor_radius!r} are invalid; "
            "allowed: major_radius > minor_radius > 0 (a ring torus)"
        )
    tx, ty = _angles(labels, period)
    ring = major_radius + minor_radius * np.cos(ty)
    X = np.stack([ring * np.cos(tx), ring * np.sin(tx), minor_radius * np.sin(ty)], axis=1)
    return _noisy(X, noise_std, random_state)


def random_feature_torus(
    labels: np.ndarray,
    *,
    dim: int = 256,
    random_state: int | None = None,
) -> np.ndarray:
    """An independent Gaussian vector ``N(0, I / dim)`` per distinct condition, (n, dim).

    Equal labels get equal vectors; nothing else is shared, so in high ``dim`` different
    values of one feature are nearly orthogonal (cosine ~ 1 / sqrt(dim))."""
    if dim < 1:
        raise ValueError(f"dim = {dim!r} is invalid; allowed: an integer >= 1")
    labels = np.asarray(labels)
    _, inverse = np.unique(labels, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    rng = np.random.default_rng(random_state)
    vectors = rng.standard_normal((inverse.max() + 1, dim)) / np.sqrt(dim)
    return vectors[inverse]


def circle(
    n_points: int,
    *,
    radius: float = 1.0,
    noise_std: float = 0.0,
    random_state: int | None = None,
) -> np.ndarray:
    """``n_points`` evenly spaced on a circle in R^2, shape (n_points, 2)."""
    theta = 2 * np.pi * np.arange(n_points) / n_points
    X = radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return _noisy(X, noise_std, random_state)


REFERENCE_KINDS = ("ring_torus", "clifford_torus", "random_feature_torus")


def reference_representation(
    kind: str,
    like: Representation,
    *,
    period: float | None = None,
    noise_std: float = 0.0,
    random_state: int | None = 0,
) -> Representation:
    """The reference manifold ``kind`` on exactly the conditions of ``like``.

    ``period`` defaults to ``like.metadata["image_size"]`` (labels in pixels, periodic over
    the frame). ``noise_std`` is in units of the manifold (radii 1 and 2); it is not used by
    the random-feature torus."""
    if kind not in REFERENCE_KINDS:
        raise ValueError(f"kind = {kind!r} is invalid; allowed: {list(REFERENCE_KINDS)}")
    if period is None:
        period = like.metadata.get("image_size")
        if period is None:
            raise ValueError("pass period=P: the representation's metadata has no image_size")
    if kind == "ring_torus":
        X = ring_torus(like.labels, period, noise_std=noise_std, random_state=random_state)
    elif kind == "clifford_torus":
        X = clifford_torus(like.labels, period, noise_std=noise_std, random_state=random_state)
    else:
        X = random_feature_torus(like.labels, random_state=random_state)
    return Representation(
        X=X,
        labels=like.labels,
        grid_shape=like.grid_shape,
        metadata={
            "source": "reference",
            "kind": kind,
            "period": float(period),
            "noise_std": float(noise_std),
            "random_state": random_state,
            "image_size": like.metadata.get("image_size"),
        },
    )


def reference_representations(
    like: Representation,
    kinds: tuple[str, ...] = ("ring_torus", "clifford_torus"),
    **kwargs,
) -> dict[str, Representation]:
    """``{kind: reference_representation(kind, like, **kwargs)}`` for each of ``kinds``:
    by default the two ideals of the paper's Fig. 3."""
    return {kind: reference_representation(kind, like, **kwargs) for kind in kinds}
