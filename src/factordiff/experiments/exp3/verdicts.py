"""Experiment 3's claims: the dataset size at the threshold, its power law in N, and one
verdict per claim.

For one (dataset, N, seed) the curve is accuracy against dataset size over the shares; the
size at which it first reaches the threshold is interpolated (:func:`threshold_sizes`) and
fitted against N on log-log axes, per seed (:func:`fit_exponents`). Each claim is judged
from the interval over seeds of ``|exponent - expected|`` (:func:`exponent_verdict`,
:mod:`factordiff.experiments.judgement`), and not judged when the step-budget check fails
(:func:`factordiff.experiments.budgets.budget_gate`).
"""

from __future__ import annotations

import math

import numpy as np

from factordiff.experiments.budgets import budget_gate, plateau_check, stats
from factordiff.experiments.exp3.config import DATASETS, Exp3Config
from factordiff.experiments.judgement import METHOD, REPRODUCED, Rule, judge
from factordiff.experiments.skeleton import Verdict


def threshold_sizes(rows: list[dict], cfg: Exp3Config) -> dict:
    """Per dataset: sizes at the threshold, ``(S, K)`` over seeds x image sizes, with
    statuses and bounds (see :func:`factordiff.analysis.power_law.sizes_at_threshold`).

    For one (dataset, N, seed) the curve is accuracy (``threshold_metric``) against the
    dataset size (``size_measure``) over the shares."""
    from factordiff.analysis.power_law import sizes_at_threshold

    seeds = sorted({r["seed"] for r in rows})
    sizes_n = sorted({r["N"] for r in rows})
    size_key = "n_images" if cfg.size_measure == "all" else "n_bumps"
    out = {}
    for dataset in DATASETS:
        size = np.full((len(seeds), len(sizes_n)), np.nan)
        status = np.full((len(seeds), len(sizes_n)), "missing", dtype=object)
        bound = np.full((len(seeds), len(sizes_n)), np.nan)
        for j, n in enumerate(sizes_n):
            curve = sorted(
                (r for r in rows if r["dataset"] == dataset and r["N"] == n),
                key=lambda r: r["share"],
            )
            for i, seed in enumerate(seeds):
                pts = [r for r in curve if r["seed"] == seed]
                if not pts:
                    continue
                xs = np.array([r[size_key] for r in pts], np.float64)
                acc = np.array([r[cfg.threshold_metric] for r in pts], np.float64)
                # equal sizes (tiny lattices rounding two shares alike): keep the first
                keep = np.concatenate([[True], np.diff(xs) > 0])
                s, st, b = sizes_at_threshold(xs[keep], acc[keep][None], cfg.threshold)
                size[i, j], status[i, j], bound[i, j] = s[0], st[0], b[0]
        out[dataset] = {
            "image_sizes": sizes_n,
            "seeds": seeds,
            "size": size,
            "status": status,
            "bound": bound,
        }
    return out


def fit_exponents(sizes: dict, cfg: Exp3Config) -> dict:
    """Per dataset: the power-law fit of size against N (None when fewer than two N have a
    finite size), and the per-seed exponents."""
    from factordiff.analysis.power_law import fit_power_law

    fits = {}
    for dataset, d in sizes.items():
        x = np.asarray(d["image_sizes"], np.float64)
        try:
            fit = fit_power_law(x, d["size"], num_boot=cfg.num_boot, seed=0)
        except ValueError:
            fit = None
        per_seed = []
        for row in d["size"]:
            try:
                per_seed.append(fit_power_law(x, row, num_boot=100, seed=0).exponent)
            except ValueError:
                per_seed.append(math.nan)
        fits[dataset] = {"fit": fit, "per_seed": per_seed}
    return fits


def exponent_verdict(
    claim: str,
    paper: str,
    fit,
    per_seed: list[float],
    seeds: list[int],
    expected: float,
    tol: float,
    min_seeds: int = 3,
    what: str = "the threshold",
) -> Verdict:
    """Judged from the exponents fitted per seed (each seed's runs alone): the statistic
    ``|exponent - expected|`` of every seed (none where fewer than two N reach the threshold
    in that seed), reproduced when its interval over seeds lies below ``tol``
    (:func:`factordiff.experiments.judgement.judge`, at least ``min_seeds`` seeds with a
    value). ``fit`` (every seed's points at once, with its bootstrap interval) is reported
    beside it and does not decide."""
    exps = [float(e) if e is not None and math.isfinite(e) else None for e in per_seed]
    rule = Rule(
        statistic=f"|exponent - {expected:g}| (this seed's fit of log size at {what} against "
        "log N)",
        side="below",
        threshold=float(tol),
        min_seeds=min_seeds,
    )
    statistic = [None if e is None else abs(e - expected) for e in exps]
    judgement = judge(rule, statistic, list(seeds))
    return Verdict(
        claim=claim,
        paper=paper,
        rule=f"per seed: |exponent - {expected:g}| of that seed's fit of log size at {what} "
        f"against log N (its runs alone; no value when fewer than two N reach it); "
        f"reproduced when the {METHOD} lies below {tol:g}, not reproduced when it lies at or "
        f"above, else inconclusive (at least {min_seeds} seeds with a value)",
        value=[None if e is None else round(e, 3) for e in exps],
        reproduced=judgement.verdict == REPRODUCED,
        control=None
        if fit is None
        else {
            "fit of every seed": round(fit.exponent, 3),
            "ci": [round(fit.ci_low, 3), round(fit.ci_high, 3)],
        },
        spread={"seeds": list(seeds), "per_seed": exps, **stats(exps)},
        detail={} if fit is None else {"fit": fit.to_json()},
        rules=[rule],
        statistics=[statistic],
        judgements=[judgement.to_dict()],
    )


def verdicts_from_rows(rows: list[dict], cfg: Exp3Config) -> tuple[list[Verdict], dict]:
    """The claims judged from the results rows (a pure function of the table; each row
    carries its seed), and the numbers behind them (threshold sizes, fits). Each claim is
    judged from its exponents fitted per seed (:func:`exponent_verdict`); not judged when
    the step-budget check of the threshold metric fails (:func:`budget_gate`)."""
    sizes = threshold_sizes(rows, cfg)
    fits = fit_exponents(sizes, cfg)
    seeds = sorted({r["seed"] for r in rows})
    pct = f"{cfg.threshold:.0%}"
    counted = "2D bumps" if cfg.size_measure == "bumps" else "all training images"
    what = f"{pct} {cfg.threshold_metric} accuracy, counting {counted}"
    out = [
        exponent_verdict(
            f"bumps alone: dataset size for {pct} accuracy ~ N^{cfg.exponent_bumps:g}",
            "the number of samples needed scales quadratically with N for 2D bumps alone",
            fits["bumps"]["fit"],
            fits["bumps"]["per_seed"],
            seeds,
            cfg.exponent_bumps,
            cfg.exponent_tolerance,
            cfg.min_seeds,
            what,
        ),
        exponent_verdict(
            f"bumps + stripes: dataset size for {pct} accuracy ~ N^{cfg.exponent_stripes:g}",
            "with 1D stripes added, the number of samples needed scales linearly with N",
            fits["bumps+stripes"]["fit"],
            fits["bumps+stripes"]["per_seed"],
            seeds,
            cfg.exponent_stripes,
            cfg.exponent_tolerance,
            cfg.min_seeds,
            what,
        ),
    ]
    check = plateau_check(rows, cfg.threshold_metric, cfg.plateau_tolerance)
    return budget_gate(out, check), {"sizes": sizes, "fits": fits}
