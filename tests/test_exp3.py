"""Experiment 3: the smoke sweep and its files, the datasets, the step budget, and the
verdict rules on hand-made tables with known exponents."""

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from factordiff.data import build_labels
from factordiff.experiments import resolve_experiment, run_experiment
from factordiff.experiments.captions import has_caption
from factordiff.experiments.exp3 import (
    Exp3Config,
    dataset_config,
    eval_sites,
    exp3_config,
    frame_lattice,
    sweep_runs,
    verdicts_from_rows,
    with_step_budget,
)
from factordiff.experiments.skeleton import Verdict
from factordiff.experiments.sweep import LocalExecutor
from factordiff.presets import preset_config
from factordiff.training import training_budget

ONE = LocalExecutor(workers=1, threads=1)


def test_exp3_smoke_writes_table_summary_report_and_figures(tmp_path):
    exp, name = resolve_experiment("exp3-tiny")
    cfg = exp.config(name)
    summary = run_experiment(exp, cfg, tmp_path, executor=ONE, log=lambda *_: None)
    table = pd.read_csv(tmp_path / "results.csv")
    assert len(table) == 2 * 2 * 2  # N x shares x datasets, one seed
    for col in ("param.N", "param.share", "param.dataset", "lattice", "heldout", "lattice_prev"):
        assert col in table.columns
    assert set(table["dataset"]) == {"bumps", "bumps+stripes"}
    # one step budget: every run, whatever its dataset size, took the same number of steps
    assert set(table["step"]) == {cfg.max_steps}
    assert table["n_images"].nunique() > 1
    assert table["lattice"].between(0, 1).all()
    # held-out accuracy exists below share 1 and not at share 1 (every site was trained on)
    assert table.loc[table["share"] < 1, "heldout"].notna().all()
    assert table.loc[table["share"] == 1, "heldout"].isna().all()
    assert table["step_prev"].notna().any()  # the last two evaluations of some runs
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["budget_steps"] == cfg.max_steps
    assert len(saved["verdicts"]) == 2
    for v in saved["verdicts"]:
        assert v["rule"] and isinstance(v["reproduced"], bool)
    # one seed, each claim needing 3: never decided
    assert {v["verdict"] for v in saved["verdicts"]} <= {"inconclusive", "not judged"}
    for fig in summary["figures"]:
        assert (tmp_path / "figures" / fig).stat().st_size > 0
    assert {"accuracy_vs_share.png", "size_at_threshold.png"} <= set(summary["figures"])
    assert all(has_caption(summary["experiment"], f) for f in summary["figures"])
    report = (tmp_path / "report.md").read_text()
    assert "## Step budget" in report and "optimizer steps" in report
    # analysed again, two runs at a time in spawned processes: the same table, nothing trained
    table_text = (tmp_path / "results.csv").read_text()
    lines = []
    run_experiment(
        exp, cfg, tmp_path, executor=ONE, log=lines.append, analysis_workers=2, progress=True
    )
    assert "0 to train" in lines[0]
    assert any(line.startswith("analysing 8 runs, 2 at a time") for line in lines)
    assert (tmp_path / "results.csv").read_text() == table_text
    # judged again from the stored rows: same verdicts, and the report says so
    from factordiff.experiments.skeleton import rejudge_experiment

    again = rejudge_experiment(exp, cfg, tmp_path, "a test of rejudging")
    assert [v["verdict"] for v in again["verdicts"]] == [v["verdict"] for v in saved["verdicts"]]
    assert (
        "after a rule change made after the run: a test of rejudging"
        in (tmp_path / "report.md").read_text()
    )
    with pytest.raises(ValueError, match="differs"):
        rejudge_experiment(exp, exp.config(name, overrides=["max_steps=7"]), tmp_path, "x")
    # the sampling noise of the budget check's scores: same sites, other sampling seeds
    from factordiff.experiments.exp3.eval_noise import main as eval_noise_main
    from factordiff.experiments.exp3.eval_noise import score_with_seeds

    noise = score_with_seeds(tmp_path, seeds=2)
    assert len(noise["runs"]) == len(table)
    for r in noise["runs"]:
        assert len(r["accuracy"]) == 2 and r["range"] == pytest.approx(
            max(r["accuracy"]) - min(r["accuracy"])
        )
    # the stored score is the first seed's
    stored = {(row.N, row.share, row.dataset): row.lattice for row in table.itertuples()}
    first = {
        (r["params"]["N"], r["params"]["share"], r["params"]["dataset"]): r["accuracy"][0]
        for r in noise["runs"]
    }
    assert first == pytest.approx(stored)
    assert eval_noise_main([str(tmp_path), "--seeds", "1"]) == 2


def test_bump_part_of_the_mixture_is_the_bumps_alone_training_set():
    base = preset_config("small").data
    a = dataset_config(base, "bumps", 16, 0.3)
    b = dataset_config(base, "bumps+stripes", 16, 0.3)
    assert a.margin == 0 and b.margin == 3  # 6 of 32 scaled to 16
    la, lb = build_labels(a, seed=5), build_labels(b, seed=5)
    bump_b = lb.labels[lb.parts == lb.part_names.index("bump")]
    np.testing.assert_array_equal(la.labels, bump_b)
    assert lb.part_counts["stripes"] > 0
    with pytest.raises(ValueError, match="dataset"):
        dataset_config(base, "sos", 16, 0.3)


def test_exp3_share_leaves_the_stripes_intact():
    """Since 2026-12-06 only the 2D bumps are subsampled: every (b) run holds all 1D stripes of
    its N, and its bump part is (a)'s training set of the same seed and share."""
    cfg = exp3_config("exp3-quick")
    assert cfg.stripes_share == 1.0 and cfg.size_measure == "bumps"
    full = {}
    for n in cfg.image_sizes:
        everything = build_labels(dataset_config(cfg.run.data, "bumps+stripes", n, 1.0, 1.0), 0)
        full[n] = everything.part_counts["stripes"]
    assert full == {8: 64, 16: 192, 24: 384, 32: 768}  # 2 N x 2 margins (6 of 32, scaled)
    runs = {(p["N"], p["share"], p["dataset"], p["seed"]): r for p, r in sweep_runs(cfg)}
    for (n, share, dataset, seed), run in runs.items():
        if dataset != "bumps+stripes" or seed != 0:
            continue
        assert run.data.subsample == share and run.data.stripes_subsample == 1.0
        b = build_labels(run.data, seed=seed)
        assert b.part_counts["stripes"] == full[n]  # every stripe, at every share
        a = build_labels(runs[(n, share, "bumps", seed)].data, seed=seed)
        bumps_b = b.labels[b.parts == b.part_names.index("bump")]
        np.testing.assert_array_equal(a.labels, bumps_b)
        assert len(a.labels) == max(1, round(share * n * n))
    # the design before 2026-12-06 (stripes_share None): the stripes subsampled with the bumps
    old = dataset_config(cfg.run.data, "bumps+stripes", 16, 0.25)
    assert old.stripes_subsample == 0.25
    assert build_labels(old, 0).part_counts["stripes"] == 48
    with pytest.raises(ValueError, match="stripes_share"):
        Exp3Config(stripes_share=0.0).validate()


def test_presets_span_a_factor_four_in_four_sizes():
    for preset in ("exp3-quick", "exp3"):
        cfg = exp3_config(preset)
        sizes = cfg.image_sizes
        assert len(sizes) >= 4 and sizes[-1] / sizes[0] >= 4
        assert cfg.stripes_share == 1.0 and cfg.size_measure == "bumps"
        assert len(cfg.seed_list()) == 3 and min(cfg.shares) <= 0.02
    assert exp3_config("exp3-quick").max_steps == 2400


def test_step_budget_is_the_same_for_every_share_and_keeps_two_checkpoints():
    cfg = exp3_config("exp3-quick")
    runs = sweep_runs(cfg)
    assert cfg.seeds == (0, 1, 2) and cfg.min_seeds == 3  # one command can be decisive
    assert len(runs) == 4 * 6 * 2 * 3
    assert all(run.train.batch_size == 64 for _, run in runs)
    for _, run in runs:  # every N passes the 4-level UNet's halvings (24 -> 12 -> 6 -> 3)
        run.validate()
    for _, run in runs:
        assert run.train.max_steps == cfg.max_steps
        assert run.train.eval_every_epochs == 0
        n = len(build_labels(run.data, seed=run.seed).labels)
        spe, epochs, total = training_budget(run.train, n)
        assert total == cfg.max_steps
        for e in run.train.checkpoint_epochs:  # the earlier evaluation, before the last
            assert 1 <= e < epochs and e * spe <= cfg.eval_fraction * cfg.max_steps
    run = with_step_budget(preset_config("tiny"), 1, 0.5)
    assert run.train.checkpoint_epochs == ()  # nothing earlier than the end to keep


def test_small_lattices_are_scored_on_repeated_sites_with_fresh_noise():
    cfg = exp3_config("exp3-quick")
    base = cfg.run.data
    sites8 = frame_lattice(8, replace(base, image_size=8))
    rep = eval_sites(cfg, replace(base, image_size=8))
    assert len(sites8) == 64 and rep.shape == (256, 2)  # 4 draws of each of the 64 sites
    np.testing.assert_array_equal(rep[:64], sites8)
    np.testing.assert_array_equal(rep[192:], sites8)
    assert len(eval_sites(cfg, replace(base, image_size=12))) == 288  # 2 x 144 >= 256
    assert len(eval_sites(cfg, replace(base, image_size=16))) == 256  # every site once
    old = replace(cfg, repeat_sites=False)  # configs saved before repeat_sites
    np.testing.assert_array_equal(eval_sites(old, replace(base, image_size=8)), sites8)
    full = exp3_config("exp3")  # more sites than num_eval: a fixed sample, none repeated
    s32 = eval_sites(full, replace(full.run.data, image_size=32))
    assert len(s32) == full.num_eval == len(np.unique(s32, axis=0))


def test_config_errors_name_the_value():
    with pytest.raises(ValueError, match="shares"):
        Exp3Config(shares=(0.5, 0.2)).validate()
    with pytest.raises(ValueError, match="image_sizes"):
        Exp3Config(image_sizes=(8,)).validate()
    with pytest.raises(ValueError, match="threshold_metric"):
        Exp3Config(threshold_metric="train").validate()
    with pytest.raises(ValueError, match="unknown preset"):
        exp3_config("exp3-huge")
    with pytest.raises(ValueError, match="min_seeds"):
        Exp3Config(min_seeds=0).validate()
    for preset in ("exp3", "exp3-quick", "exp3-tiny"):  # the real minimum, smoke preset too
        cfg = exp3_config(preset)
        assert cfg.min_seeds == 3
        assert preset == "exp3-tiny" or len(cfg.seed_list()) >= cfg.min_seeds


def _rows(exponents: dict, prefactor: dict[str, float], seeds=(0,)) -> list[dict]:
    """Accuracy linear in log size around the known size c N^p at the 60% threshold, so the
    interpolated size is exactly c N^p and the fitted exponent exactly p. ``exponents``
    gives p per dataset: one number for every seed, or a list with one per seed."""
    rows = []
    shares = np.geomspace(0.005, 1.0, 16)
    for dataset, ps in exponents.items():
        for i, seed in enumerate(seeds):
            p = ps[i] if isinstance(ps, list | tuple) else ps
            for n in (8, 16, 32):
                target = prefactor[dataset] * n**p
                for share in shares:
                    size = share * 4 * n * n
                    acc = float(np.clip(0.6 + 0.15 * math.log(size / target), 0, 1))
                    rows.append(
                        {
                            "N": n,
                            "share": float(share),
                            "dataset": dataset,
                            "seed": seed,
                            "n_images": size,
                            "n_bumps": size,
                            "lattice": acc,
                            "heldout": acc,
                            "lattice_prev": acc,  # stopped rising: the budget check passes
                            "heldout_prev": acc,
                        }
                    )
    return rows


PREFACTOR = {"bumps": 1.0, "bumps+stripes": 2.0}
SEEDS = (0, 1, 2)


def test_verdicts_reproduce_the_paper_exponents():
    cfg = Exp3Config(num_boot=200)
    exps = {"bumps": [1.95, 2.05, 2.1], "bumps+stripes": [0.9, 1.0, 1.15]}
    verdicts, extra = verdicts_from_rows(_rows(exps, PREFACTOR, SEEDS), cfg)
    assert [v.verdict for v in verdicts] == ["reproduced", "reproduced"]
    assert [v.reproduced for v in verdicts] == [True, True]
    # each seed's exponent, fitted on its runs alone, and its statistic |p - expected|
    assert verdicts[0].value == pytest.approx(exps["bumps"], abs=1e-3)
    assert verdicts[1].value == pytest.approx(exps["bumps+stripes"], abs=1e-3)
    assert verdicts[0].statistics[0] == pytest.approx([0.05, 0.05, 0.1], abs=1e-3)
    (j,) = verdicts[0].judgements
    assert j["n"] == 3 and j["interval"][1] < 0.5 and j["rule"]["threshold"] == 0.5
    assert j["rule"]["side"] == "below" and j["rule"]["min_seeds"] == 3
    assert verdicts[0].control["fit of every seed"] == pytest.approx(2.033, abs=1e-3)
    assert (extra["sizes"]["bumps"]["status"] == "interpolated").all()
    assert verdicts[0].to_dict()["verdict"] == "reproduced"


@pytest.mark.parametrize(
    ("bumps", "stripes", "expected"),
    [
        ([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], ["not reproduced", "not reproduced"]),  # swapped
        # straddling: one seed far off (|p - 2| = 0.7) widens the interval across 0.5
        ([2.0, 1.3, 1.8], [1.0, 1.6, 0.8], ["inconclusive", "inconclusive"]),
        # every seed passes the per-run rule, yet the interval reaches above 0.5
        ([1.55, 2.0, 2.45], [1.0, 1.0, 1.0], ["inconclusive", "reproduced"]),
    ],
)
def test_verdicts_are_judged_from_the_interval_of_per_seed_exponents(bumps, stripes, expected):
    cfg = Exp3Config(num_boot=200)
    rows = _rows({"bumps": bumps, "bumps+stripes": stripes}, PREFACTOR, SEEDS)
    verdicts, _ = verdicts_from_rows(rows, cfg)
    assert [v.verdict for v in verdicts] == expected
    assert [v.reproduced for v in verdicts] == [e == "reproduced" for e in expected]


def test_fewer_seeds_than_the_minimum_are_inconclusive():
    cfg = Exp3Config(num_boot=200)
    good = {"bumps": [2.0, 2.05], "bumps+stripes": [1.0, 1.05]}
    verdicts, _ = verdicts_from_rows(_rows(good, PREFACTOR, (0, 1)), cfg)
    assert [v.verdict for v in verdicts] == ["inconclusive", "inconclusive"]
    assert "needs at least 3" in verdicts[0].judgements[0]["reason"]
    # one seed: inconclusive too; with a minimum of 1 (a --set override) the same seed decides
    one = _rows({"bumps": 2.0, "bumps+stripes": 1.0}, PREFACTOR)
    assert [v.verdict for v in verdicts_from_rows(one, cfg)[0]] == ["inconclusive"] * 2
    one_ok = verdicts_from_rows(one, replace(cfg, min_seeds=1))[0]
    assert [v.verdict for v in one_ok] == ["reproduced"] * 2


def test_seeds_without_a_fit_give_no_value():
    cfg = Exp3Config(num_boot=200)
    rows = _rows({"bumps": 2.0, "bumps+stripes": 1.0}, PREFACTOR, SEEDS)
    for r in rows:  # seed 2 never reaches 60%: no fit in that seed, two seeds left
        if r["seed"] == 2:
            r["lattice"] = r["lattice_prev"] = 0.1
    verdicts, _ = verdicts_from_rows(rows, cfg)
    assert verdicts[0].value[2] is None and verdicts[0].statistics[0][2] is None
    assert verdicts[0].judgements[0]["n"] == 2 and verdicts[0].verdict == "inconclusive"
    # nothing reaches 60%: no fit at all, inconclusive (no seed gave a value), and said so
    for r in rows:
        r["lattice"] = r["lattice_prev"] = 0.1
    verdicts, extra = verdicts_from_rows(rows, cfg)
    assert [v.verdict for v in verdicts] == ["inconclusive", "inconclusive"]
    assert verdicts[0].value == [None, None, None] and extra["fits"]["bumps"]["fit"] is None
    assert verdicts[0].control is None and "no value" in verdicts[0].rule
    assert verdicts[0].judgements[0]["reason"] == "no seed gave a value"


def test_claims_are_not_judged_when_the_budget_check_fails():
    cfg = Exp3Config(num_boot=200)
    rows = _rows({"bumps": 2.0, "bumps+stripes": 1.0}, PREFACTOR, SEEDS)
    rows[5]["lattice_prev"] = rows[5]["lattice"] - 0.2  # one run still learning
    verdicts, _ = verdicts_from_rows(rows, cfg)
    assert [v.verdict for v in verdicts] == ["not judged", "not judged"]
    assert not any(v.reproduced for v in verdicts)
    assert verdicts[0].value == pytest.approx([2.0] * 3, abs=1e-3)  # still reported
    assert verdicts[0].judgements[0]["verdict"] == "reproduced"  # the interval, shown
    assert "rose by up to 0.2" in verdicts[0].not_judged and "budget" in verdicts[0].rule
    # no run with two evaluations: the check cannot be made, so nothing is judged either
    for r in rows:
        r.pop("lattice_prev")
    verdicts, _ = verdicts_from_rows(rows, cfg)
    assert "could not be made" in verdicts[1].not_judged
    assert verdicts[1].verdict == "not judged"
    with pytest.raises(ValueError, match="not judged cannot be reproduced"):
        Verdict("c", "p", "r", 1.0, True, not_judged="why")


def test_seeds_give_a_spread_of_exponents():
    cfg = Exp3Config(num_boot=200)
    rows = _rows({"bumps": 2.0, "bumps+stripes": 1.0}, PREFACTOR, (0, 1))
    verdicts, _ = verdicts_from_rows(rows, cfg)
    assert verdicts[0].spread["seeds"] == [0, 1]
    assert verdicts[0].spread["per_seed"] == pytest.approx([2.0, 2.0], abs=1e-3)


def test_rejudging_a_folder_of_old_rules_gives_the_three_answers(tmp_path):
    """A summary written with the old rules (no judgements, no min_seeds in its config) is
    judged again from its stored rows, which carry their seeds."""
    import json as _json

    from factordiff.config import to_dict
    from factordiff.experiments.exp3 import EXP3
    from factordiff.experiments.skeleton import rejudge_experiment

    cfg = exp3_config("exp3-quick", seeds=[0, 1])
    saved = to_dict(cfg)
    saved.pop("min_seeds")  # as written before the field existed
    (tmp_path / "experiment.json").write_text(_json.dumps(saved))
    rows = _rows({"bumps": [1.66, 1.27], "bumps+stripes": [1.24, 1.05]}, PREFACTOR, (0, 1))
    for r in rows:
        r.update(step=800, step_prev=600)
    old = {
        "experiment": "exp3-quick",
        "title": "t",
        "command": "c",
        "device": "cpu",
        "setting": "s",
        "wall_seconds": 1.0,
        "train_seconds": 1.0,
        "analysis_seconds": 1.0,
        "budget_steps": 800,
        "budget_check": {},
        "threshold_sizes": {},
        "fits": {},
        "rows": rows,
        "verdicts": [{"claim": "c", "rule": "r", "value": 1.47, "reproduced": False}],
        "figures": [],
    }
    (tmp_path / "summary.json").write_text(_json.dumps(old))
    out = rejudge_experiment(EXP3, cfg, tmp_path, "per-seed intervals")
    assert [v["verdict"] for v in out["verdicts"]] == ["inconclusive", "inconclusive"]
    assert [j["n"] for v in out["verdicts"] for j in v["judgements"]] == [2, 2]
    assert out["verdicts"][0]["value"] == pytest.approx([1.66, 1.27], abs=1e-3)
    assert "inconclusive" in (tmp_path / "report.md").read_text()
