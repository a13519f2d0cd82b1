"""The percolation experiment's accuracy curves and what is measured on them.

An accuracy curve is accuracy against the kept share lambda at one bump width sigma
(:func:`mean_curves` over seeds, :func:`seed_curves` per seed). :func:`crossing` and
:func:`crossing_span` read where one first reaches a level; :func:`curve_measures` measures
the three claims on one set of curves against the simulated onsets
(:mod:`~factordiff.experiments.percolation.onset_rules`), each as a statistic judged over
seeds by :mod:`~factordiff.experiments.percolation.verdicts`. A crossing outside the share
grid gives an interval, read by :func:`decided`.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from factordiff.experiments.percolation.config import PercolationExpConfig
from factordiff.experiments.percolation.onset_rules import (
    SimOnset,
    best_over_thresholds,
    near_span,
    sharp_span,
)


def crossing(lambdas, accuracy, level: float) -> tuple[float, str]:
    """Where an accuracy-vs-lambda curve first reaches ``level`` (interpolated in log
    lambda, :func:`factordiff.analysis.power_law.size_at_threshold`): ``(lambda, status)``;
    for a curve that never reaches it ``(inf, 'never_reached')``, for one at or above it at the
    smallest lambda ``(that lambda, 'reached_at_smallest')`` (an upper bound)."""
    from factordiff.analysis.power_law import size_at_threshold

    r = size_at_threshold(lambdas, accuracy, level)
    if r.status == "interpolated":
        return r.size, r.status
    if r.status == "never_reached":
        return math.inf, r.status
    return r.bound, r.status


def mean_curves(
    rows: list[dict], key: str = "accuracy"
) -> dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{sigma: (lambdas (K,), mean over seeds (K,), (S, K) per seed)}``."""
    out = {}
    for s in sorted({r["sigma"] for r in rows}):
        sel = [r for r in rows if r["sigma"] == s]
        lams = sorted({r["lambda"] for r in sel})
        seeds = sorted({r["seed"] for r in sel})
        per = np.full((len(seeds), len(lams)), np.nan)
        for r in sel:
            per[seeds.index(r["seed"]), lams.index(r["lambda"])] = r[key]
        with warnings.catch_warnings():  # a share with no value (no held-out site) -> NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(per, axis=0)
        out[s] = (np.array(lams), mean, per)
    return out


def seed_curves(rows: list[dict], key: str = "accuracy") -> dict[int, dict[float, tuple]]:
    """``{seed: {sigma: (lambdas (K,), values (K,))}}``: each seed's own curves (runs
    without a finite value left out)."""
    out: dict[int, dict[float, tuple]] = {}
    for seed in sorted({r["seed"] for r in rows}):
        out[seed] = {}
        for s in sorted({r["sigma"] for r in rows if r["seed"] == seed}):
            pts = sorted(
                (r["lambda"], r[key])
                for r in rows
                if r["seed"] == seed and r["sigma"] == s and np.isfinite(r.get(key, math.nan))
            )
            out[seed][s] = (
                np.array([p[0] for p in pts], np.float64),
                np.array([p[1] for p in pts], np.float64),
            )
    return out


def crossing_span(lambdas, accuracy, level: float) -> tuple[float, float]:
    """Where a curve first reaches ``level`` as an interval ``(lo, hi)`` of lambda: the
    interpolated crossing ``(v, v)``; ``(0, smallest)`` for a curve at or above ``level`` at
    the smallest share; ``(largest, inf)`` for one that never reaches it."""
    v, status = crossing(lambdas, accuracy, level)
    if status == "interpolated":
        return v, v
    if status == "never_reached":
        return float(np.max(lambdas)), math.inf
    return 0.0, v


def _div(a: float, b: float) -> float:
    """``a / b`` for ``a, b >= 0`` with ``a / 0 = inf`` (bounds of positive quantities)."""
    return math.inf if b == 0 else a / b


def decided(lo: float, hi: float, threshold: float) -> float | None:
    """The value of a *below* statistic known only to lie in ``[lo, hi]`` (a crossing
    outside the share grid gives a bound): ``lo`` when it already lies at or above
    ``threshold`` (the seed fails however the bound resolves; ``lo`` is the value nearest the
    threshold that it can have), ``hi`` when it lies below (the seed holds), None (no value in
    this seed) when the interval straddles the threshold. Exact values (``lo == hi``) are
    returned as they are."""
    if lo >= threshold:
        return lo
    if hi < threshold:
        return hi
    return None


def _worst(spans: list[tuple[float, float]], threshold: float) -> float | None:
    """The largest over sigma of a *below* statistic known per sigma as an interval (NaN:
    unknown, any value >= 0), as :func:`decided` reads it; None for no sigma."""
    if not spans:
        return None
    spans = [(0.0, math.inf) if math.isnan(a) or math.isnan(b) else (a, b) for a, b in spans]
    return decided(max(a for a, _ in spans), max(b for _, b in spans), threshold)


def curve_measures(
    curves: dict[float, tuple],
    cfg: PercolationExpConfig,
    onsets: dict[tuple[float, float], SimOnset],
) -> dict:
    """The three claims measured on one set of accuracy curves ``{sigma: (lambdas,
    accuracy)}`` (one seed's, or the mean over seeds), against the simulated onsets
    ``{(sigma, threshold): SimOnset}`` of the same N.

    The statistic of each claim (``statistics``, one number or None, judged over seeds with
    the side *below*): the largest over sigma of the trained 20%-80% span in units of the
    simulated one (:func:`~factordiff.experiments.percolation.onset_rules.sharp_span`);
    the largest ratio lambda_50(sigma) / lambda_50(next narrower sigma) over neighbouring
    widths (threshold 1); the largest over sigma of the trained midpoint's distance from the
    simulated one in simulated half-spans
    (:func:`~factordiff.experiments.percolation.onset_rules.near_span`). Each sigma is read
    against the more favourable of the two overlap thresholds. A crossing outside the share
    grid makes a statistic an interval, read by :func:`decided`; ``ok`` says per claim
    whether the statistic lies below its threshold (no value: not)."""
    sig = sorted(curves)
    l20, l50, l80 = {}, {}, {}
    span20, span80, span50 = {}, {}, {}
    for s in sig:
        lam, acc = curves[s]
        l20[s] = crossing(lam, acc, cfg.low)
        l80[s] = crossing(lam, acc, cfg.high)
        l50[s] = crossing(lam, acc, 0.5)
        span20[s] = crossing_span(lam, acc, cfg.low)
        span80[s] = crossing_span(lam, acc, cfg.high)
        span50[s] = crossing_span(lam, acc, 0.5)

    def against(s: float, measure) -> tuple[float, float]:
        return best_over_thresholds(
            [measure(onsets[(s, t)]) for t in cfg.thresholds if (s, t) in onsets]
        )

    # 1. sharp: the trained width against the simulated one
    ratios = {}  # the trained lambda_80 / lambda_20 as measured (NaN unless both crossed)
    for s in sig:
        (a, sa), (b, sb) = l20[s], l80[s]
        ratios[s] = b / a if sa == "interpolated" and sb == "interpolated" else math.nan
    sharp = {s: against(s, lambda o, s=s: sharp_span(span20[s], span80[s], o)) for s in sig}
    # 2. earlier for wider bumps: lambda_50 strictly decreasing with sigma
    earlier = [
        (span50[w][0] / span50[n][1], _div(span50[w][1], span50[n][0]))
        for n, w in zip(sig, sig[1:])
    ]
    # 3. near: the trained midpoint against the simulated one
    near = {s: against(s, lambda o, s=s: near_span(span50[s], o)) for s in sig}
    thresholds = (cfg.sharp_tolerance, 1.0, cfg.near_tolerance)
    statistics = [
        _worst(list(sharp.values()), thresholds[0]),
        _worst(earlier, thresholds[1]),
        _worst(list(near.values()), thresholds[2]),
    ]

    def per_sigma(spans: dict, threshold: float) -> dict[float, float]:
        out = {}
        for s, (a, b) in spans.items():
            v = None if math.isnan(a) or math.isnan(b) else decided(a, b, threshold)
            out[s] = math.nan if v is None else v
        return out

    return {
        "ratios": ratios,
        "lambda_50": l50,
        "sharp": per_sigma(sharp, thresholds[0]),
        "near": per_sigma(near, thresholds[2]),
        "ok": [v is not None and v < t for v, t in zip(statistics, thresholds)],
        "statistics": statistics,
    }
