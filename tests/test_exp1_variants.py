"""Training variants of Experiment 1: overrides, validation, CLI and one tiny run."""

import json
from dataclasses import replace

import pytest

from factordiff.cli import main
from factordiff.config import apply_overrides, to_dict
from factordiff.experiments.exp1 import (
    DEFAULT_VARIANT,
    EXP1,
    EXP1_VARIANTS,
    Exp1Config,
    exp1_config,
)
from factordiff.experiments.report import render_variants
from factordiff.experiments.sweep import LocalExecutor, run_key
from factordiff.experiments.variants import (
    apply_variant,
    parse_variant_names,
    resolve_variants,
    run_variants,
    variant_configs,
    variants_overview,
)
from factordiff.presets import preset_config


def _diff(a, b, prefix=""):
    """Dotted keys whose values differ between two config dicts."""
    out = set()
    for k in set(a) | set(b):
        if isinstance(a.get(k), dict):
            out |= _diff(a[k], b[k], f"{prefix}{k}.")
        elif a.get(k) != b.get(k):
            out.add(f"{prefix}{k}")
    return out


def test_each_variant_sets_what_it_names_and_nothing_else():
    base = exp1_config(quick=True)
    assert base.variant == DEFAULT_VARIANT == "default"
    cfgs = variant_configs(EXP1, "exp1-quick", list(EXP1_VARIANTS))
    assert list(cfgs) == ["default", "paper-objective", "k16", "k1", "positional", "long"]
    changed = {n: _diff(to_dict(base), to_dict(c)) - {"variant"} for n, c in cfgs.items()}
    assert all(c.variant == n for n, c in cfgs.items())
    assert changed["default"] == set() and cfgs["default"].run == preset_config("exp1-quick")
    # the default setting: v-prediction, scale-shift, periodic K = 16, 200 epochs
    run = cfgs["default"].run
    assert (run.diffusion.prediction_type, run.model.scale_shift) == ("v_prediction", True)
    assert (run.model.label_encoding, run.model.num_frequencies) == ("periodic", 16)

    po = cfgs["paper-objective"].run
    assert changed["paper-objective"] == {"run.diffusion.prediction_type", "run.model.scale_shift"}
    assert po.diffusion.prediction_type == "epsilon" and po.model.scale_shift is False
    # K = 16 is the preset's own setting, so k16 trains the default's run
    assert changed["k16"] == set() and run_key(cfgs["k16"].run) == run_key(run)
    assert changed["k1"] == {"run.model.num_frequencies"}
    assert cfgs["k1"].run.model.num_frequencies == 1
    assert changed["positional"] == {"run.model.label_encoding"}
    assert cfgs["positional"].run.model.label_encoding == "positional"
    assert cfgs["positional"].run.model.num_frequencies == 16
    long = cfgs["long"].run.train
    assert changed["long"] == {"run.train.epochs", "run.train.checkpoint_epochs"}
    assert long.epochs == 600
    assert long.checkpoint_epochs == (0, 10, 25, 50, 75, 100, 150, 200, 400)
    # every variant but k16 trains its own runs (its own folder under runs/)
    keys = {n: run_key(c.run) for n, c in cfgs.items() if n != "k16"}
    assert len(set(keys.values())) == len(keys)


def test_long_variant_triples_a_step_budget_and_user_sets_apply_first():
    cfg = exp1_config(quick=True, overrides=["run.train.max_steps=500"])
    long = apply_variant(cfg, EXP1_VARIANTS["long"])
    assert long.run.train.max_steps == 1500 and long.run.train.epochs == cfg.run.train.epochs
    # from the command line, a --set of what the variant sets is refused, not scaled
    with pytest.raises(ValueError, match=r"--set \['run.train.max_steps'\] conflicts"):
        variant_configs(EXP1, "exp1-quick", ["long"], overrides=["run.train.max_steps=500"])
    # other --set values stay, and the variant comes on top of them
    cfgs = variant_configs(EXP1, "exp1-quick", ["k1"], seeds=[0, 2], overrides=["grid=16"])
    assert cfgs["k1"].grid == 16 and cfgs["k1"].seeds == (0, 2)
    assert cfgs["k1"].run.model.num_frequencies == 1


def test_variant_names_and_conflicts_are_refused_with_the_allowed_values():
    with pytest.raises(ValueError, match=r"unknown variant\(s\) \['k2'\].*'positional', 'long'"):
        resolve_variants(EXP1, ["k1", "k2"])
    from factordiff.experiments import EXPERIMENTS

    with pytest.raises(ValueError, match=r"no training variants.*\['exp1'\]"):
        resolve_variants(EXPERIMENTS["exp2"], ["k1"])
    for bad in ("", "k1,,long", "k1,k1"):
        with pytest.raises(ValueError, match="distinct comma-separated"):
            parse_variant_names(bad)
    assert parse_variant_names("k1, positional") == ["k1", "positional"]
    with pytest.raises(ValueError, match="conflicts with variant 'k1'"):
        variant_configs(EXP1, "exp1-quick", ["k1"], overrides=["run.model.num_frequencies=4"])
    with pytest.raises(ValueError, match="--variant NAME"):
        exp1_config(quick=True, overrides=["variant=k1"])
    with pytest.raises(ValueError, match="variant = 'k3' is invalid"):
        replace(exp1_config(quick=True), variant="k3").validate()


def test_cli_dry_run_prints_each_variant_config(tmp_path, capsys):
    out = tmp_path / "v"
    args = ["experiment", "exp1", "--quick", "--variant", "positional,k1", "--out", str(out)]
    assert main(args + ["--dry-run"]) == 0
    text = capsys.readouterr().out
    assert f"# variant positional: {out.resolve() / 'positional'}" in text
    assert f"# variant k1: {out.resolve() / 'k1'}" in text
    assert text.count('"label_encoding": "positional"') == 1
    assert '"num_frequencies": 1,' in text and '"variant": "k1"' in text
    assert "2 variant(s), 10 run(s)" in text  # the preset's seeds 0-4 per variant
    assert not out.exists()


def test_cli_bad_variant_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "v"
    code = main(["experiment", "exp1", "--quick", "--variant", "k1,fourier", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown variant(s) ['fourier']") and "'positional'" in err
    assert not out.exists()


def smoke_config() -> Exp1Config:
    # the tiny setting of tests/test_exp1.py
    run = apply_overrides(
        preset_config("tiny"),
        [
            "data.periodic=true",
            "train.epochs=3",
            "train.checkpoint_epochs=[0,1,2]",
            "train.eval_every_epochs=1",
        ],
    )
    # no sensitivity map: tests/test_exp1.py covers it; these test the variants
    return Exp1Config(name="exp1-smoke", run=run, grid=10, n_landmarks=64, sensitivity_map=False)


def test_two_variants_training_the_same_runs_are_refused_before_writing(tmp_path):
    smoke = smoke_config()
    k16 = replace(smoke, run=apply_overrides(smoke.run, ["model.num_frequencies=16"]))
    cfgs = {
        "default": apply_variant(k16, EXP1_VARIANTS["default"]),
        "k16": apply_variant(smoke, EXP1_VARIANTS["k16"]),
    }
    with pytest.raises(ValueError, match="variants 'default' and 'k16' train the same run"):
        run_variants(EXP1, cfgs, tmp_path / "v", log=lambda *_: None)
    assert not (tmp_path / "v").exists()


def test_tiny_exp1_run_with_a_variant_finishes(tmp_path):
    smoke = smoke_config()  # two checkpoints (epochs 0 and 2) keep the analysis short
    run = apply_overrides(smoke.run, ["train.epochs=2", "train.checkpoint_epochs=[0]"])
    cfg = apply_variant(replace(smoke, run=run), EXP1_VARIANTS["positional"])
    out = tmp_path / "v"
    doc = run_variants(
        EXP1,
        {"positional": cfg},
        out,
        executor=LocalExecutor(workers=1, threads=1),
        command="pytest",
        log=lambda *_: None,
    )
    summary = json.loads((out / "positional" / "summary.json").read_text())
    assert summary["variant"] == "positional"
    assert summary["setting"].startswith("variant `positional` (transformer-style")
    assert json.loads((out / "positional" / "experiment.json").read_text())["variant"] == (
        "positional"
    )
    (run_dir,) = (out / "positional" / "runs").iterdir()
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["model"]["label_encoding"] == "positional"
    assert "Setting: variant `positional`" in (out / "positional" / "report.md").read_text()
    assert [c["epoch"] for c in summary["checkpoints"]] == [0, 2]
    # the overview over variants
    assert json.loads((out / "variants.json").read_text()) == doc
    assert len(doc["claims"]) == 5 and all(c["of"] == 1 for c in doc["claims"])
    # one seed of the five the rules need: inconclusive, in the overview too
    verdicts = doc["variants"]["positional"]["verdicts"]
    assert [v["verdict"] for v in verdicts] == ["inconclusive"] * 5
    assert all(c["holds_in"] == [] for c in doc["claims"])
    table = (out / "variants.md").read_text()
    assert "| claim | `positional` | holds in |" in table and "**inconclusive** (" in table


def test_variants_overview_counts_the_variants_in_which_a_claim_holds():
    def summary(flags, seeds):
        verdicts = []
        for i, held in enumerate(flags):
            spread = {"seeds": seeds, "reproduced_in": held, "mean": 0.5, "std": 0.1}
            verdicts.append(
                {
                    "claim": f"claim {i}",
                    "reproduced": held == len(seeds),
                    "value": [0.5] * len(seeds),
                    "spread": spread,
                }
            )
        return {"verdicts": verdicts, "setting": "s", "train_seconds": 60.0, "seeds": seeds}

    doc = variants_overview(
        EXP1, {"default": summary([3, 1], [0, 1, 2]), "k1": summary([3, 0], [0, 1, 2])}, "cmd"
    )
    assert [c["holds_in"] for c in doc["claims"]] == [["default", "k1"], []]
    assert doc["variants"]["default"]["verdicts"][1]["reproduced_in"] == 1
    text = render_variants(doc)
    assert doc["variants"]["k1"]["verdicts"][1]["verdict"] == "not reproduced"  # old summary
    assert "| claim 0 | reproduced (3 of 3 seeds) | reproduced (3 of 3 seeds) | 2 of 2 |" in text
    assert (
        "| claim 1 | **not reproduced** (1 of 3 seeds) | **not reproduced** (0 of 3 seeds) | 0 of 2 |"
        in text
    )


def test_variants_overview_keeps_the_three_answers():
    """A summary judged by intervals: its verdict (here inconclusive) reaches the overview
    and its table; only a reproduced verdict counts as holding in a variant."""
    verdicts = [
        {
            "claim": f"claim {i}",
            "reproduced": verdict == "reproduced",
            "verdict": verdict,
            "value": [0.1, 0.5, 0.1],
            "spread": {"seeds": [0, 1, 2], "reproduced_in": held},
        }
        for i, (verdict, held) in enumerate([("inconclusive", 2), ("reproduced", 3)])
    ]
    s = {"verdicts": verdicts, "setting": "s", "train_seconds": 1.0, "seeds": [0, 1, 2]}
    doc = variants_overview(EXP1, {"default": s}, "cmd")
    assert [v["verdict"] for v in doc["variants"]["default"]["verdicts"]] == [
        "inconclusive",
        "reproduced",
    ]
    assert [c["holds_in"] for c in doc["claims"]] == [[], ["default"]]
    text = render_variants(doc)
    assert "| claim 0 | **inconclusive** (2 of 3 seeds) | 0 of 1 |" in text


@pytest.mark.slow  # ~2 minutes: two exp1 analyses twice, numba compiled in each process
def test_runs_of_several_variants_analysed_in_parallel_equal_the_serial_analysis(tmp_path):
    """`analysis_workers` = 2 analyses the runs of both variants in spawned processes; the
    verdicts, rows and the overview equal those of the serial analysis of the same runs."""
    smoke = smoke_config()
    run = apply_overrides(smoke.run, ["train.epochs=1", "train.checkpoint_epochs=[0]"])
    base = replace(smoke, run=run)
    cfgs = {v: apply_variant(base, EXP1_VARIANTS[v]) for v in ("default", "k1")}
    out = tmp_path / "v"
    ex = LocalExecutor(workers=1, threads=1)
    serial = run_variants(EXP1, cfgs, out, executor=ex, log=lambda *_: None)
    tables = {v: (out / v / "results.csv").read_text() for v in cfgs}
    lines = []
    parallel = run_variants(
        EXP1, cfgs, out, executor=ex, log=lines.append, analysis_workers=2, progress=True
    )
    assert "0 to train" in lines[0]  # nothing trained again
    assert any(line.startswith("analysing 2 runs, 2 at a time") for line in lines)
    assert sum(line.startswith("analysed run") for line in lines) == 2
    assert parallel["claims"] == serial["claims"]
    for v in cfgs:
        assert (out / v / "results.csv").read_text() == tables[v]


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_cli_bad_analysis_workers_exits_2_and_writes_nothing(tmp_path, capsys, value):
    out = tmp_path / "v"
    code = main(["experiment", "exp1", "--quick", "--analysis-workers", value, "--out", str(out)])
    assert code == 2
    assert f"--analysis-workers: '{value}' is invalid; allowed: an integer >= 1" in (
        capsys.readouterr().err
    )
    assert not out.exists()


def test_analysis_workers_default_follows_the_local_workers():
    """No --analysis-workers: as many as the local executor's workers (default 2), one with
    Ray; a value given is kept."""
    from argparse import Namespace

    from factordiff.cli import _analysis_workers, _executor

    def ns(**kw):
        args = Namespace(
            **{"analysis_workers": None, "executor": "local", "workers": None, **kw},
            threads=None,
            address=None,
            max_retries=None,  # the option's default: not given (Ray's default is 3)
        )
        return args, _executor(args)

    from factordiff.experiments.sweep import DEFAULT_WORKERS

    assert _analysis_workers(*ns()) == DEFAULT_WORKERS
    assert _analysis_workers(*ns(workers=3)) == 3
    assert _analysis_workers(*ns(executor="ray")) == 1
    assert _analysis_workers(*ns(workers=3, analysis_workers=1)) == 1


def _finished_folder(folder, variant, flags, holds, preset="exp1-quick"):
    """A hand-made finished experiment folder: summary.json only."""
    verdicts = [
        {
            "claim": f"claim {i}",
            "reproduced": bool(held),
            "value": 0.5,
            "spread": {"seeds": [0], "reproduced_in": held},
        }
        for i, held in enumerate(flags)
    ]
    counts = {"orthogonal": {"settings": 144, "holds": holds, "trained_passes": holds}}
    summary = {
        "experiment": preset,
        "variant": variant,
        "setting": f"setting of {variant}",
        "train_seconds": 120.0,
        "seeds": [0],
        "verdicts": verdicts,
        "sensitivity_map": {"counts": counts, "claims": {"orthogonal": "x and y factorized"}},
    }
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_variants_of_separate_commands_are_tabled_from_their_folders(tmp_path, capsys):
    a = _finished_folder(tmp_path / "results" / "exp1", "default", [0, 1], 17)
    b = _finished_folder(tmp_path / "variants" / "k1", "k1", [1, 1], 40)
    out = tmp_path / "variants"
    assert main(["variants", str(a), str(b), "--out", str(out)]) == 0
    assert "1 of 2  claim 0" in capsys.readouterr().out
    doc = json.loads((out / "variants.json").read_text())
    assert [c["holds_in"] for c in doc["claims"]] == [["k1"], ["default", "k1"]]
    assert doc["variants"]["default"]["folder"] == "../results/exp1"
    assert doc["variants"]["k1"]["map"]["orthogonal"] == {
        "claim": "x and y factorized",
        "holds": 40,
        "settings": 144,
    }
    table = (out / "variants.md").read_text()
    assert "| x and y factorized | 17 of 144 | 40 of 144 |" in table
    assert "[../results/exp1](../results/exp1/report.md)" in table
    assert (
        "| claim 0 | **not reproduced** (0 of 1 seeds) | reproduced (1 of 1 seeds) | 1 of 2 |"
        in (table)
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: [t / "missing"], "has no summary.json"),
        (
            lambda t: [
                _finished_folder(t / "a", "k1", [1], 1),
                _finished_folder(t / "b", "k1", [1], 1),
            ],
            "are both variant 'k1'",
        ),
        (
            lambda t: [
                _finished_folder(t / "a", "k1", [1], 1),
                _finished_folder(t / "b", "default", [1], 1, preset="exp1"),
            ],
            "is preset 'exp1', the others 'exp1-quick'",
        ),
        (
            lambda t: [
                _finished_folder(t / "a", "k1", [1], 1),
                _finished_folder(t / "b", "default", [1, 0], 1),
            ],
            "judges other claims",
        ),
    ],
)
def test_cli_variants_of_bad_folders_exits_2_and_writes_nothing(tmp_path, capsys, make, message):
    folders = make(tmp_path)
    out = tmp_path / "overview"
    assert main(["variants", *map(str, folders), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_failed_variant_is_listed_and_the_others_are_still_analysed(tmp_path, monkeypatch):
    import factordiff.training as training
    from factordiff.experiments.sweep import SweepFailed

    smoke = smoke_config()
    run = apply_overrides(smoke.run, ["train.epochs=1", "train.checkpoint_epochs=[0]"])
    base = replace(smoke, run=run)
    cfgs = {v: apply_variant(base, EXP1_VARIANTS[v]) for v in ("default", "k1")}
    real_train = training.train

    def diverges_with_k1(cfg, run_dir, **kw):
        if cfg.model.num_frequencies == 1:
            raise RuntimeError("loss became nan")
        return real_train(cfg, run_dir, **kw)

    monkeypatch.setattr(training, "train", diverges_with_k1)
    out = tmp_path / "v"
    with pytest.raises(SweepFailed, match="the other variants were analysed"):
        run_variants(
            EXP1, cfgs, out, executor=LocalExecutor(workers=1, threads=1), log=lambda *_: None
        )
    assert (out / "default" / "summary.json").is_file()
    assert not (out / "k1" / "summary.json").exists()
    doc = json.loads((out / "variants.json").read_text())
    assert list(doc["variants"]) == ["default"]
    assert all(c["of"] == 1 for c in doc["claims"])
    assert "loss became nan" in doc["failed"]["k1"]["error"]
    table = (out / "variants.md").read_text()
    assert "## Variants not judged (a run did not finish)" in table
    assert "- `k1` (periodic label encoding with K = 1" in table and "loss became nan" in table
