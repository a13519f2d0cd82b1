"""Three answers from intervals over seeds (factordiff.experiments.judgement), on hand-made
values with known answers."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from factordiff.experiments.judgement import (
    INCONCLUSIVE,
    NOT_JUDGED,
    NOT_REPRODUCED,
    REPRODUCED,
    Rule,
    combine,
    interval,
    judge,
    verdict_of,
)

BELOW = Rule("x-on-y similarity", "below", 0.2, min_seeds=3)
ABOVE = Rule("accuracy gain", "above", 0.1, min_seeds=3)


def test_interval_is_the_student_t_interval_of_the_mean():
    values = [0.1, 0.2, 0.3, 0.25]
    lo, hi = interval(values, 0.90)
    mean = sum(values) / 4
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
    half = stats.t.ppf(0.95, 3) * sd / 2
    assert (lo, hi) == pytest.approx((mean - half, mean + half))
    assert interval([0.4], 0.9) == (0.4, 0.4)


@pytest.mark.parametrize(
    ("rule", "values", "expected"),
    [
        (BELOW, [0.05, 0.06, 0.04], REPRODUCED),  # all pass, interval below
        (BELOW, [0.5, 0.6, 0.55], NOT_REPRODUCED),  # all fail, interval above
        (BELOW, [0.05, 0.6, 0.1], INCONCLUSIVE),  # straddling
        (BELOW, [0.15, 0.18, 0.19, 0.5, 0.12], INCONCLUSIVE),  # most pass, one far off
        (ABOVE, [0.3, 0.35, 0.32], REPRODUCED),
        (ABOVE, [-0.02, 0.0, 0.01], NOT_REPRODUCED),
        (ABOVE, [0.05, 0.2, 0.12], INCONCLUSIVE),
    ],
)
def test_three_answers(rule, values, expected):
    j = judge(rule, values, [0, 1, 2, 3, 4][: len(values)])
    assert j.verdict == expected, j.describe()
    assert j.n == len(values)
    lo, hi = j.interval
    assert lo <= j.mean <= hi


def test_every_seed_passing_is_not_enough_when_the_interval_crosses():
    # three seeds each just below the threshold but spread: the interval reaches above it
    j = judge(BELOW, [0.19, 0.10, 0.01])
    assert all(v < 0.2 for v in j.values) and j.verdict == INCONCLUSIVE


def test_fewer_seeds_than_the_minimum_are_inconclusive_whatever_the_values():
    exp1 = Rule("x-on-y similarity", "below", 0.2, min_seeds=5)
    for values in ([0.01], [0.01, 0.02], [0.01, 0.02, 0.01, 0.02]):
        j = judge(exp1, values)
        assert j.verdict == INCONCLUSIVE and "needs at least 5" in j.reason
    assert judge(exp1, [0.01, 0.02, 0.01, 0.02, 0.015]).verdict == REPRODUCED


def test_undefined_seeds_do_not_count():
    j = judge(BELOW, [0.05, None, float("nan"), 0.06], [0, 1, 2, 3])
    assert j.n == 2 and j.verdict == INCONCLUSIVE and j.values[1] is None
    assert judge(BELOW, [None, None]).verdict == INCONCLUSIVE


def test_paired_control_difference():
    # trained minus untrained per seed: the trained network must be lower in every pairing
    paired = Rule("x-on-y, trained - untrained", "below", 0.0, control="untrained network")
    trained, control = [0.10, 0.14, 0.12], [0.26, 0.25, 0.28]
    diffs = [t - c for t, c in zip(trained, control)]
    assert judge(paired, diffs).verdict == REPRODUCED
    assert judge(paired, [0.01, -0.02, 0.0]).verdict == INCONCLUSIVE
    assert paired.to_dict()["control"] == "untrained network"


def test_combining_rules_of_one_claim():
    assert combine([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert combine([REPRODUCED, INCONCLUSIVE]) == INCONCLUSIVE
    assert combine([INCONCLUSIVE, NOT_REPRODUCED]) == NOT_REPRODUCED
    assert combine([REPRODUCED, NOT_JUDGED]) == NOT_JUDGED


def test_bad_rules_name_the_value():
    with pytest.raises(ValueError, match="side = 'left'"):
        Rule("s", "left", 0.2)
    with pytest.raises(ValueError, match="min_seeds = 0"):
        Rule("s", "below", 0.2, min_seeds=0)
    with pytest.raises(ValueError, match="threshold"):
        Rule("s", "below", float("nan"))


def test_summaries_written_before_the_third_answer_still_read():
    assert verdict_of({"reproduced": True}) == REPRODUCED
    assert verdict_of({"reproduced": False, "verdict": "not reproduced"}) == NOT_REPRODUCED
    assert verdict_of({"reproduced": False, "not_judged": "budget"}) == NOT_JUDGED
    assert verdict_of({"reproduced": False, "verdict": INCONCLUSIVE}) == INCONCLUSIVE


# ----------------------------------------------------------------------------- verdicts
def _verdicts(values, min_seeds=3):
    from factordiff.experiments.skeleton import Verdict

    rules = [
        Rule("x-on-y similarity", "below", 0.2, min_seeds=min_seeds),
        Rule("x-on-y, trained - untrained", "below", 0.0, min_seeds, "untrained network"),
    ]
    return [
        [Verdict("orthogonal", "p", "r", v, v < 0.2, rules=rules, statistics=[v, v - c])]
        for v, c in values
    ]


def test_combine_seeds_judges_every_rule_from_its_interval():
    from factordiff.experiments.skeleton import combine_seeds

    seeds = [0, 1, 2]
    (v,) = combine_seeds(_verdicts([(0.10, 0.25), (0.12, 0.27), (0.11, 0.26)]), seeds)
    assert v.verdict == REPRODUCED and v.reproduced
    assert [j["verdict"] for j in v.judgements] == [REPRODUCED, REPRODUCED]
    assert v.judgements[1]["values"] == pytest.approx([-0.15, -0.15, -0.15])
    d = v.to_dict()
    assert d["verdict"] == REPRODUCED and d["judgements"][0]["n"] == 3
    assert d["judgements"][0]["method"].startswith("two-sided 90% Student-t")
    # the paired control straddles 0 in one pairing: inconclusive, though every seed passes
    (v,) = combine_seeds(_verdicts([(0.10, 0.25), (0.12, 0.02), (0.11, 0.26)]), seeds)
    assert v.verdict == INCONCLUSIVE and not v.reproduced
    assert v.spread["reproduced_in"] == 3


def test_one_seed_below_the_minimum_reads_inconclusive():
    from factordiff.experiments.skeleton import combine_seeds

    (v,) = combine_seeds(_verdicts([(0.10, 0.25)], min_seeds=5), [0])
    assert v.verdict == INCONCLUSIVE and not v.reproduced
    assert "needs at least 5" in v.judgements[0]["reason"]


def test_a_statistic_per_rule_is_required():
    from factordiff.experiments.skeleton import Verdict

    with pytest.raises(ValueError, match="1 statistic.*2 rule"):
        Verdict("c", "p", "r", 0.1, True, rules=[BELOW, ABOVE], statistics=[0.1])


def test_reports_show_each_seed_n_interval_and_the_third_answer():
    from factordiff.experiments.report import verdict_table
    from factordiff.experiments.skeleton import combine_seeds

    seeds = [0, 1, 2]
    (v,) = combine_seeds(_verdicts([(0.10, 0.25), (0.12, 0.02), (0.11, 0.26)]), seeds)
    text = "\n".join(verdict_table([v.to_dict()]))
    assert "**inconclusive**" in text and "(n = 3; rule < 0.2, >= 3 seeds)" in text
    assert "seed 0: 0.1; seed 1: 0.12; seed 2: 0.11" in text
    # a summary written before the rules renders as before
    old = {"claim": "c", "rule": "r", "value": 0.1, "reproduced": False}
    assert "**not reproduced**" in "\n".join(verdict_table([old]))
