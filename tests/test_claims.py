"""The claims table: one row per verdict, the same rows in HTML, report.md and README."""

from factordiff.experiments.claims import (
    PAPER_FIGURES,
    claim_row,
    claim_rows,
    claims_markdown,
    short_rule,
)
from factordiff.experiments.judgement import Rule, combine, judge


def judged_verdict(
    values_by_rule, rules, claim="x and y factorized: x-loops orthogonal to y-loops"
):
    judged = [judge(r, values, [0, 1, 2]) for r, values in zip(rules, values_by_rule)]
    return {
        "claim": claim,
        "paper": "x and y in nearly orthogonal subspaces",
        "rules": [r.to_dict() for r in rules],
        "judgements": [j.to_dict() for j in judged],
        "verdict": combine([j.verdict for j in judged]),
    }


CONTROL = "untrained network (epoch 0 of the same seed)"
RULES = [
    Rule("median x-on-y subspace similarity", "below", 0.2, 3),
    Rule("median x-on-y similarity, trained minus untrained", "below", 0.0, 3, CONTROL),
]


def test_a_row_names_each_seed_n_the_interval_the_rule_and_the_verdict():
    v = judged_verdict([[0.05, 0.06, 0.07], [-0.2, -0.25, -0.22]], RULES)
    row = claim_row("exp1", v)
    assert row["figure"] == "Fig. 3" and row["verdict"] == "reproduced"
    assert row["ours"][0].startswith(
        "median x-on-y subspace similarity: seed 0: 0.05, seed 1: 0.06, seed 2: 0.07; n = 3; "
        "interval ["
    )
    assert row["ours"][1].startswith("median x-on-y similarity minus the untrained network:")
    assert row["rule"] == (
        "median x-on-y subspace similarity < 0.2; below the untrained network; >= 3 seeds"
    )
    # straddling the threshold: inconclusive; all on the other side: not reproduced
    assert claim_row("e", judged_verdict([[0.1, 0.3, 0.2], [-1, -1.1, -0.9]], RULES))[
        "verdict"
    ] == ("inconclusive")
    assert claim_row("e", judged_verdict([[0.5, 0.6, 0.55], [-1, -1.1, -0.9]], RULES))[
        "verdict"
    ] == ("not reproduced")


def test_the_markdown_table_escapes_bars_and_names_the_figure():
    rules = [Rule("|D - 7|", "below", 2.0, 3)]
    v = judged_verdict([[1.0, 1.5, 0.5]], rules, "effective dimension converges to about 7")
    text = claims_markdown(claim_rows([("exp1", {"verdicts": [v]})]))
    lines = text.splitlines()
    assert lines[0].startswith("| experiment | claim | the paper |") and len(lines) == 3
    assert "\\|D - 7\\|: seed 0: 1, seed 1: 1.5, seed 2: 0.5; n = 3" in lines[2]
    assert "(Fig. 2)" in lines[2] and lines[2].endswith("| **reproduced** |")
    assert lines[2].count(" | ") == 5  # six cells: no bar leaked from a value


def test_controls_of_several_components_are_named_once():
    rules = [
        Rule("median |value cosine| of x", "below", 0.2, 5),
        Rule("median |value cosine| of y", "below", 0.2, 5),
        Rule("x, trained minus untrained", "below", 0.0, 5, CONTROL),
        Rule("y, trained minus untrained", "below", 0.0, 5, CONTROL),
        Rule("x, trained minus raw", "below", 0.0, 5, "raw images (the training images)"),
    ]
    text = short_rule([r.to_dict() for r in rules])
    assert text.endswith("; below the untrained network and the raw images; >= 5 seeds")


def test_a_summary_before_the_interval_rules_shows_its_value_and_rule():
    old = {
        "claim": "the onset of accuracy is sharp",
        "value": 1.5,
        "rule": "width < 2",
        "reproduced": True,
    }
    row = claim_row("percolation", old)
    assert row["ours"] == ["1.5"] and row["rule"] == "width < 2"
    assert row["figure"] == "Figs. 6, 13-15"


def test_every_claim_an_experiment_makes_has_a_paper_figure():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "docs" / "results"
    claims = set()
    for name in ("exp1", "exp2", "exp3", "percolation"):
        summary = json.loads((root / name / "summary.json").read_text())
        claims |= {v["claim"] for v in summary["verdicts"]}
    assert claims <= set(PAPER_FIGURES), claims - set(PAPER_FIGURES)
