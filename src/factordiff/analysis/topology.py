"""Persistent homology of a representation point cloud (ripser), and Betti numbers.

Vietoris-Rips persistence with Z/2 coefficients, computed in two parts (OUR choice, fixed on
the calibration clouds of :mod:`factordiff.analysis.calibration`; see ``docs/analysis.md``):

- **H0 and H1 from every distinct point** (``h1_points="all"``). Exact duplicates are merged
  first (they do not change the homology, and ripser is very slow on repeated points).
- **H2 from ``n_landmarks`` greedy max-min landmarks** (ripser's ``n_perm``), which keeps H2
  affordable; a landmark set with covering radius ``r_cover`` moves every bar by at most about
  ``2 r_cover`` (stability of persistence).

Why H1 uses every point: on the periodic bump images (a torus in pixel space), neighbouring
conditions are 2.36 apart and images 3 px apart are already nearly orthogonal (distance
5.0, the diameter). 256 max-min landmarks have covering radius 3.1: the landmarks are then
almost equidistant and both torus loops vanish (bars 0.84, 0.84, ...). On all 1,024 points the
two loops stand at 2.66 against 0.79 for the next bar. The older rule (``h1_points =
"landmarks"``, H1 on the same 256 landmarks as H2) is kept as an option.

Betti rule ("bars much longer than the rest"). In each dimension, sort the finite bars by
persistence ``p_1 >= p_2 >= ... >= p_n`` and set ``p_{n+1} = 0``. A bar is *long* when it
is at least ``min_relative_persistence`` (default 0.1) times the longest finite bar of any
dimension (so tiny bars never count), and ``i`` is a *gap* when ``p_i >= gap_ratio *
p_{i+1}`` (default 2). Betti_k is the largest ``i <= max_features`` (default 10) that is a
gap at a long bar (0 if none), plus the number of infinite bars (the one connected
component in H0). Taking the *largest* such ``i``, not the largest gap, keeps loops of
different sizes (a ring torus with R >> r) from hiding the smaller one; the cap
``max_features`` stops a dimension whose bars are all alike (H0 of evenly spread
points: hundreds of equal bars, then ``p_{n+1} = 0``) from counting them all.

Known answers (tested): Clifford and ring torus (R / r = 2) and the periodic bump images on
a 32 x 32 grid give b1 = 2, the non-periodic bump images (a square) b1 = 0, a circle
(1, 1) (and 0 in H2).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

#: Which points H0 and H1 are computed from (see :class:`PersistentHomology`).
H1_POINTS = ("all", "landmarks")


def _persistence(diagram: np.ndarray) -> np.ndarray:
    return diagram[:, 1] - diagram[:, 0]


def betti_numbers(
    diagrams: list[np.ndarray],
    gap_ratio: float = 2.0,
    min_relative_persistence: float = 0.1,
    max_features: int = 10,
) -> tuple[int, ...]:
    """Betti numbers read from persistence diagrams by the rule in the module docstring.

    ``diagrams[k]`` (n_k, 2) holds the (birth, death) pairs of H_k; deaths may be ``inf``.
    Returns one count per dimension."""
    if gap_ratio <= 1:
        raise ValueError(f"gap_ratio = {gap_ratio!r} is invalid; allowed: a number > 1")
    if not 0 <= min_relative_persistence < 1:
        raise ValueError(
            f"min_relative_persistence = {min_relative_persistence!r} is invalid; allowed: "
            "a share in [0, 1)"
        )
    if max_features < 1:
        raise ValueError(f"max_features = {max_features!r} is invalid; allowed: an integer >= 1")
    finite = [np.asarray(d)[np.isfinite(np.asarray(d)[:, 1])] for d in diagrams]
    longest = max((float(_persistence(d).max()) for d in finite if len(d)), default=0.0)
    betti = []
    for d, f in zip(diagrams, finite):
        n_inf = int(len(d) - len(f))
        p = np.sort(_persistence(f))[::-1]  # (n,) descending
        nxt = np.append(p[1:], 0.0)  # p_{i+1}, with p_{n+1} = 0
        long_bar = p >= min_relative_persistence * longest
        with np.errstate(divide="ignore"):
            gap = p >= gap_ratio * nxt
        hits = np.flatnonzero((long_bar & gap & (p > 0))[:max_features])
        betti.append(n_inf + (int(hits[-1]) + 1 if hits.size else 0))
    return tuple(betti)


class PersistentHomology:
    """Vietoris-Rips persistent homology of a point cloud: H0 and H1 from every distinct
    point, H2 from greedy max-min landmarks (module docstring).

    Parameters
    ----------
    maxdim : highest homology dimension (2: H0, H1, H2).
    n_landmarks : greedy max-min landmarks (ripser ``n_perm``) for H2 (and for H1 when
        ``h1_points="landmarks"``); all points are used when the cloud is not larger.
        Deterministic: ripser starts the max-min sequence at point 0.
    h1_points : ``"all"`` (default): H0 and H1 from every distinct point; ``"landmarks"``:
        every dimension from the landmarks (the rule before calibration).
    gap_ratio, min_relative_persistence, max_features : the Betti rule (module docstring).
    coeff : field Z/coeff of the homology.

    Attributes (after :meth:`fit` on X (n, d))
    ----------
    diagrams_ : list of (n_k, 2) arrays of (birth, death), k = 0..maxdim.
    betti_ : tuple of Betti numbers by the rule.
    landmarks_ : (m,) indices into X of the points used for H2 (all dimensions when
        ``h1_points="landmarks"``).
    n_points_h1_ : number of distinct points H0 and H1 were computed from.
    r_cover_ : covering radius of the landmarks (0 when every point is used).
    fit_time_s_ : wall time of the ripser calls, seconds; ``fit_time_h1_s_`` of the H0/H1 part
        and ``cpu_time_h1_s_`` its CPU time (ripser is single-threaded: on a shared machine the
        CPU time is what the part costs).
    """

    def __init__(
        self,
        maxdim: int = 2,
        n_landmarks: int = 256,
        h1_points: str = "all",
        gap_ratio: float = 2.0,
        min_relative_persistence: float = 0.1,
        max_features: int = 10,
        coeff: int = 2,
    ) -> None:
        self.maxdim = maxdim
        self.n_landmarks = n_landmarks
        self.h1_points = h1_points
        self.gap_ratio = gap_ratio
        self.min_relative_persistence = min_relative_persistence
        self.max_features = max_features
        self.coeff = coeff

    def _ripser(self, X: np.ndarray, maxdim: int, n_perm: int | None) -> dict:
        from ripser import ripser

        with warnings.catch_warnings():
            # Representations often have more dimensions than points; that is intended.
            warnings.filterwarnings("ignore", message="The input point cloud has more columns")
            warnings.filterwarnings("ignore", message="The input matrix is square")
            return ripser(X, maxdim=maxdim, coeff=self.coeff, n_perm=n_perm)

    def fit(self, X: np.ndarray) -> PersistentHomology:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 3:
            raise ValueError(f"X must have shape (n >= 3, d), got {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("X holds NaN or inf values; persistent homology needs finite points")
        if not isinstance(self.maxdim, int) or not 0 <= self.maxdim <= 3:
            raise ValueError(f"maxdim = {self.maxdim!r} is invalid; allowed: 0, 1, 2 or 3")
        if not isinstance(self.n_landmarks, int) or self.n_landmarks < 3:
            raise ValueError(f"n_landmarks = {self.n_landmarks!r}; allowed: an integer >= 3")
        if self.h1_points not in H1_POINTS:
            raise ValueError(
                f"h1_points = {self.h1_points!r} is invalid; allowed: {list(H1_POINTS)}"
            )
        n_perm = self.n_landmarks if X.shape[0] > self.n_landmarks else None
        start, cpu_start = time.perf_counter(), time.process_time()
        if self.h1_points == "all":
            # Exact duplicates (a representation that ignores one feature) are merged: they
            # change no homology, and ripser slows down badly on repeated points.
            distinct, first = np.unique(X, axis=0, return_index=True)
            if len(distinct) < 2:
                raise ValueError("X has a single distinct point: there is no topology to read")
            low = self._ripser(distinct, min(self.maxdim, 1), None)
            self.fit_time_h1_s_ = time.perf_counter() - start
            self.cpu_time_h1_s_ = time.process_time() - cpu_start
            self.n_points_h1_ = int(len(distinct))
            diagrams = list(low["dgms"])
            self.landmarks_ = np.sort(first)
            self.r_cover_ = 0.0
            if self.maxdim >= 2:
                n_perm = self.n_landmarks if len(distinct) > self.n_landmarks else None
                high = self._ripser(distinct, self.maxdim, n_perm)
                diagrams += list(high["dgms"][2:])
                if n_perm is not None:
                    self.landmarks_ = first[np.asarray(high["idx_perm"])]
                    self.r_cover_ = float(high["r_cover"])
        else:
            result = self._ripser(X, self.maxdim, n_perm)
            self.fit_time_h1_s_ = time.perf_counter() - start
            self.cpu_time_h1_s_ = time.process_time() - cpu_start
            diagrams = list(result["dgms"])
            self.landmarks_ = (
                np.asarray(result["idx_perm"]) if n_perm is not None else np.arange(X.shape[0])
            )
            self.r_cover_ = float(result["r_cover"]) if n_perm is not None else 0.0
            self.n_points_h1_ = int(len(self.landmarks_))
        self.fit_time_s_ = time.perf_counter() - start
        self.diagrams_ = [np.asarray(d, dtype=np.float64) for d in diagrams]
        self.betti_ = betti_numbers(
            self.diagrams_, self.gap_ratio, self.min_relative_persistence, self.max_features
        )
        return self

    def summary(self) -> dict:
        """JSON-ready numbers: Betti numbers, the longest bars per dimension, the rule."""
        top = []
        for d in self.diagrams_:
            f = d[np.isfinite(d[:, 1])]
            top.append([float(v) for v in np.sort(_persistence(f))[::-1][:5]])
        return {
            "betti": list(self.betti_),
            "longest_bars": top,
            "n_landmarks": int(len(self.landmarks_)),
            "n_points_h1": self.n_points_h1_,
            "r_cover": self.r_cover_,
            "fit_time_s": self.fit_time_s_,
            "fit_time_h1_s": self.fit_time_h1_s_,
            "cpu_time_h1_s": self.cpu_time_h1_s_,
            "rule": {
                "h1_points": self.h1_points,
                "gap_ratio": self.gap_ratio,
                "min_relative_persistence": self.min_relative_persistence,
                "max_features": self.max_features,
            },
        }
