"""Verdicts: one claim of the paper judged (:class:`Verdict`), per run and over seeds
(:func:`combine_seeds`). Re-exported by :mod:`factordiff.experiments.skeleton`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from factordiff.config import json_ready
from factordiff.experiments.judgement import (
    METHOD,
    NOT_JUDGED,
    NOT_REPRODUCED,
    REPRODUCED,
    Rule,
    combine,
    judge,
)


@dataclass
class Verdict:
    """One claim of the paper, judged. Data, not prose: the report renders it.

    ``value`` is the measured value (over seeds: the per-seed values), ``control`` the value
    of a control or reference it is read against (None if none), ``control_passes`` whether
    a control judged by the same rule passes it (None when no control rule applies; over
    seeds: the per-seed values, ``control`` then too), ``spread`` its spread over
    seeds (``{"mean", "std", "min", "max", "reproduced_in", "seeds"}``; None for one run),
    ``detail`` anything else worth keeping (e.g. a trajectory over training)."""

    claim: str
    paper: str  # the paper's statement
    rule: str  # how the measured value is judged (stated before the run, not tuned)
    value: Any
    reproduced: bool
    control: Any = None
    spread: dict | None = None
    detail: dict = field(default_factory=dict)
    control_passes: bool | list[bool] | None = None
    # Why the claim cannot be judged from this run (e.g. its precondition, the step-budget
    # check, failed); None when it is judged. A claim not judged is never reproduced.
    not_judged: str | None = None
    # Three answers (factordiff.experiments.judgement): the rules the claim is judged by over
    # seeds and this seed's statistic for each, in the same order; over seeds, each rule's
    # judgement (values per seed, n, interval, verdict). A verdict without rules is judged
    # per run only (``reproduced``), as summaries written before the rules were.
    rules: list[Rule] = field(default_factory=list)
    statistics: list[float | None] = field(default_factory=list)
    judgements: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.not_judged is not None and self.reproduced:
            raise ValueError(f"claim {self.claim!r}: a claim not judged cannot be reproduced")
        if self.rules and len(self.statistics) != len(self.rules):
            raise ValueError(
                f"claim {self.claim!r}: {len(self.statistics)} statistic(s) for "
                f"{len(self.rules)} rule(s); allowed: one per rule"
            )

    @property
    def verdict(self) -> str:
        """reproduced | not reproduced | inconclusive | not judged."""
        if self.not_judged is not None:
            return NOT_JUDGED
        if self.judgements:
            return combine([j["verdict"] for j in self.judgements])
        return REPRODUCED if self.reproduced else NOT_REPRODUCED

    def to_dict(self) -> dict:
        out = asdict(self)
        out["verdict"] = self.verdict
        return json_ready(out)


def _numbers(values: list) -> list[float] | None:
    """Per-seed values as floats (lists elementwise), or None when they are not numbers."""
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def _stats(values: list[float]) -> dict:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1))
    return {"mean": mean, "std": std, "min": min(values), "max": max(values)}


#: What a claim's rule says over seeds, appended to its per-run rule by :func:`combine_seeds`.
OVER_SEEDS_RULES = f"; over seeds: the {METHOD} of each statistic on the claim's side"
OVER_SEEDS_EVERY = "; over seeds: reproduced when it holds for every seed"


def seed_spread(values: list, seeds: list[int], reproduced_in: int) -> dict[str, Any]:
    """A verdict's ``spread``: its seeds, in how many the per-run rule held, and mean / std /
    min / max of the per-seed values where they are numbers (lists of one length:
    elementwise)."""
    spread: dict[str, Any] = {"seeds": list(seeds), "reproduced_in": int(reproduced_in)}
    flat = _numbers(values)
    if flat is not None:
        spread.update(_stats(flat))
    elif all(isinstance(v, list | tuple) for v in values) and len({len(v) for v in values}) == 1:
        cols = [_numbers([v[i] for v in values]) for i in range(len(values[0]))]
        if all(c is not None for c in cols):
            stats = [_stats(c) for c in cols]
            spread.update({k: [s[k] for s in stats] for k in ("mean", "std", "min", "max")})
    return spread


def _judged(claims: tuple[Verdict, ...], seeds: list[int]) -> list[dict]:
    """Each rule of a claim judged over its per-seed statistics (empty without rules)."""
    first = claims[0]
    for c in claims[1:]:
        if [r.describe() for r in c.rules] != [r.describe() for r in first.rules]:
            raise ValueError(f"claim {first.claim!r}: the seeds were judged by different rules")
    return [
        judge(rule, [c.statistics[i] for c in claims], seeds).to_dict()
        for i, rule in enumerate(first.rules)
    ]


def _holds(judgements: list[dict]) -> bool:
    """Whether the rules' judgements together say reproduced."""
    return combine([j["verdict"] for j in judgements]) == REPRODUCED


def combine_seeds(per_seed: list[list[Verdict]], seeds: list[int]) -> list[Verdict]:
    """One verdict per claim over the seeds (one seed included).

    A claim with rules (:mod:`factordiff.experiments.judgement`) is judged from the interval of
    each rule's statistic over seeds: reproduced, not reproduced or inconclusive (fewer seeds
    than a rule's minimum: inconclusive). A claim without rules keeps the older rule over
    seeds: reproduced when the per-run rule holds for every seed. The spread gives how many
    seeds passed the per-run rule; numbers get mean / std / min / max (lists elementwise)."""
    if len(per_seed) == 1:
        out1 = []
        for c in per_seed[0]:
            if c.rules:
                judgements = _judged((c,), list(seeds))
                reproduced = _holds(judgements) and c.not_judged is None
                c = replace(c, judgements=judgements, reproduced=reproduced)
            out1.append(c)
        return out1
    out = []
    for claims in zip(*per_seed):
        first = claims[0]
        judgements = _judged(claims, list(seeds))
        values = [c.value for c in claims]
        spread = seed_spread(values, seeds, sum(c.reproduced for c in claims))
        over = OVER_SEEDS_RULES if judgements else OVER_SEEDS_EVERY
        not_judged = _not_judged_over_seeds(claims, seeds)
        reproduced = (
            _holds(judgements) if judgements else all(c.reproduced for c in claims)
        ) and not_judged is None
        out.append(
            Verdict(
                claim=first.claim,
                paper=first.paper,
                rule=first.rule + over,
                value=values,
                reproduced=reproduced,
                control=first.control
                if first.control_passes is None
                else [c.control for c in claims],
                spread=spread,
                detail={"per_seed": [c.detail for c in claims]}
                if any(c.detail for c in claims)
                else {},
                control_passes=None
                if first.control_passes is None
                else [c.control_passes for c in claims],
                not_judged=not_judged,
                rules=list(first.rules),
                statistics=[[c.statistics[i] for c in claims] for i in range(len(first.rules))],
                judgements=judgements,
            )
        )
    return out


def _not_judged_over_seeds(claims, seeds) -> str | None:
    """Why a claim is not judged over seeds: any seed where it is not judged makes it so."""
    reasons = [f"seed {s}: {c.not_judged}" for s, c in zip(seeds, claims) if c.not_judged]
    return "; ".join(reasons) if reasons else None
