"""Pooling seeds of one experiment run in separate folders (factordiff.experiments.pool)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from factordiff.cli import main
from factordiff.experiments.judgement import Rule, judge
from factordiff.experiments.pool import pool_verdicts
from factordiff.experiments.verdict import Verdict, combine_seeds


def _seed_verdicts(seed: int) -> list[Verdict]:
    """Two claims of one seed as a run judges them: a paired rule with a control, a list
    value, a per-run answer; seed 3 is not judged on the second claim."""
    rules = [Rule("x-on-y", "below", 0.2, 3), Rule("x-on-y minus untrained", "below", 0.0, 3)]
    first = Verdict(
        claim="orthogonal",
        paper="p",
        rule="x-on-y < 0.2",
        value=0.1 + 0.03 * seed,
        reproduced=seed % 2 == 0,
        control=0.3 - 0.01 * seed,
        control_passes=seed == 1,
        detail={"seed": seed},
        rules=rules,
        statistics=[0.1 + 0.03 * seed, -0.2 + 0.04 * seed],
    )
    second = Verdict(
        claim="gradual",
        paper="q",
        rule="falls",
        value=[0.5, 0.4 - 0.05 * seed],
        reproduced=False,
        not_judged="the budget check failed" if seed == 3 else None,
        rules=[Rule("fall", "above", 0.0, 5)],
        statistics=[0.1 * seed - 0.05],
    )
    return [first, second]


@pytest.mark.parametrize("split", [[[0, 1], [2, 3, 4]], [[3], [0, 4], [1, 2]], [[2], [0]]])
def test_pooled_verdicts_equal_those_of_one_call_over_every_seed(split):
    """Judged in one call over every seed or in parts and pooled: the same verdicts."""
    seeds = sorted(s for part in split for s in part)
    joint = combine_seeds([_seed_verdicts(s) for s in seeds], seeds)
    parts = []
    for part in split:
        stored = [v.to_dict() for v in combine_seeds([_seed_verdicts(s) for s in part], part)]
        held = {i: {s: _seed_verdicts(s)[i].reproduced for s in part} for i in range(len(stored))}
        parts.append((part, json.loads(json.dumps(stored)), held))
    order, pooled = pool_verdicts(parts)
    assert order == seeds
    assert [v.to_dict() for v in pooled] == json.loads(json.dumps([v.to_dict() for v in joint]))


def _relabel(src, dst, seed: int) -> None:
    """A copy of a finished one-seed exp1-tiny folder whose seed reads ``seed`` (the same
    statistics under another seed number: enough to test the pooling's bookkeeping)."""
    shutil.copytree(src, dst)
    s = json.loads((dst / "summary.json").read_text())
    (old,) = s["seeds"]
    s["seeds"] = [seed]
    for r in s["runs"]:
        r["params"]["seed"] = seed
    for j in [j for v in s["verdicts"] for j in v["judgements"]] + s["not_aligned"]["judgements"]:
        j["seeds"] = [seed]
    for v in s["verdicts"]:
        if v.get("not_judged"):
            v["not_judged"] = v["not_judged"].replace(f"seed {old}:", f"seed {seed}:")
    (dst / "summary.json").write_text(json.dumps(s))
    c = json.loads((dst / "experiment.json").read_text())
    c["seeds"] = [seed]
    (dst / "experiment.json").write_text(json.dumps(c))
    table = pd.read_csv(dst / "results.csv")
    table["param.seed"] = seed
    table.to_csv(dst / "results.csv", index=False)


def test_pool_command_judges_two_folders_as_one(exp1_tiny_finished, tmp_path, capsys):
    a = exp1_tiny_finished
    b = tmp_path / "b"
    _relabel(a, b, 7)
    out = tmp_path / "pooled"
    assert main(["pool", str(a), str(b), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())
    one = json.loads((a / "summary.json").read_text())
    assert s["seeds"] == [0, 7] and [r["params"]["seed"] for r in s["runs"]] == [0, 7]
    for v, v1 in zip(s["verdicts"], one["verdicts"]):
        for j, j1 in zip(v["judgements"], v1["judgements"]):
            assert j["seeds"] == [0, 7] and j["values"] == j1["values"] * 2
            expected = judge(
                Rule.from_dict(j1["rule"]),
                j1["values"] * 2,
                [0, 7],
            )
            assert j == expected.to_dict()
        assert v["spread"]["seeds"] == [0, 7]
    assert s["not_aligned"]["judgements"][0]["n"] == 2
    assert [p["seeds"] for p in s["pooled_from"]] == [[0], [7]]
    assert json.loads((out / "experiment.json").read_text())["seeds"] == [0, 7]
    assert sorted(pd.read_csv(out / "results.csv")["param.seed"]) == [0, 7]
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(one["figures"])
    report = (out / "report.md").read_text()
    assert "Seeds pooled from 2 folders" in report and "(seeds 0, 7)" in report
    # a pooled folder is replaced only with --force
    assert main(["pool", str(a), str(b), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["pool", str(a), str(b), "--out", str(out), "--force"]) == 0


def _refused(argv, capsys, out, *needles) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert all(n in err for n in needles), err
    assert not out.exists()  # nothing written


def test_pool_refuses_bad_folders_and_writes_nothing(exp1_tiny_finished, tmp_path, capsys):
    a = exp1_tiny_finished
    out = tmp_path / "pooled"
    same = tmp_path / "same"
    shutil.copytree(a, same)
    _refused(["pool", str(a), str(same), "--out", str(out)], capsys, out, "seed 0 is in")
    _refused(["pool", str(a), "--out", str(out)], capsys, out, "two or more folders")
    _refused(["pool", str(a), str(a), "--out", str(out)], capsys, out, "given twice")
    other = tmp_path / "other"
    _relabel(a, other, 1)
    c = json.loads((other / "experiment.json").read_text())
    c["grid"] += 1
    (other / "experiment.json").write_text(json.dumps(c))
    _refused(["pool", str(a), str(other), "--out", str(out)], capsys, out, "differs", "grid")
    _refused(
        ["pool", str(a), str(tmp_path / "nowhere"), "--out", str(out)],
        capsys,
        out,
        "no summary.json",
    )
    fit = tmp_path / "fit"
    _relabel(a, fit, 2)
    s = json.loads((fit / "summary.json").read_text())
    s["experiment"] = "exp3-tiny"
    (fit / "summary.json").write_text(json.dumps(s))
    _refused(
        ["pool", str(fit), str(other), "--out", str(out)],
        capsys,
        out,
        "cannot be pooled",
        "allowed: exp1, exp2",
    )


# ----------------------------------------------------------------------------- Experiment 2
EXP2_COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "results" / "exp2-rung4-main"


def _exp2_part(seeds: list[int], out: Path) -> None:
    """The folder one call over ``seeds`` would have written, cut from the committed one
    (seeds 0, 1, 2) through the experiment's own verdicts and summary."""
    from dataclasses import replace

    from factordiff.experiments.exp2.config import load_exp2_config
    from factordiff.experiments.exp2.experiment import EXP2
    from factordiff.experiments.results import write_summary

    src = EXP2_COMMITTED
    whole = json.loads((src / "summary.json").read_text())
    cfg = replace(load_exp2_config(src / "experiment.json"), seeds=tuple(seeds))
    results = [r for r in EXP2.stored_results(whole) if r["run"].params["seed"] in seeds]
    extra = EXP2.summary_extra(cfg, results) | {"cpu": whole["cpu"]}
    part = (
        whole
        | extra
        | {
            "seeds": seeds,
            "runs": [r for r in whole["runs"] if r["params"]["seed"] in seeds],
            "verdicts": [v.to_dict() for v in EXP2.verdicts(cfg, results)],
        }
    )
    shutil.copytree(src / "figures", out / "figures")
    config = json.loads((src / "experiment.json").read_text()) | {"seeds": seeds}
    (out / "experiment.json").write_text(json.dumps(config))
    rows = pd.read_csv(src / "results.csv")
    rows[rows["param.seed"].isin(seeds)].to_csv(out / "results.csv", index=False)
    write_summary(EXP2, part, out)


def test_exp2_folders_pooled_give_the_verdicts_of_one_call(tmp_path, capsys):
    """Seeds 0, 1 and seed 2 of the committed Experiment 2 folder, pooled: the verdicts, run
    evaluations and config of the one call that made it."""
    whole = json.loads((EXP2_COMMITTED / "summary.json").read_text())
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "pooled"
    _exp2_part([0, 1], a)
    _exp2_part([2], b)
    part = json.loads((b / "summary.json").read_text())
    assert {v["verdict"] for v in part["verdicts"]} == {"inconclusive"}  # one seed of three
    assert main(["pool", str(b), str(a), "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["verdicts"] == whole["verdicts"]
    assert s["exp2_runs"] == whole["exp2_runs"] and s["designs"] == whole["designs"]
    assert s["seeds"] == [0, 1, 2] and [p["seeds"] for p in s["pooled_from"]] == [[2], [0, 1]]
    assert json.loads((out / "experiment.json").read_text()) == json.loads(
        (EXP2_COMMITTED / "experiment.json").read_text()
    )
    assert "Seeds pooled from 2 folders" in (out / "report.md").read_text()
    # a run that one call over the seeds plans, missing from every folder
    capsys.readouterr()
    cut = json.loads((b / "summary.json").read_text())
    cut["exp2_runs"] = cut["exp2_runs"][1:]
    (b / "summary.json").write_text(json.dumps(cut))
    _refused(
        ["pool", str(a), str(b), "--out", str(tmp_path / "again")],
        capsys,
        tmp_path / "again",
        "is in no folder",
        "plans 12",
    )
