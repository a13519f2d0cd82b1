"""The percolation experiment's onset rules, calibrated on the simulation they stand for.

The paper reads the onset of learning against the percolation of the overlap graph. Two of
its claims are judged here against the simulated largest-cluster mass ratio at the *same* N,
sigma and overlap threshold (:mod:`factordiff.analysis.percolation_model`), not against a
fixed factor.

**The simulated onset.** The mean mass ratio m(lambda) (largest cluster / kept sites) of a
finite lattice starts high (a few kept sites are large shares of themselves), falls to a
floor, then rises to 1 (at N = 16 it never falls below 0.25 for sigma >= 0.75 px). Its
*rise* ``r = (m - m_floor) / (1 - m_floor)``, made non-decreasing from the right (0 up to
the share of the minimum; a level is reached where the curve crosses it for the last time
from below, as for the critical lambda), goes from 0 to 1 like an accuracy curve. The lambdas where the rise first reaches 20%, 50%
and 80% (interpolated in log lambda, as the trained crossings are) are the simulation's own
onset: its width ``W_sim = l80 / l20`` and its midpoint ``l50`` (:class:`SimOnset`).

**The rules** (per seed; each sigma against the more favourable of the two thresholds, since
the paper shows both and we do not pick one after the fact; the seed's statistic is the
largest over sigma):

- *sharp*: ``ln(W_trained) / ln(W_sim)``, the trained 20-80% span in units of the
  simulated one (log lambda), below ``sharp_tolerance``;
- *near*: ``|ln(l50_trained / l50_sim)| / h``, the distance of the trained midpoint from the
  simulated one in units of the simulated half-span ``h`` on that side
  (``ln(l80 / l50)`` above, ``ln(l50 / l20)`` below), below ``near_tolerance`` (1: inside
  the simulated 20-80% span).

Fed the simulated rise sampled on the run's share grid as if it were a model's accuracy,
both statistics come out below their thresholds (tests/test_percolation_onsets.py): the
width ratio is then the grid's own distortion of a width, which
:func:`factordiff.experiments.percolation.onset_calibration.calibrate` measures over every
simulated shape and every placement on the grid; ``sharp_tolerance`` is set above its
largest value (docs/exp3.md, docs/rules.md).
``python -m factordiff.experiments.percolation.onset_calibration`` prints that calibration
for the quick and paper presets.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

LEVELS = (0.2, 0.5, 0.8)


@dataclass(frozen=True)
class SimOnset:
    """The onset of one simulated mass-ratio curve (sigma, overlap threshold): its floor and
    the lambdas where its rise from the floor reaches 20%, 50% and 80% (NaN where the curve
    does not rise: a graph percolating at every simulated share)."""

    sigma: float
    threshold: float
    floor: float
    floor_lambda: float
    l20: float
    l50: float
    l80: float

    @property
    def defined(self) -> bool:
        return all(math.isfinite(v) and v > 0 for v in (self.l20, self.l50, self.l80)) and (
            self.l80 > self.l20
        )

    @property
    def width(self) -> float:
        return self.l80 / self.l20 if self.defined else math.nan

    def to_dict(self) -> dict:
        return asdict(self) | {"width": self.width}


def first_reach(lambdas, values, level: float) -> float:
    """Where ``values`` first reach ``level``, interpolated linearly in log lambda (the rule
    of the trained crossings, :func:`factordiff.analysis.power_law.size_at_threshold`); NaN
    when never reached or already reached at the first point."""
    from factordiff.analysis.power_law import size_at_threshold

    r = size_at_threshold(np.asarray(lambdas, np.float64), np.asarray(values), level)
    return r.size if r.status == "interpolated" else math.nan


def rise(lambdas, ratio) -> tuple[np.ndarray, float, float]:
    """The rise of a mean mass-ratio curve from its floor: ``(r (M,), floor, floor
    lambda)``. ``(m - floor) / (1 - floor)`` (clipped to [0, 1]), made non-decreasing from
    the right (``r(lambda) = min over lambda' >= lambda``), so that r is 0 up to the share of
    the minimum and a level is first reached where the curve crosses it for the last time
    from below: a bump of the small-share wrinkle (a few kept sites, noisy with few draws)
    is not read as the onset. All 0 when the floor is 1 (no rise)."""
    lam = np.asarray(lambdas, np.float64)
    m = np.asarray(ratio, np.float64)
    i = int(np.argmin(m))
    floor = float(m[i])
    if floor >= 1.0 - 1e-12:
        return np.zeros_like(m), floor, float(lam[i])
    r = np.clip((m - floor) / (1.0 - floor), 0.0, 1.0)
    return np.minimum.accumulate(r[::-1])[::-1], floor, float(lam[i])


def simulated_onset(lambdas, ratio, sigma: float, threshold: float) -> SimOnset:
    """The :class:`SimOnset` of one mean mass-ratio curve on its (fine) share grid."""
    r, floor, at = rise(lambdas, ratio)
    l20, l50, l80 = (first_reach(lambdas, r, lev) for lev in LEVELS)
    return SimOnset(float(sigma), float(threshold), floor, at, l20, l50, l80)


# ----------------------------------------------------------------------------- statistics
def _log_ratio(a: float, b: float) -> float:
    """``ln(a / b)`` for a, b in [0, inf], with the obvious infinities (NaN for 0/0, inf/inf)."""
    if a == b and a in (0.0, math.inf):
        return math.nan
    if a == 0 or b == math.inf:
        return -math.inf
    if b == 0 or a == math.inf:
        return math.inf
    return math.log(a / b)


def sharp_span(span20: tuple, span80: tuple, onset: SimOnset) -> tuple[float, float]:
    """The interval of ``ln(W_trained) / ln(W_sim)`` when the trained 20% and 80% crossings
    are known to lie in ``span20`` and ``span80`` (``(v, v)`` when interpolated); ``(nan,
    nan)`` without a simulated onset."""
    if not onset.defined:
        return math.nan, math.nan
    ref = math.log(onset.width)
    lo = max(0.0, _log_ratio(span80[0], span20[1]))
    hi = _log_ratio(span80[1], span20[0])
    if math.isnan(hi):
        hi = math.inf
    return lo / ref, max(lo, hi) / ref


def position(l50: float, onset: SimOnset) -> float:
    """``|ln(l50 / l50_sim)|`` in units of the simulated half-span on that side."""
    d = _log_ratio(l50, onset.l50)
    if math.isnan(d):
        return math.inf
    half = math.log(onset.l80 / onset.l50) if d >= 0 else math.log(onset.l50 / onset.l20)
    return abs(d) / half


def near_span(span50: tuple, onset: SimOnset) -> tuple[float, float]:
    """The interval of :func:`position` for a trained midpoint in ``span50``; ``(nan, nan)``
    without a simulated onset."""
    if not onset.defined:
        return math.nan, math.nan
    a, b = span50
    ends = [position(a, onset), position(b, onset)]
    lo = 0.0 if a <= onset.l50 <= b else min(ends)
    return lo, max(ends)


def best_over_thresholds(spans: list[tuple[float, float]]) -> tuple[float, float]:
    """The more favourable threshold of one sigma: the smallest low and high ends over the
    thresholds that have a simulated onset; ``(nan, nan)`` when none has."""
    ok = [s for s in spans if not math.isnan(s[0])]
    if not ok:
        return math.nan, math.nan
    return min(s[0] for s in ok), min(s[1] for s in ok)


# ----------------------------------------------------------------------------- the grid
def factor_two_coverage(lambdas, lo: float = 0.08, hi: float = 0.4) -> int:
    """The fewest shares of ``lambdas`` in any window ``[a, 2a]`` inside ``[lo, hi]`` (the
    rule "a factor 2 spans at least 3 grid points"). The count only drops just after a
    window's start passes a share, so those starts (and ``lo``) are the ones to check."""
    lam = np.asarray(lambdas, np.float64)
    if hi < 2 * lo:
        raise ValueError(f"[{lo}, {hi}] holds no factor 2; allowed: hi >= 2 lo")
    starts = [lo] + [g * (1 + 1e-9) for g in lam if lo <= g <= hi / 2]
    return int(min(((lam >= a) & (lam <= 2 * a * (1 + 1e-12))).sum() for a in starts))
