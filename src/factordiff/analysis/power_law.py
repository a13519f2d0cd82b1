"""Data-efficiency scaling: the dataset size at an accuracy threshold, and power-law fits.

Experiment 3 asks how many training images a model needs to reach an accuracy threshold
(60% in the paper) as the image size ``N`` grows: about ``N^2`` for 2D bumps alone and about
``N`` for bumps plus 1D stripes. Two steps, both plain functions of arrays:

1. :func:`size_at_threshold` / :func:`sizes_at_threshold`: the size at which a measured
   accuracy-vs-size curve first reaches the threshold, interpolated between the bracketing
   measured points, linearly in ``log(size)``. A curve that never reaches it gives NaN with
   the flag ``'never_reached'`` (its largest size is a lower bound); a curve already at or
   above it at its smallest size gives NaN with ``'reached_at_smallest'`` (that size is an
   upper bound). Nothing is extrapolated.
2. :func:`fit_power_law`: the exponent ``b`` of ``y = a x^b`` by least squares on
   ``(log x, mean over seeds of log y)``, with a percentile bootstrap confidence interval that
   resamples seeds (with replacement) and then points (with replacement), from one seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

STATUSES = ("interpolated", "never_reached", "reached_at_smallest")


@dataclass(frozen=True)
class ThresholdSize:
    """The dataset size at which an accuracy curve first reaches a threshold.

    Attributes:
        size: interpolated size; NaN unless ``status == 'interpolated'``.
        status: ``'interpolated'``, ``'never_reached'`` or ``'reached_at_smallest'``.
        bound: ``size`` when interpolated; the largest measured size (a lower bound on the
            size needed) when never reached; the smallest measured size (an upper bound) when
            reached at the smallest size; NaN when no point was measured.
    """

    size: float
    status: str
    bound: float

    @property
    def reached(self) -> bool:
        return self.status == "interpolated"


def _as_sizes(sizes) -> np.ndarray:
    s = np.asarray(sizes, np.float64)
    if s.ndim != 1 or len(s) < 1:
        raise ValueError(f"sizes must be a 1D array of length >= 1; got shape {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"sizes must be finite and > 0; got {s.tolist()}")
    if np.any(np.diff(s) <= 0):
        raise ValueError(f"sizes must be strictly increasing; got {s.tolist()}")
    return s


def size_at_threshold(sizes, accuracy, threshold: float = 0.6) -> ThresholdSize:
    """The size at which ``accuracy`` first reaches ``threshold``.

    Accuracy is interpolated linearly in ``log(size)`` between the last point below the
    threshold and the first point at or above it. Points whose accuracy is NaN are skipped.

    Args:
        sizes: (K,) strictly increasing dataset sizes (> 0).
        accuracy: (K,) accuracies in [0, 1] (NaN = not measured).
        threshold: the accuracy to reach.

    Returns:
        A :class:`ThresholdSize`.
    """
    s = _as_sizes(sizes)
    a = np.asarray(accuracy, np.float64)
    if a.shape != s.shape:
        raise ValueError(f"accuracy must have the shape of sizes {s.shape}; got {a.shape}")
    if not isinstance(threshold, int | float) or isinstance(threshold, bool):
        raise ValueError(f"threshold = {threshold!r} is invalid; allowed: a number")
    ok = np.isfinite(a)
    s, a = s[ok], a[ok]
    if len(s) == 0:
        return ThresholdSize(math.nan, "never_reached", math.nan)
    above = np.flatnonzero(a >= threshold)
    if len(above) == 0:
        return ThresholdSize(math.nan, "never_reached", float(s[-1]))
    i = above[0]
    if i == 0:
        return ThresholdSize(math.nan, "reached_at_smallest", float(s[0]))
    f = (threshold - a[i - 1]) / (a[i] - a[i - 1])  # a[i-1] < threshold <= a[i]
    size = float(np.exp(np.log(s[i - 1]) + f * (np.log(s[i]) - np.log(s[i - 1]))))
    return ThresholdSize(size, "interpolated", size)


def sizes_at_threshold(
    sizes, accuracy, threshold: float = 0.6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`size_at_threshold` for each row (seed) of ``accuracy``.

    Args:
        sizes: (K,) strictly increasing dataset sizes.
        accuracy: (S, K) accuracy per seed and size.

    Returns:
        ``(size, status, bound)``: (S,) float64 sizes (NaN when not interpolated), (S,)
        str statuses, (S,) float64 bounds (see :class:`ThresholdSize`).
    """
    acc = np.asarray(accuracy, np.float64)
    if acc.ndim != 2:
        raise ValueError(f"accuracy must have shape (S, K); got {acc.shape}")
    res = [size_at_threshold(sizes, row, threshold) for row in acc]
    return (
        np.array([r.size for r in res]),
        np.array([r.status for r in res]),
        np.array([r.bound for r in res]),
    )


@dataclass(frozen=True)
class PowerLawFit:
    """``y = prefactor * x ** exponent`` fitted on log-log points.

    Attributes:
        exponent: least-squares slope of mean-over-seeds ``log y`` against ``log x``.
        prefactor: ``exp`` of the intercept.
        ci_low, ci_high: percentile bootstrap interval of the exponent at level ``ci``.
        ci: the confidence level, e.g. 0.95.
        num_points: x values with at least one finite ``y``.
        num_seeds: rows of ``y``.
        num_boot: bootstrap replicates that gave a slope (a replicate drawing a single
            distinct ``x`` has none and is not counted).
        boot_exponents: (num_boot,) the replicates' exponents.
    """

    exponent: float
    prefactor: float
    ci_low: float
    ci_high: float
    ci: float
    num_points: int
    num_seeds: int
    num_boot: int
    boot_exponents: np.ndarray

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies in the confidence interval."""
        return bool(self.ci_low <= value <= self.ci_high)

    def to_json(self) -> dict:
        """The fit without the replicates, as plain Python numbers."""
        return {
            "exponent": self.exponent,
            "prefactor": self.prefactor,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "ci": self.ci,
            "num_points": self.num_points,
            "num_seeds": self.num_seeds,
            "num_boot": self.num_boot,
        }


def _masked_slopes(lx: np.ndarray, ly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slopes and intercepts of rows of ``(lx, ly)`` (B, K), ignoring NaN in
    ``ly``; NaN for a row with fewer than two distinct ``lx``."""
    w = np.isfinite(ly)
    n = w.sum(1)
    y0 = np.where(w, ly, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (lx * w).sum(1) / n
        my = y0.sum(1) / n
        dx = np.where(w, lx - mx[:, None], 0.0)
        sxx = (dx**2).sum(1)
        sxy = (dx * (y0 - my[:, None])).sum(1)
        slope = np.where(sxx > 1e-12, sxy / sxx, np.nan)
    return slope, my - slope * mx


def fit_power_law(x, y, *, num_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> PowerLawFit:
    """Fit ``y = a x^b`` on log-log axes, with a bootstrap interval over seeds and points.

    The point estimate fits ``log y`` averaged over seeds (finite entries only) against
    ``log x``. Each bootstrap replicate draws ``S`` seeds with replacement, averages their
    ``log y`` per ``x``, then draws ``K`` of those points with replacement and refits; the
    interval is the ``(1 - ci) / 2`` and ``(1 + ci) / 2`` percentiles of the replicates'
    slopes. Resampling seeds carries the run-to-run spread; resampling points carries the
    departure of the points from a straight line.

    Args:
        x: (K,) positive abscissae (e.g. image sizes N).
        y: (K,) or (S, K) positive values per seed (e.g. dataset size at 60% accuracy); NaN
            marks a missing value (a seed that never reached the threshold) and is skipped.
        num_boot: bootstrap replicates, >= 100.
        ci: confidence level in (0, 1).
        seed: seeds the bootstrap.

    Returns:
        A :class:`PowerLawFit`.

    Raises:
        ValueError: bad shapes or values, or fewer than two x with a finite y.
    """
    lx = np.asarray(x, np.float64)
    yy = np.asarray(y, np.float64)
    if yy.ndim == 1:
        yy = yy[None]
    if lx.ndim != 1 or yy.ndim != 2 or yy.shape[1] != len(lx):
        raise ValueError(f"x must be (K,) and y (K,) or (S, K); got {lx.shape} and {yy.shape}")
    if np.any(~np.isfinite(lx)) or np.any(lx <= 0):
        raise ValueError(f"x must be finite and > 0; got {lx.tolist()}")
    if np.any(yy[np.isfinite(yy)] <= 0):
        raise ValueError("y must be > 0 (or NaN for a missing value)")
    if isinstance(num_boot, bool) or not isinstance(num_boot, int) or num_boot < 100:
        raise ValueError(f"num_boot = {num_boot!r} is invalid; allowed: an integer >= 100")
    if not 0 < ci < 1:
        raise ValueError(f"ci = {ci!r} is invalid; allowed: a number in (0, 1)")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed = {seed!r} is invalid; allowed: an integer >= 0")
    lx = np.log(lx)
    ly = np.log(np.where(np.isfinite(yy), yy, np.nan))  # (S, K)
    has = np.isfinite(ly).any(0)
    if np.unique(lx[has]).size < 2:
        raise ValueError(
            f"a power-law fit needs >= 2 distinct x with a finite y; got {int(has.sum())}"
        )
    s, k = ly.shape

    def seed_mean(rows: np.ndarray) -> np.ndarray:  # (..., S', K) -> (..., K), NaN-aware
        w = np.isfinite(rows)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(w, rows, 0.0).sum(-2) / w.sum(-2)

    slope, intercept = _masked_slopes(lx[None], seed_mean(ly)[None])
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, s, size=(num_boot, s))  # (B, S)
    points = rng.integers(0, k, size=(num_boot, k))  # (B, K)
    means = seed_mean(ly[seeds])  # (B, K)
    boot_y = np.take_along_axis(means, points, axis=1)
    boot_x = lx[points]
    boots, _ = _masked_slopes(boot_x, boot_y)
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [(1 - ci) / 2, (1 + ci) / 2])
    return PowerLawFit(
        exponent=float(slope[0]),
        prefactor=float(np.exp(intercept[0])),
        ci_low=float(lo),
        ci_high=float(hi),
        ci=float(ci),
        num_points=int(has.sum()),
        num_seeds=int(s),
        num_boot=int(len(boots)),
        boot_exponents=boots,
    )
