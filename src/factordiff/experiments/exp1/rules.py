"""Experiment 1's rules over seeds: for each claim, the statistics one seed gives and the
rules (:class:`factordiff.experiments.judgement.Rule`) its interval over seeds is judged by.

Each builder returns ``(rules, statistics)``, one statistic per rule, in the same order for
every seed (``combine_seeds`` pairs them by position): an absolute rule on the terminal
representation and a paired rule *trained minus control*, the control being the run's
epoch-0 checkpoint (the untrained network of the same seed); with the raw images
(:mod:`factordiff.analysis.nulls`) the orthogonality, superfactoring and effective-dimension
claims also get a paired rule *trained minus raw images*. A statistic is None where this
seed does not define it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from factordiff.experiments.exp1.readings import RAW

if TYPE_CHECKING:
    from factordiff.analysis.control import Rule

PAPER_EFFECTIVE_DIMENSION = 7.0  # "converges to about 7" (paper's summary)
#: The control of every paired rule.
CONTROL = "untrained network (epoch 0 of the same seed)"
_PAIRED = f"trained minus {CONTROL}"
_BY_RAW = f"trained minus the {RAW}"


def effective_dimension_rule(tolerance: float) -> Rule:
    """Rule "effective dimension about 7": participation ratio within ``tolerance`` of 7."""
    from factordiff.analysis.control import Rule

    target = PAPER_EFFECTIVE_DIMENSION
    return Rule(
        "effective_dimension_about_7",
        f"participation ratio within {tolerance:g} of {target:g}",
        lambda s: s["effective_dimension"],
        lambda s: (
            s["effective_dimension"] is not None
            and bool(np.isfinite(s["effective_dimension"]))
            and abs(s["effective_dimension"] - target) <= tolerance
        ),
    )


def control_summary(checkpoints: list[dict]) -> dict:
    """The control of every verdict: the summary of the run's epoch-0 checkpoint (the
    untrained network of the same run). ``ValueError`` when the run has none."""
    for c in checkpoints:
        if c["epoch"] == 0:
            return c["summary"]
    raise ValueError(
        f"no epoch-0 checkpoint among the analysed epochs {[c['epoch'] for c in checkpoints]}: "
        "it is the control of every verdict; keep 0 in run.train.checkpoint_epochs"
    )


def _paired(trained, control) -> float | None:
    """Trained minus control in one seed; None when either is undefined."""
    if trained is None or control is None:
        return None
    d = float(trained) - float(control)
    return d if np.isfinite(d) else None


def _distance(value, target: float) -> float | None:
    """``|value - target|``; None when ``value`` is undefined."""
    if value is None:
        return None
    d = abs(float(value) - target)
    return d if np.isfinite(d) else None


def gradual_statistic(values: list) -> float | None:
    """How near halfway the most halfway checkpoint in between lies: ``min |f - 0.5|`` over
    the checkpoints between the first and the last, ``f = (v - first) / (last - first)`` the
    share of the first-to-last change reached there. The per-run rule "a checkpoint in between
    at 10-90% of the change" is this statistic <= 0.4. None (undefined in this seed) with
    fewer than 3 checkpoints, no change (``|last - first| < 1e-9``) or an undefined first or
    last value; an undefined value in between is skipped."""
    if len(values) < 3 or values[0] is None or values[-1] is None:
        return None
    a, b = float(values[0]), float(values[-1])
    if not (np.isfinite(a) and np.isfinite(b)) or abs(b - a) < 1e-9:
        return None
    fracs = [(float(v) - a) / (b - a) for v in values[1:-1] if v is not None]
    fracs = [f for f in fracs if np.isfinite(f)]
    return min(abs(f - 0.5) for f in fracs) if fracs else None


def torus_rules(final_betti, control_betti, m: int) -> tuple[list, list]:
    """Torus: ``|b1 - 2| < 0.5`` (b1 = 2 for an integer b1), and nearer 2 than the control's.
    ``final_betti``, ``control_betti``: the Betti numbers (b0, b1, b2) or None."""
    from factordiff.experiments.judgement import Rule as SeedRule

    b1, b1_control = ((b[1] if b is not None else None) for b in (final_betti, control_betti))
    rules = [
        SeedRule("|b1 - 2| of the terminal representation", "below", 0.5, m),
        SeedRule(f"|b1 - 2|, {_PAIRED}", "below", 0.0, m, control=CONTROL),
    ]
    stats = [
        _distance(b1, 2.0),
        _paired(_distance(b1, 2.0), _distance(b1_control, 2.0)),
    ]
    return rules, stats


def orthogonality_rules(final: dict, control: dict, raw: dict | None, m: int) -> tuple[list, list]:
    """x and y orthogonal: median x-on-y below the rule's bound, and below the control's
    (and, with the raw images, strictly below theirs)."""
    from factordiff.experiments.judgement import Rule as SeedRule

    orth_below = final["factorization"]["rule"]["orthogonal_below"]
    rules = [
        SeedRule("median x-on-y subspace similarity", "below", orth_below, m),
        SeedRule(f"median x-on-y similarity, {_PAIRED}", "below", 0.0, m, control=CONTROL),
    ]
    xy, xy_control = final["factorization"], control["factorization"]
    stats = [
        xy["orthogonality_xy"],
        _paired(xy["orthogonality_xy"], xy_control["orthogonality_xy"]),
    ]
    if raw is not None:  # the second null: strictly more orthogonal than the pixels
        raw_fac = raw.get("factorization") or {}
        rules.append(SeedRule(f"median x-on-y similarity, {_BY_RAW}", "below", 0.0, m, control=RAW))
        stats.append(_paired(xy["orthogonality_xy"], raw_fac.get("orthogonality_xy")))
    return rules, stats


def superfactored_rules(final: dict, control: dict, raw: dict | None, m: int) -> tuple[list, list]:
    """Superfactored: both features' median |value cosine| below the rule's bound, each below
    the control's (and, with the raw images, each strictly below theirs)."""
    from factordiff.experiments.judgement import Rule as SeedRule

    sup_below = final["factorization"]["rule"]["superfactored_below"]
    xy, xy_control = final["factorization"], control["factorization"]
    rules = [
        SeedRule(f"median |value cosine| of {a}", "below", sup_below, m) for a in ("x", "y")
    ] + [
        SeedRule(f"median |value cosine| of {a}, {_PAIRED}", "below", 0.0, m, control=CONTROL)
        for a in ("x", "y")
    ]
    stats = [xy.get(f"value_cosine_{a}") for a in ("x", "y")] + [
        _paired(xy.get(f"value_cosine_{a}"), xy_control.get(f"value_cosine_{a}"))
        for a in ("x", "y")
    ]
    if raw is not None:
        raw_fac = raw.get("factorization") or {}
        rules += [
            SeedRule(f"median |value cosine| of {a}, {_BY_RAW}", "below", 0.0, m, control=RAW)
            for a in ("x", "y")
        ]
        stats += [
            _paired(xy.get(f"value_cosine_{a}"), raw_fac.get(f"value_cosine_{a}"))
            for a in ("x", "y")
        ]
    return rules, stats


def gradual_rules(sims: list, m: int) -> tuple[list, list]:
    """Gradual emergence: x-on-y at the last checkpoint minus at epoch 0 below 0, and a
    checkpoint in between at 10-90% of the change. ``sims``: x-on-y at every checkpoint."""
    from factordiff.experiments.judgement import Rule as SeedRule

    rules = [
        SeedRule(
            "x-on-y similarity, last checkpoint minus epoch 0 (the untrained network)",
            "below",
            0.0,
            m,
            control=CONTROL,
        ),
        SeedRule(
            "|f - 0.5| of the checkpoint in between nearest halfway (f: its share of the "
            "first-to-last change in x-on-y)",
            "below",
            0.4,
            m,
        ),
    ]
    stats = [
        _paired(sims[-1], sims[0]) if len(sims) >= 2 else None,
        gradual_statistic(sims),
    ]
    return rules, stats


def effective_dimension_rules(
    final: dict, control: dict, raw: dict | None, tol: float, m: int
) -> tuple[list, list]:
    """Effective dimension about 7: ``|D - 7| < tol``, and nearer 7 than the control's (and,
    with the raw images, strictly nearer than theirs)."""
    from factordiff.experiments.judgement import Rule as SeedRule

    target = PAPER_EFFECTIVE_DIMENSION
    d, d_control = final["effective_dimension"], control["effective_dimension"]
    rules = [
        SeedRule(
            f"|D - {target:g}| (D: participation ratio of the terminal representation)",
            "below",
            tol,
            m,
        ),
        SeedRule(f"|D - {target:g}|, {_PAIRED}", "below", 0.0, m, control=CONTROL),
    ]
    stats = [
        _distance(d, target),
        _paired(_distance(d, target), _distance(d_control, target)),
    ]
    if raw is not None:
        rules.append(SeedRule(f"|D - {target:g}|, {_BY_RAW}", "below", 0.0, m, control=RAW))
        stats.append(
            _paired(_distance(d, target), _distance(raw.get("effective_dimension"), target))
        )
    return rules, stats
