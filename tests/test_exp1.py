import json
from dataclasses import replace
from pathlib import Path

import pytest

from factordiff.config import apply_overrides
from factordiff.experiments.captions import has_caption, summary_caption
from factordiff.experiments.exp1 import (
    Exp1Config,
    describe_setting,
    render_report,
    run_exp1,
    verdicts,
)
from factordiff.experiments.sweep import LocalExecutor
from factordiff.presets import preset_config

ONE = LocalExecutor(workers=1, threads=1)


def smoke_config() -> Exp1Config:
    run = apply_overrides(
        preset_config("tiny"),
        [
            "data.periodic=true",
            "train.epochs=3",
            "train.checkpoint_epochs=[0,1,2]",
            "train.eval_every_epochs=1",
        ],
    )
    # The map on the tiny model (T = 100): its 5 blocks x 2 t x 2 poolings x 2 noise counts.
    return Exp1Config(
        name="exp1-smoke",
        run=run,
        grid=10,
        n_landmarks=64,
        map_ts=(99, 10),
        map_n_noises=(1, 2),
    )


# ~80 s on 2 cores (two exp1 runs, each with a 40-setting map); CI runs Exp 1 end to end,
# control and map included, through the tiny reproduce (tests/test_reproduce.py).
@pytest.mark.slow
def test_exp1_smoke_writes_every_promised_file(tmp_path):
    cfg = smoke_config()
    out = tmp_path / "exp1"
    summary = run_exp1(cfg, out, executor=ONE, progress=False, command="pytest")
    for name in ("experiment.json", "summary.json", "report.md", "results.csv", "results.parquet"):
        assert (out / name).is_file(), name
    figs = {p.name for p in (out / "figures").iterdir()}
    assert {
        "persistence.png",
        "factorization.png",
        "umap_2d.png",
        "accuracy_effdim.png",
        "pca_spectra.png",
        "pca_3d.png",
    } <= figs
    # the sensitivity map: one heatmap per claim it counts, the counts, the long table
    rules = ["b1_is_2", "orthogonal", "superfactored", "effective_dimension_about_7", "not_aligned"]
    assert {f"map_{r}.png" for r in rules} <= figs
    for f in figs:
        assert (out / "figures" / f).stat().st_size > 2000, f
        assert has_caption(summary["experiment"], f), f
    on_disk = json.loads((out / "summary.json").read_text())
    m = on_disk["sensitivity_map"]
    assert (
        m["rules"] == rules
        and m["n_settings"] == 5 * 2 * 2 * 2 == m["counts"]["orthogonal"]["settings"]
    )
    assert m["settings"]["layers"] == [
        "unet.down_blocks.0",
        "unet.down_blocks.1",
        "unet.mid_block",
        "unet.up_blocks.0",
        "unet.up_blocks.1",
    ]
    assert m["settings"]["control"] == "epoch-00000.pt"
    for r in rules:
        c = m["counts"][r]
        assert 0 <= c["holds"] <= min(c["trained_passes"], c["settings"])
    table = (Path(m["table"][0])).read_text().splitlines()
    assert len(table) == 1 + m["n_settings"] * len(rules)
    for v in on_disk["verdicts"]:
        if v["control_passes"] is not None and v["control_passes"]:
            assert v["reproduced"] is False
    assert on_disk["control"]["metadata"]["epoch"] == 0
    assert [c["epoch"] for c in on_disk["checkpoints"]] == [0, 1, 2, 3]
    assert len(on_disk["verdicts"]) == 5
    assert all(isinstance(v["reproduced"], bool) for v in on_disk["verdicts"])
    # one seed of five needed: every claim is inconclusive, each rule with its interval
    for v in on_disk["verdicts"]:
        assert v["verdict"] == "inconclusive" and v["reproduced"] is False, v["claim"]
        assert len(v["judgements"]) == len(v["rules"]) >= 2
        assert all(j["rule"]["min_seeds"] == 5 for j in v["judgements"])
    assert set(on_disk["references"]) == {"ring_torus", "clifford_torus"}
    report = (out / "report.md").read_text()
    assert "## Verdicts" in report and "figures/pca_3d.png" in report
    assert "## Sensitivity map of the final checkpoint (epoch 3)" in report
    assert "figures/map_orthogonal.png" in report and "control: epoch 0 (untrained)" in report
    assert summary["final_accuracy"] is not None
    # rerunning the same call resumes (nothing to train) and redoes the analysis
    again = run_exp1(cfg, out, executor=ONE, progress=False, command="pytest")
    assert again["checkpoints"][-1]["epoch"] == 3
    assert again["runs"] == summary["runs"]


def _ck(sim, d, betti=(1, 2, 1), orth=False, superf=False, acc=0.5, vc=0.1, epoch=0):
    rule = {"orthogonal_below": 0.2, "superfactored_below": 0.2}
    return {
        "epoch": epoch,
        "accuracy": acc,
        "summary": {
            "effective_dimension": d,
            "topology": {"betti": list(betti)},
            "factorization": {
                "orthogonality_xy": sim,
                "orthogonal": orth,
                "superfactored": superf,
                "value_cosine_x": vc,
                "value_cosine_y": vc,
                "rule": rule,
            },
        },
    }


def test_verdict_rules_say_not_reproduced_plainly():
    cfg = replace(smoke_config())
    # the first checkpoint (epoch 0) is the control: it fails every rule here
    control = _ck(0.6, 3.0, betti=(1, 1, 0))
    good = verdicts([control, _ck(0.3, 5.0), _ck(0.05, 7.5, orth=True, superf=True)], cfg)
    assert [v.reproduced for v in good] == [True, True, True, True, True]
    assert [v.control_passes for v in good] == [False, False, False, None, False]
    assert good[0].control == [1, 1, 0] and good[1].control == 0.6
    bad = verdicts(
        [_ck(0.1, 3.0, betti=(1, 1, 0)), _ck(0.1, 3.0), _ck(0.5, 15.0, betti=(1, 1, 0))], cfg
    )
    assert [v.reproduced for v in bad] == [False, False, False, False, False]
    # a jump straight from start to end is not "gradual"
    jump = verdicts([_ck(0.6, 3.0), _ck(0.6, 3.0), _ck(0.05, 7.0)], cfg)
    assert jump[3].reproduced is False


def test_a_claim_the_control_also_passes_is_not_reproduced():
    cfg = smoke_config()
    final = _ck(0.05, 7.0, orth=True, superf=True)
    # the untrained network (epoch 0) passes every rule too: nothing is reproduced
    control = _ck(0.1, 6.5, orth=True, superf=True)
    # x-on-y 0.1 -> 0.075 -> 0.05: a gradual fall, judged by its own rule
    both = verdicts([control, _ck(0.075, 5.0), final], cfg)
    for i in (0, 1, 2, 4):
        assert both[i].control_passes is True and both[i].reproduced is False, both[i].claim
    assert "control" in both[1].detail["reason"]
    text = render_report(
        {
            "experiment": "exp1-smoke",
            "command": "pytest",
            "wall_seconds": 1.0,
            "train_seconds": 1.0,
            "analysis_seconds": 0.0,
            "device": "cpu",
            "setting": "test",
            "verdicts": [v.to_dict() for v in both],
            "final": final["summary"]
            | {
                "n_components_90": 2,
                "top4_share": 1.0,
                "factorization": final["summary"]["factorization"]
                | {"parallelism_xx": 1.0, "parallelism_yy": 1.0},
            },
            "references": {},
            "checkpoints": [],
        }
    )
    assert "0.1 (passes)" in text and text.count("**not reproduced**") == 4
    # the same final representation against a control that fails: reproduced
    alone = verdicts([_ck(0.6, 12.0, betti=(1, 0, 0)), _ck(0.3, 5.0), final], cfg)
    assert [alone[i].reproduced for i in (0, 1, 2, 4)] == [True] * 4


def test_map_settings_and_control_epoch_are_checked_before_training():
    import pytest

    with pytest.raises(ValueError, match=r"map_ts = \[999\] is invalid: \[999\] outside \[0, 99\]"):
        replace(smoke_config(), map_ts=(999,)).validate()
    with pytest.raises(ValueError, match="map_poolings"):
        replace(smoke_config(), map_poolings=("sum",)).validate()
    with pytest.raises(ValueError, match="map_n_noises"):
        replace(smoke_config(), map_n_noises=(0,)).validate()
    run = apply_overrides(smoke_config().run, ["train.checkpoint_epochs=[1,2]"])
    with pytest.raises(ValueError, match="holding 0"):
        replace(smoke_config(), run=run).validate()
    # without the map, map settings are not needed
    replace(smoke_config(), sensitivity_map=False, map_ts=(999,)).validate()


def map_summary(**settings) -> dict:
    """A sensitivity-map summary of one setting, for the report's map section."""
    base = {"layers": ["a"], "ts": [999], "poolings": ["mean"], "n_noises": [1], "rules": {}}
    return {
        "settings": base | settings,
        "epoch": 3,
        "n_settings": 1,
        "seconds": 60.0,
        "rules": [],
        "per_seed": {"0": {}},
        "figures": {},
    }


def test_map_grid_16_maps_on_16_by_16_and_says_its_homology_is_coarser(monkeypatch):
    from factordiff.analysis import run as analysis_run
    from factordiff.experiments.exp1 import exp1_config, map_section, sensitivity_map_of_run

    paper = exp1_config(quick=False)
    assert (paper.grid, paper.map_grid, paper.map_homology_step) == (32, 0, 2)
    assert exp1_config(quick=True).map_grid == 0  # both presets map on the verdicts' grid
    quick = exp1_config(quick=True, overrides=["map_grid=16", "map_homology_step=1"])
    assert (quick.grid, quick.map_grid, quick.map_homology_step) == (32, 16, 1)
    for bad in (4, True, -1):
        with pytest.raises(ValueError, match=f"map_grid = {bad!r} is invalid"):
            replace(smoke_config(), map_grid=bad).validate()
    seen = {}
    monkeypatch.setattr(analysis_run, "analyze_map", lambda run_dir, **kw: seen.update(kw))
    sensitivity_map_of_run(quick, Path("run"), "cpu")
    assert seen["grid"] == 16 and seen["homology_step"] == 1 and seen["topology"]
    sensitivity_map_of_run(paper, Path("run"), "cpu")
    assert seen["grid"] == 32 and seen["homology_step"] == 2
    # the report says the map's homology is coarser than the verdicts' 32 x 32 grid
    m = map_summary(grid=[16, 16], homology_step=1, homology_points=256, topology=True)
    assert "a coarser grid than the calibrated rule" in "\n".join(map_section(m, "", 32))
    assert "a coarser grid" not in "\n".join(map_section(m, "", 16))


def test_exp1_quick_preset_is_the_setting_of_the_committed_report():
    # docs/results/exp1 was produced by `exp1-quick`; a change to the faster `small` preset
    # must not silently change the setting that report claims.
    root = Path(__file__).resolve().parents[1]
    summary = json.loads((root / "docs/results/exp1/summary.json").read_text())
    quick = preset_config("exp1-quick")
    # the committed run computed in fp32 (an AVX2 CPU, no native bf16); `auto` picks that there
    assert quick.train.precision == "auto"
    assert summary["setting"].startswith("variant `default`")
    assert summary["setting"].endswith(describe_setting(quick, precision="fp32"))
    assert not summary["setting"].endswith(describe_setting(quick, precision="bf16"))
    assert quick.model.attention == (False, False, False, True)
    assert quick.train.ema_decay == 0.995
    # ... while `small` is a different, faster setting (docs/performance.md)
    small = preset_config("small")
    assert small.model.coord_frequencies == 1 and not any(small.model.attention)
    assert not summary["setting"].endswith(describe_setting(small, precision="fp32"))


def test_committed_report_renders_from_its_summary():
    # the committed summary.json (written before the skeleton) still renders: same setting
    # line, the five verdicts and the two tables
    root = Path(__file__).resolve().parents[1]
    summary = json.loads((root / "docs/results/exp1/summary.json").read_text())
    text = render_report(summary)
    # the same page up to the figures, which now carry captions (docs/results/exp1/report.md
    # was written before them)
    committed = (root / "docs/results/exp1/report.md").read_text()
    head = committed.index("## Figures")
    assert text[:head] == committed[:head]
    for name in summary["figures"]:
        assert f"![{name}](figures/{name})\n\n*{summary_caption(summary, name)}*" in text
    assert f"Setting: {summary['setting']}" in text
    assert text.count("**not reproduced**") == 5
    assert "## Terminal checkpoint beside the ideal tori" in text and "## Over training" in text


def test_controls_over_seeds_are_kept_per_seed_and_rendered():
    from factordiff.experiments.report import verdict_table
    from factordiff.experiments.skeleton import combine_seeds

    cfg = smoke_config()
    final = _ck(0.05, 7.0, orth=True, superf=True)
    seed0 = verdicts([_ck(0.6, 12.0, betti=(1, 0, 0)), _ck(0.3, 5.0), final], cfg)
    seed1 = verdicts([_ck(0.1, 12.0, betti=(1, 0, 0), orth=True), _ck(0.3, 5.0), final], cfg)
    both = combine_seeds([seed0, seed1], [0, 1])
    orth = both[1]
    assert orth.control == [0.6, 0.1] and orth.control_passes == [False, True]
    assert orth.reproduced is False and orth.spread["reproduced_in"] == 1
    # two seeds of the five the rules need: inconclusive, whatever the values
    assert {v.verdict for v in both} == {"inconclusive"}
    assert "needs at least 5" in orth.judgements[0]["reason"]
    assert orth.statistics == [[0.05, 0.05], [0.05 - 0.6, 0.05 - 0.1]]
    assert both[3].control_passes is None  # "gradual": no control rule
    lines = verdict_table([v.to_dict() for v in both])
    assert "seed 0: 0.6 (fails); seed 1: 0.1 (passes)" in lines[3]


# ----------------------------------------------------------------------------- rules over seeds
CLAIMS = ("torus", "orthogonal", "superfactored", "gradual", "effective dimension")


def _seed(sim, d, betti, vc, c_sim, c_d=20.0, c_betti=(1, 0, 0), c_vc=0.5, mid=0.5):
    """One seed's checkpoints: epoch 0 (the control), one in between at share ``mid`` of the
    change in x-on-y, and the final one (the trained model)."""
    return [
        _ck(c_sim, c_d, betti=c_betti, orth=c_sim <= 0.2, superf=c_vc <= 0.2, vc=c_vc),
        _ck(c_sim + mid * (sim - c_sim), (c_d + d) / 2, epoch=100),
        _ck(sim, d, betti=betti, orth=sim <= 0.2, superf=vc <= 0.2, vc=vc, epoch=200),
    ]


def _passing(i):
    # orthogonal, superfactored, a torus, D near 7, a gradual fall from an untrained 0.55
    return _seed(0.05 + 0.01 * (i % 3), 7.0 + 0.3 * (i % 2), (1, 2, 1), 0.06, c_sim=0.55)


def _failing(i):
    # x-on-y rises from 0.3 to 0.65 in one jump; values aligned; no loop; D = 2
    return _seed(
        0.65 + 0.01 * (i % 2), 2.0, (1, 0, 0), 0.7 + 0.01 * (i % 3), c_sim=0.3, c_vc=0.2, mid=0
    )


def _judged(runs):
    from factordiff.experiments.skeleton import combine_seeds

    cfg = smoke_config()
    return combine_seeds([verdicts(r, cfg) for r in runs], list(range(len(runs))))


def test_five_seeds_that_all_pass_are_reproduced():
    out = _judged([_passing(i) for i in range(5)])
    assert [v.verdict for v in out] == ["reproduced"] * 5, [v.judgements for v in out]
    assert all(v.reproduced and v.spread["reproduced_in"] == 5 for v in out)
    # each claim: an absolute rule and a paired one against the untrained network
    for v in out:
        assert any(r.control for r in v.rules) and any(r.control is None for r in v.rules)
        assert all(r.min_seeds == 5 for r in v.rules)
        assert all(j["n"] == 5 for j in v.judgements)


def test_five_seeds_that_all_fail_are_not_reproduced():
    out = _judged([_failing(i) for i in range(5)])
    assert [v.verdict for v in out] == ["not reproduced"] * 5, [v.judgements for v in out]
    torus = out[0].judgements
    # b1 = 0 in the trained and the untrained network: both rules on the other side
    assert torus[0]["values"] == [2.0] * 5 and torus[1]["values"] == [0.0] * 5
    assert [j["verdict"] for j in torus] == ["not reproduced"] * 2


def test_seeds_on_both_sides_are_inconclusive():
    out = _judged([_passing(i) if i % 2 == 0 else _failing(i) for i in range(5)])
    assert [v.verdict for v in out] == ["inconclusive"] * 5, [v.judgements for v in out]
    assert all(not v.reproduced and v.spread["reproduced_in"] == 3 for v in out)


def test_fewer_seeds_than_the_minimum_are_inconclusive():
    for n in (1, 3, 4):
        out = _judged([_passing(i) for i in range(n)])
        assert [v.verdict for v in out] == ["inconclusive"] * 5
        assert all("needs at least 5" in j["reason"] for v in out for j in v.judgements)
    cfg = replace(smoke_config(), min_seeds=3)
    from factordiff.experiments.skeleton import combine_seeds

    three = combine_seeds([verdicts(_passing(i), cfg) for i in range(3)], [0, 1, 2])
    assert [v.verdict for v in three] == ["reproduced"] * 5


def test_the_control_is_a_paired_difference_not_a_second_threshold():
    # trained x-on-y 0.1 in every seed; the untrained network 0.15-0.3, passing the 0.2
    # threshold itself in two seeds: the old rule failed those seeds, the paired rule asks
    # whether training lowered it in every pairing
    runs = [_seed(0.1, 7.0, (1, 2, 1), 0.06, c_sim=c) for c in (0.15, 0.18, 0.25, 0.3, 0.28)]
    orth = _judged(runs)[1]
    assert orth.spread["reproduced_in"] == 3
    assert orth.judgements[1]["rule"]["control"].startswith("untrained network")
    assert orth.judgements[1]["values"] == pytest.approx([-0.05, -0.08, -0.15, -0.2, -0.18])
    assert orth.verdict == "reproduced"
    # the same trained values against a control as low or lower: not reproduced
    same = _judged([_seed(0.1, 7.0, (1, 2, 1), 0.06, c_sim=0.1 - 2e-3 * i) for i in range(5)])
    assert same[1].judgements[1]["verdict"] == "not reproduced"
    assert same[1].verdict == "not reproduced"


def test_statistics_of_each_claim_in_one_seed():
    from factordiff.experiments.exp1 import gradual_statistic

    v = verdicts(_seed(0.05, 7.5, (1, 2, 1), 0.06, c_sim=0.55, c_d=20.0, c_vc=0.5), smoke_config())
    stats = dict(zip(CLAIMS, (x.statistics for x in v), strict=True))
    assert stats["torus"] == [0.0, -2.0]  # |2 - 2|, then 0 - |0 - 2|
    assert stats["orthogonal"] == pytest.approx([0.05, -0.5])
    assert stats["superfactored"] == pytest.approx([0.06, 0.06, -0.44, -0.44])
    assert stats["gradual"] == pytest.approx([-0.5, 0.0])
    assert stats["effective dimension"] == pytest.approx([0.5, 0.5 - 13.0])
    assert [len(x.rules) for x in v] == [2, 2, 4, 2, 2]
    assert [r.side for x in v for r in x.rules] == ["below"] * 12
    assert [r.threshold for r in v[4].rules] == [2.0, 0.0]  # the preset's tolerance
    # the gradual statistic: |f - 0.5| of the checkpoint nearest halfway
    assert gradual_statistic([0.6, 0.3, 0.05]) == pytest.approx(abs(0.3 / 0.55 - 0.5))
    assert gradual_statistic([0.6, 0.6, 0.05]) == pytest.approx(0.5)  # a jump: not < 0.4
    assert gradual_statistic([0.6, 0.05]) is None  # no checkpoint in between
    assert gradual_statistic([0.3, 0.5, 0.3]) is None  # no change
    # no persistent homology: the torus statistics are undefined in that seed
    run = _seed(0.05, 7.5, (1, 2, 1), 0.06, c_sim=0.55)
    for c in run:
        c["summary"]["topology"] = None
    assert verdicts(run, smoke_config())[0].statistics == [None, None]


def test_presets_give_five_seeds_and_refuse_a_bad_minimum():
    from factordiff.experiments.exp1 import EXP1, exp1_config

    for quick in (True, False):
        cfg = exp1_config(quick=quick)
        assert cfg.seeds == (0, 1, 2, 3, 4) and cfg.min_seeds == 5
        assert len(EXP1.runs(cfg)) == 5
    tiny = EXP1.config("exp1-tiny")
    assert tiny.min_seeds == 5 and tiny.seed_list() == [0]  # one seed: inconclusive
    assert exp1_config(seed=3).seed_list() == [3]  # --seed: the one run of that seed
    assert exp1_config(seeds=[1, 2]).seed_list() == [1, 2]
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match=f"min_seeds = {bad!r} is invalid"):
            replace(smoke_config(), min_seeds=bad).validate()


def test_run_figures_is_checked_and_the_tiny_preset_draws_the_last_checkpoint_only(
    exp1_tiny_finished,
):
    from factordiff.experiments.exp1 import exp1_config

    assert exp1_config(quick=True).run_figures == "every"
    for bad in ("all", "", None):
        with pytest.raises(ValueError, match=f"run_figures = {bad!r} is invalid; allowed"):
            replace(smoke_config(), run_figures=bad).validate()
    (analysis,) = (exp1_tiny_finished / "runs").glob("*/analysis/*_t*_*")
    drawn = sorted(p.parent.name for p in analysis.glob("epoch-*/*.png"))
    epochs = sorted(p.name for p in analysis.glob("epoch-*"))
    assert len(epochs) == 4 and set(drawn) == {epochs[-1]}
    assert (analysis / "training_curve.png").exists()


def test_map_seeds_maps_the_first_seeds_and_the_report_says_which():
    from factordiff.experiments.exp1 import exp1_config, map_section

    quick = exp1_config(quick=True)
    assert quick.map_seeds == 1 and [s for s in quick.seed_list() if quick.mapped(s)] == [0]
    every = exp1_config(quick=True, overrides=["map_seeds=0"])
    assert all(every.mapped(s) for s in every.seed_list())
    two = exp1_config(quick=True, seeds=[3, 1, 4], overrides=["map_seeds=2"])
    assert [s for s in two.seed_list() if two.mapped(s)] == [3, 1]
    assert not replace(quick, sensitivity_map=False).mapped(0)
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match=f"map_seeds = {bad!r} is invalid"):
            replace(smoke_config(), map_seeds=bad).validate()
    m = map_summary(grid=[8, 8], homology_step=1, homology_points=0, topology=False) | {
        "seeds": [0],
        "of_seeds": [0, 1, 2],
    }
    text = "\n".join(map_section(m, ""))
    assert "Mapped: seed 0 of the sweep's 0, 1, 2 (`map_seeds = 1`" in text
    assert "Mapped:" not in "\n".join(map_section(m | {"of_seeds": [0]}, ""))
