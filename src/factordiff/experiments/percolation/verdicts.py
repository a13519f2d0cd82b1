"""The percolation experiment's verdicts: each seed's accuracy curves measured and judged
over seeds.

Three claims, each a statistic of one seed's curves judged by its interval over seeds
(:mod:`factordiff.experiments.judgement`):

- *sharp*: the trained 20%-80% span of accuracy in units of the simulated onset's span at the
  same N, sigma and overlap threshold (:mod:`factordiff.experiments.percolation.onset_rules`),
  below ``sharp_tolerance``;
- *earlier for wider bumps*: the largest ratio lambda_50(sigma) / lambda_50(next narrower
  sigma), below 1;
- *near the simulated threshold*: the distance of the trained lambda_50 from the simulated
  midpoint in units of the simulated half-span, below ``near_tolerance``.

The statistics are measured by :func:`~factordiff.experiments.percolation.curves.curve_measures`;
:func:`claim_rules` states the rules, :func:`claim_texts` the claims with their values and
controls, and :func:`verdicts_from_rows` judges them. Before the 2026-12-06 calibration the
first and last were fixed factors (``sharp_factor``, ``near_factor``: 20% -> 80% within a
factor 2 of lambda; lambda_50 within a factor 2 of the simulated critical lambda);
docs/rules.md has the change and its evidence.
"""

from __future__ import annotations

import math

from factordiff.experiments.budgets import budget_gate, plateau_check
from factordiff.experiments.judgement import METHOD, REPRODUCED, Rule, judge
from factordiff.experiments.percolation.config import PercolationExpConfig
from factordiff.experiments.percolation.curves import curve_measures, mean_curves, seed_curves
from factordiff.experiments.percolation.onset_rules import SimOnset
from factordiff.experiments.skeleton import Verdict


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


def claim_rules(cfg: PercolationExpConfig) -> list[Rule]:
    """The rules of the three claims (sharp, earlier, near), in that order: each a per-seed
    statistic judged *below* its threshold over at least ``cfg.min_seeds`` seeds."""
    thresholds = list(cfg.thresholds)
    span = f"{cfg.low:.0%}-{cfg.high:.0%}"
    return [
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


def claim_texts(
    cfg: PercolationExpConfig,
    ms: list[dict],
    mean: dict,
    onsets: dict[tuple[float, float], SimOnset],
) -> list[tuple]:
    """The three claims as ``(claim, paper, rule, value, detail, control)``: the rule in
    words, each seed's measures ``ms`` (:func:`curve_measures`, in the order of the seeds)
    as the value, the measures of the mean curves ``mean`` in the detail, and the simulated
    onsets as the control."""
    thresholds = list(cfg.thresholds)
    span = f"{cfg.low:.0%}-{cfg.high:.0%}"
    widths = {f"{s:g}, t={t:g}": round(o.width, 4) for (s, t), o in sorted(onsets.items())}
    return [
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


def verdicts_from_rows(
    rows: list[dict],
    cfg: PercolationExpConfig,
    onsets: dict[tuple[float, float], SimOnset],
) -> tuple[list[Verdict], dict]:
    """The three claims judged from the results rows (each carries its seed) and the
    simulated onsets of the same lattice (``{(sigma, threshold): SimOnset}``,
    :func:`factordiff.experiments.percolation.onset_rules.simulated_onset`); a pure function.

    Each claim is measured on each seed's own curves (:func:`curve_measures`) and judged from
    the interval of its statistic over seeds (:func:`factordiff.experiments.judgement.judge`,
    at least ``cfg.min_seeds`` seeds with a value); the value is each seed's measures, the
    spread says in how many seeds the statistic lay below its threshold. Not judged when the
    step-budget check of the accuracy fails (:func:`factordiff.experiments.budgets.budget_gate`).
    The curves of the mean over seeds (the figures') give ``lambda_50`` of the summary."""
    mean = curve_measures(
        {s: (lam, m) for s, (lam, m, _) in mean_curves(rows).items()}, cfg, onsets
    )
    per_seed = {seed: curve_measures(c, cfg, onsets) for seed, c in seed_curves(rows).items()}
    seeds = sorted(per_seed)
    ms = [per_seed[seed] for seed in seeds]
    over = (
        f"; judged over seeds: reproduced when the {METHOD} lies below the threshold, not "
        f"reproduced when at or above it, else inconclusive (at least {cfg.min_seeds} seeds "
        "with a value); a crossing outside the share grid gives a seed its bound where the "
        "bound decides that seed, else no value"
    )
    rules = claim_rules(cfg)
    out = []
    for i, (claim, paper, rule, value, detail, control) in enumerate(
        claim_texts(cfg, ms, mean, onsets)
    ):
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
