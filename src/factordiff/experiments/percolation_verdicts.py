"""The percolation experiment's verdicts: each seed's accuracy curves measured and judged
over seeds (moved out of :mod:`factordiff.experiments.percolation`, which re-exports them).

Three claims, each a statistic of one seed's curves judged by its interval over seeds
(:mod:`factordiff.experiments.judgement`):

- *sharp*: the trained 20%-80% span of accuracy in units of the simulated onset's span at the
  same N, sigma and overlap threshold (:mod:`factordiff.experiments.onset_rules`), below
  ``sharp_tolerance``;
- *earlier for wider bumps*: the largest ratio lambda_50(sigma) / lambda_50(next narrower
  sigma), below 1;
- *near the simulated threshold*: the distance of the trained lambda_50 from the simulated
  midpoint in units of the simulated half-span, below ``near_tolerance``.

Before the 2026-12-06 calibration the first and last were fixed factors (``sharp_factor``,
``near_factor``: 20% -> 80% within a factor 2 of lambda; lambda_50 within a factor 2 of the
simulated critical lambda); docs/rules.md has the change and its evidence.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from factordiff.experiments.judgement import METHOD, REPRODUCED, Rule, judge
from factordiff.experiments.onset_rules import (
    SimOnset,
    best_over_thresholds,
    near_span,
    sharp_span,
)
from factordiff.experiments.skeleton import Verdict

if TYPE_CHECKING:
    from factordiff.experiments.percolation import PercolationExpConfig


def crossing(lambdas, accuracy, level: float) -> tuple[float, str]:
    """Where an accuracy-vs-lambda curve first reaches ``level`` (interpolated in log
    lambda, :func:`factordiff.scaling.size_at_threshold`): ``(lambda, status)``; for a curve
    that never reaches it ``(inf, 'never_reached')``, for one at or above it at the
    smallest lambda ``(that lambda, 'reached_at_smallest')`` (an upper bound)."""
    from factordiff.scaling import size_at_threshold

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
    simulated one (:func:`~factordiff.experiments.onset_rules.sharp_span`); the largest ratio
    lambda_50(sigma) / lambda_50(next narrower sigma) over neighbouring widths (threshold 1);
    the largest over sigma of the trained midpoint's distance from the simulated one in
    simulated half-spans (:func:`~factordiff.experiments.onset_rules.near_span`). Each sigma
    is read against the more favourable of the two overlap thresholds. A crossing outside the
    share grid makes a statistic an interval, read by :func:`decided`; ``ok`` says per claim
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


def _by_sigma(d: dict, inf: str | None = None) -> dict:
    """``{sigma: value}`` with readable keys; NaN -> None, +inf -> ``inf`` text."""
    return {
        f"{k:g}": round(v, 4) if math.isfinite(v) else (inf if v == math.inf else None)
        for k, v in d.items()
    }


def _onset_table(onsets: dict) -> dict:
    """The simulated onsets for a verdict's control: ``{"sigma, t=..": [l20, l50, l80]}``."""
    return {
        f"{s:g}, t={t:g}": [round(o.l20, 4), round(o.l50, 4), round(o.l80, 4)]
        if o.defined
        else None
        for (s, t), o in sorted(onsets.items())
    }


def verdicts_from_rows(
    rows: list[dict],
    cfg: PercolationExpConfig,
    onsets: dict[tuple[float, float], SimOnset],
) -> tuple[list[Verdict], dict]:
    """The three claims judged from the results rows (each carries its seed) and the
    simulated onsets of the same lattice (``{(sigma, threshold): SimOnset}``,
    :func:`factordiff.experiments.onset_rules.simulated_onset`); a pure function.

    Each claim is measured on each seed's own curves (:func:`curve_measures`) and judged from
    the interval of its statistic over seeds (:func:`factordiff.experiments.judgement.judge`,
    at least ``cfg.min_seeds`` seeds with a value); the value is each seed's measures, the
    spread says in how many seeds the statistic lay below its threshold. Not judged when the
    step-budget check of the accuracy fails (:func:`factordiff.experiments.exp3.budget_gate`).
    The curves of the mean over seeds (the figures') give ``lambda_50`` of the summary."""
    from factordiff.experiments.exp3 import budget_gate, plateau_check

    mean = curve_measures(
        {s: (lam, m) for s, (lam, m, _) in mean_curves(rows).items()}, cfg, onsets
    )
    per_seed = {seed: curve_measures(c, cfg, onsets) for seed, c in seed_curves(rows).items()}
    seeds = sorted(per_seed)
    ms = [per_seed[seed] for seed in seeds]
    thresholds = list(cfg.thresholds)
    over = (
        f"; judged over seeds: reproduced when the {METHOD} lies below the threshold, not "
        f"reproduced when at or above it, else inconclusive (at least {cfg.min_seeds} seeds "
        "with a value); a crossing outside the share grid gives a seed its bound where the "
        "bound decides that seed, else no value"
    )
    span = f"{cfg.low:.0%}-{cfg.high:.0%}"
    rules = [
        Rule(
            statistic=f"largest over sigma of ln(lambda_{cfg.high * 100:g} / "
            f"lambda_{cfg.low * 100:g}) of this seed's accuracy over ln(width) of the "
            f"simulated onset (its {span} rise; the more favourable of thresholds "
            f"{thresholds})",
            side="below",
            threshold=float(cfg.sharp_tolerance),
            min_seeds=cfg.min_seeds,
        ),
        Rule(
            statistic="largest lambda_50(sigma) / lambda_50(next narrower sigma) over "
            "neighbouring widths (this seed)",
            side="below",
            threshold=1.0,
            min_seeds=cfg.min_seeds,
        ),
        Rule(
            statistic="largest over sigma of |ln(lambda_50 / simulated midpoint)| in units "
            "of the simulated half-span on that side (this seed; the more favourable of "
            f"thresholds {thresholds})",
            side="below",
            threshold=float(cfg.near_tolerance),
            min_seeds=cfg.min_seeds,
        ),
    ]
    widths = {f"{s:g}, t={t:g}": round(o.width, 4) for (s, t), o in sorted(onsets.items())}
    claims = [
        (
            "the onset of accuracy is sharp",
            "a sharp onset of learning above a critical data density, as in percolation",
            f"per seed: the largest over sigma of the trained {span} span of accuracy "
            f"(ln lambda_{cfg.high * 100:g} / lambda_{cfg.low * 100:g}, crossings interpolated "
            "in log lambda) in units of the simulated onset's: the span of the largest-"
            "cluster mass ratio's rise from its floor, at the same N, sigma and overlap "
            f"threshold (the more favourable of {thresholds}); below "
            f"{cfg.sharp_tolerance:g}, the grid's largest distortion of a simulated width "
            "(calibrated, docs/rules.md). Control: the simulated widths lambda_80 / lambda_20",
            [_by_sigma(m["sharp"]) for m in ms],
            {
                "trained lambda_80 / lambda_20": [_by_sigma(m["ratios"]) for m in ms],
                "mean over seeds": _by_sigma(mean["sharp"]),
            },
            widths,
        ),
        (
            "the onset comes earlier for wider bumps",
            "the onset comes earlier for wider (more overlapping) bumps",
            "per seed: the largest ratio lambda_50(sigma) / lambda_50(next narrower sigma) "
            "over neighbouring widths, below 1 (lambda at 50% accuracy, interpolated, strictly "
            "decreasing with sigma)",
            [
                _by_sigma({s: v for s, (v, _) in m["lambda_50"].items()}, "never reached")
                for m in ms
            ],
            {
                "status": [{f"{s:g}": st for s, (_, st) in m["lambda_50"].items()} for m in ms],
                "mean over seeds": _by_sigma(
                    {s: v for s, (v, _) in mean["lambda_50"].items()}, "never reached"
                ),
            },
            None,
        ),
        (
            "the onset sits near the simulated percolation threshold",
            "the onset matches the percolation of the overlap graph",
            "per seed: the largest over sigma of the distance of lambda at 50% accuracy from "
            "the simulated midpoint (50% of the mass ratio's rise), |ln(lambda_50 / l50)|, in "
            "units of the simulated half-span on that side (ln l80 / l50 above, ln l50 / l20 "
            f"below; the more favourable of thresholds {thresholds}); below "
            f"{cfg.near_tolerance:g}: inside the simulated 20%-80% span. Control: the "
            "simulated [l20, l50, l80]",
            [_by_sigma(m["near"]) for m in ms],
            {
                "lambda_50": [
                    _by_sigma({s: v for s, (v, _) in m["lambda_50"].items()}, "never reached")
                    for m in ms
                ],
                "mean over seeds": _by_sigma(mean["near"]),
            },
            _onset_table(onsets),
        ),
    ]
    out = []
    for i, (claim, paper, rule, value, detail, control) in enumerate(claims):
        statistic = [m["statistics"][i] for m in ms]
        judgement = judge(rules[i], statistic, seeds)
        out.append(
            Verdict(
                claim=claim,
                paper=paper,
                rule=rule + over,
                value=value,
                reproduced=judgement.verdict == REPRODUCED,
                control=control,
                spread={"seeds": seeds, "reproduced_in": sum(m["ok"][i] for m in ms)},
                detail=detail,
                rules=[rules[i]],
                statistics=[statistic],
                judgements=[judgement.to_dict()],
            )
        )
    check = plateau_check(rows, "accuracy", cfg.plateau_tolerance)
    return budget_gate(out, check), {
        "lambda_50": {f"{s:g}": v for s, v in mean["lambda_50"].items()}
    }
