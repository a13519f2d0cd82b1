"""Experiment 2's claims: the rules each is judged by over seeds, and one verdict per claim.

Every claim is a list of per-seed statistics, each with its threshold and the side the claim
predicts (:func:`claim_rules`), read from the 90% interval over seeds
(:mod:`factordiff.experiments.judgement`); fewer seeds than ``min_seeds`` read inconclusive.
:func:`claim_verdicts` builds each seed's verdict per claim from the runs' evaluations (its
``reproduced``: the per-run rule, shown as the spread) and combines them over the seeds.
"""

from __future__ import annotations

import math

import numpy as np

from factordiff.experiments.exp2.config import (
    HOLE_SECTIONS,
    MAIN_MODELS,
    POSITIONS,
    Exp2Config,
)
from factordiff.experiments.exp2.designs import lesion_rules, lesion_verdict
from factordiff.experiments.exp2.runs import index_results
from factordiff.experiments.exp2.sections import as_number
from factordiff.experiments.judgement import Rule
from factordiff.experiments.skeleton import Verdict, combine_seeds


def hole_accuracy(space: dict) -> float:
    """Mean joint accuracy over the plus hole's three sections."""
    acc = [space["sections"][n]["accuracy"] for n in HOLE_SECTIONS]
    return float(np.nanmean([np.nan if a is None else a for a in acc]))


def _stat(v) -> float | None:
    """A per-seed statistic: None where it is undefined (None, NaN)."""
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


CLAIMS = ("compose", "no_interpolation", "restore", "rim", "lesion", "squares")


def claim_rules(cfg: Exp2Config) -> dict[str, list[Rule]]:
    """The rules each claim is judged by over seeds (:mod:`factordiff.experiments.judgement`),
    from the config's constants: claim key (:data:`CLAIMS`) -> rules, in the order of the
    statistics :func:`claim_verdicts` gives each seed. Every rule needs ``cfg.min_seeds``."""
    ratio, floor, d, m = (
        cfg.outcome_ratio,
        cfg.min_reference_accuracy,
        cfg.min_difference,
        cfg.min_seeds,
    )

    def margin(model: str, test: str, side: str) -> Rule:
        return Rule(
            f"{model} model, plus hole: {test} accuracy - {ratio:g} x reference accuracy",
            side,
            0.0,
            m,
        )

    def learned(model: str) -> Rule:
        return Rule(
            f"{model} model: min(x, y) accuracy in the in-distribution section",
            "above",
            floor,
            m,
        )

    return {
        "compose": [
            margin("1d", "composition", "above"),
            margin("2d+1d", "composition", "above"),
            learned("1d"),
            learned("2d+1d"),
        ],
        "no_interpolation": [margin("2d", "interpolation", "below"), learned("2d")],
        "restore": [
            Rule(
                "mean joint accuracy over the three hole sections, 2d+1d model minus 2d model",
                "above",
                d,
                m,
                control="the 2d model (no stripes), same seed",
            )
        ],
        "rim": [
            Rule(
                "joint accuracy on interior 2D labels, 1d model with the rim minus without it",
                "above",
                d,
                m,
                control="the 1d model without the rim (1d-norim), same seed",
            )
        ],
        "lesion": lesion_rules(d, m),
        "squares": [
            Rule(
                "joint accuracy in the held-out square, interior minus exterior, mean over "
                "kinds and W",
                "above",
                cfg.min_mean_difference,
                m,
                control="the exterior square of the same kind and W, same seed",
            )
        ],
    }


def claim_verdicts(cfg: Exp2Config, results: list[dict]) -> list[Verdict]:
    """One verdict per claim: each seed's statistics (:func:`claim_rules`) judged from their
    interval over the seeds; each seed's ``reproduced`` is the per-run rule (the spread)."""
    by = index_results(results)
    rules = claim_rules(cfg)
    out: list[Verdict] = []

    def over_seeds(per_seed: dict[int, Verdict]) -> None:
        if per_seed:
            seeds = sorted(per_seed)
            out.append(combine_seeds([[per_seed[s]] for s in seeds], seeds)[0])

    if "main" in cfg.parts:
        for verdict in (_compose_verdict, _no_interpolation_verdict, _restore_verdict):
            over_seeds({s: verdict(cfg, by, rules, s) for s in cfg.seeds})
    if "rim" in cfg.parts:
        over_seeds({s: _rim_verdict(cfg, by, rules, s) for s in cfg.seeds})
    curve = cfg.curve_seed_list()
    if "lesion" in cfg.parts:
        over_seeds({s: _lesion_verdict(cfg, by, rules, s) for s in curve})
    if "squares" in cfg.parts:
        over_seeds({s: _squares_verdict(cfg, by, rules, s) for s in curve})
    return out


def _plus(by: dict, seed: int) -> dict[str, dict]:
    """Each main model's evaluation on the plus hole in ``seed``: model -> label space."""
    return {k: by[("main", k, seed)]["spaces"]["plus"] for k in MAIN_MODELS}


def _compose_verdict(cfg: Exp2Config, by: dict, rules: dict, s: int) -> Verdict:
    """One seed: the 1d and the 2d+1d model compose in the plus hole."""
    ratio, floor = cfg.outcome_ratio, cfg.min_reference_accuracy
    o = {k: v["outcome"] for k, v in _plus(by, s).items()}
    return Verdict(
        claim="models trained with 1D stripes compose in the plus hole",
        paper="models compose: they combine x and y values seen apart",
        rule=f"for the 1d and the 2d+1d model, per seed: composition accuracy (share "
        f"of seen coordinates correct in the hole) - {ratio:g} x reference accuracy "
        f"> 0, and the smaller of x and y reference accuracy > {floor:g} (the outcome "
        "rule's composes); value: their composition accuracy, control: their "
        "reference accuracies",
        value=[o["1d"]["composition"], o["2d+1d"]["composition"]],
        reproduced=bool(o["1d"]["composes"] and o["2d+1d"]["composes"]),
        control=[o["1d"]["reference"], o["2d+1d"]["reference"]],
        rules=rules["compose"],
        statistics=[
            _stat(o["1d"]["composition_margin"]),
            _stat(o["2d+1d"]["composition_margin"]),
            _stat(o["1d"]["reference_min"]),
            _stat(o["2d+1d"]["reference_min"]),
        ],
    )


def _no_interpolation_verdict(cfg: Exp2Config, by: dict, rules: dict, s: int) -> Verdict:
    """One seed: the 2d model does not interpolate into the plus hole."""
    ratio, floor = cfg.outcome_ratio, cfg.min_reference_accuracy
    o = {k: v["outcome"] for k, v in _plus(by, s).items()}
    return Verdict(
        claim="the 2D-only model does not interpolate into the hole",
        paper="models do not interpolate: values of a feature never seen are not generated",
        rule=f"for the 2d model, per seed: interpolation accuracy - {ratio:g} x "
        f"reference accuracy < 0 (the outcome rule's does not interpolate), while the "
        f"smaller of x and y reference accuracy > {floor:g} (it has learned its "
        "reference); control: its reference",
        value=o["2d"]["interpolation"],
        reproduced=bool(o["2d"]["interpolates"] is False and o["2d"]["learned"]),
        control=o["2d"]["reference"],
        rules=rules["no_interpolation"],
        statistics=[
            _stat(o["2d"]["interpolation_margin"]),
            _stat(o["2d"]["reference_min"]),
        ],
    )


def _restore_verdict(cfg: Exp2Config, by: dict, rules: dict, s: int) -> Verdict:
    """One seed: adding the stripes (2d+1d) raises accuracy in the hole over the 2d model."""
    d = cfg.min_difference
    m = _plus(by, s)
    a, c = hole_accuracy(m["2d"]), hole_accuracy(m["2d+1d"])
    return Verdict(
        claim="1D stripes restore generalization in the hole",
        paper="adding 1D stripes restores generation in the held-out region",
        rule=f"mean joint accuracy over the three hole sections, 2d+1d minus 2d "
        f"(paired per seed) > {d:g}; value: [2d, 2d+1d]",
        value=[a, c],
        reproduced=bool(c >= a + d),
        rules=rules["restore"],
        statistics=[_stat(c - a)],
    )


def _rim_verdict(cfg: Exp2Config, by: dict, rules: dict, s: int) -> Verdict:
    """One seed: the 1d model with the rim beats the one without on interior 2D labels."""
    d = cfg.min_difference
    w = by[("main", "1d", s)]["spaces"]["rim"]["sections"]["held_out"]["accuracy"]
    wo = by[("rim", "1d-norim", s)]["spaces"]["rim"]["sections"]["held_out"]["accuracy"]
    return Verdict(
        claim="the rim of 2D examples matters",
        paper="1D stripes without the rim of 2D SOS examples do not generalize to 2D",
        rule=f"OOD (interior 2D) joint accuracy, with the rim minus without (paired "
        f"per seed) > {d:g}; value: [with rim, without rim]",
        value=[w, wo],
        reproduced=bool(w >= wo + d),
        rules=rules["rim"],
        statistics=[_stat(as_number(w) - as_number(wo))],
    )


def _held_out(by: dict, part: str, key, s: int):
    """Joint accuracy in the held-out section of a run's own label space (None: no value)."""
    return by[(part, key, s)]["spaces"]["own"]["sections"]["held_out"]["accuracy"]


def _lesion_verdict(cfg: Exp2Config, by: dict, rules: dict, s: int) -> Verdict:
    """One seed: accuracy in the lesion falls with its width (designs.lesion_verdict)."""
    cols = sorted(cfg.lesion_columns)
    accuracy = [_held_out(by, "lesion", k, s) for k in cols]
    return lesion_verdict(cols, accuracy, cfg.image_size, cfg.min_difference, rules["lesion"])


def _squares_verdict(cfg: Exp2Config, by: dict, rules: dict, s: int) -> Verdict:
    """One seed: interior held-out squares are generated better than exterior ones, on
    average over the kinds and widths."""
    diffs, detail = [], {}
    for kind in cfg.square_kinds:
        for w in sorted(cfg.square_widths):
            acc = {pos: _held_out(by, "squares", (kind, pos, w), s) for pos in POSITIONS}
            diffs.append(as_number(acc["interior"]) - as_number(acc["exterior"]))
            detail[f"{kind} W={w:g}"] = acc
    mean = float(np.mean(diffs))
    return Verdict(
        claim="held-out interior squares are generated better than exterior ones",
        paper="interior and exterior held-out W x W squares are compared (Fig. 12); "
        "our reading: interior squares, surrounded by data, are easier",
        rule=f"joint accuracy in the held-out square, interior - exterior (paired per "
        f"seed), averaged over kinds {list(cfg.square_kinds)} and W "
        f"{sorted(cfg.square_widths)}, > {cfg.min_mean_difference:g}",
        value=mean,
        reproduced=bool(mean >= cfg.min_mean_difference),
        detail=detail,
        rules=rules["squares"],
        statistics=[_stat(mean)],
    )
