import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from factordiff.cli import main
from factordiff.data import build_labels, build_regions, render_images
from factordiff.experiments import resolve_experiment
from factordiff.experiments.captions import has_caption
from factordiff.experiments.exp2 import (
    CLAIMS,
    PARTS,
    Exp2Config,
    claim_rules,
    claim_verdicts,
    classify_outcome,
    evaluate_run_sections,
    exp2_config,
    lesion_data,
    main_data,
    plus_eval_data,
    run_exp2,
    section_conditions,
    section_scores,
    seen_coordinates,
    sweep_runs,
)
from factordiff.experiments.judgement import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED
from factordiff.experiments.sweep import LocalExecutor, plan_sweep
from factordiff.plotting import SEED_GID

ONE = LocalExecutor(workers=1, threads=1)


# ----------------------------------------------------------------------------- outcomes
def _sec(x, y, x_seen, y_seen, n=64):
    return {"x_accuracy": x, "y_accuracy": y, "x_seen": x_seen, "y_seen": y_seen, "n": n}


def _model(novel_acc: float, seen_acc: float, ref: float = 1.0) -> dict:
    """A 2D-with-hole model: x novel in the vertical section, y in the horizontal one."""
    return {
        "in_distribution": _sec(ref, ref, 1.0, 1.0),
        "hole_vertical": _sec(novel_acc, seen_acc, 0.0, 1.0),
        "hole_horizontal": _sec(seen_acc, novel_acc, 1.0, 0.0),
        "hole_intersection": _sec(novel_acc, novel_acc, 0.0, 0.0),
    }


@pytest.mark.parametrize(
    "novel, seen, composes, interpolates, label",
    [
        (0.9, 0.95, True, True, "composes, interpolates"),
        (0.05, 0.9, True, False, "composes, does not interpolate"),
        (0.9, 0.1, False, True, "does not compose, interpolates"),
        (0.1, 0.1, False, False, "does not compose, does not interpolate"),
    ],
)
def test_classifier_gives_each_of_the_four_outcomes(novel, seen, composes, interpolates, label):
    out = classify_outcome(_model(novel, seen))
    assert out["composes"] is composes
    assert out["interpolates"] is interpolates
    assert out["outcome"] == label
    assert out["reference"] == pytest.approx(1.0)
    assert out["composition"] == pytest.approx(seen)
    assert out["interpolation"] == pytest.approx(novel)


def test_classifier_threshold_is_relative_to_the_reference_and_needs_a_learned_model():
    # reference 0.8: 0.45 >= 0.5 * 0.8 composes; 0.35 < 0.4 does not interpolate
    out = classify_outcome(_model(0.35, 0.45, ref=0.8))
    assert (out["composes"], out["interpolates"]) == (True, False)
    # a model that has not learned its reference (0.3 < 0.5) is classified as neither
    out = classify_outcome(_model(0.3, 0.3, ref=0.3))
    assert (out["composes"], out["interpolates"]) == (False, False)
    # nor is one that draws every y right and every x wrong in distribution (r = 0.5)
    lopsided = _model(0.9, 0.9)
    lopsided["in_distribution"] = _sec(0.0, 1.0, 1.0, 1.0)
    out = classify_outcome(lopsided)
    assert out["reference"] == 0.5 and not out["learned"]
    assert (out["composes"], out["interpolates"]) == (False, False)
    # a model that saw every value (stripes) has no interpolation test
    secs = {k: {**v, "x_seen": 1.0, "y_seen": 1.0} for k, v in _model(0.9, 0.9).items()}
    out = classify_outcome(secs)
    assert out["interpolates"] is None and out["composes"] is True
    assert out["outcome"] == "composes, interpolate not tested"
    # an empty reference (NaN, None once read back from JSON) is not a learned model
    empty = {**_model(0.9, 0.9), "in_distribution": _sec(None, None, 1.0, 1.0, n=0)}
    out = classify_outcome(empty)
    assert out["reference"] is None and (out["composes"], out["interpolates"]) == (False, False)
    with pytest.raises(ValueError, match="reference"):
        classify_outcome(secs, reference="nowhere")


# ----------------------------------------------------------------------------- per section
def test_section_scores_on_hand_made_images_with_known_answers():
    cfg = plus_eval_data(16)  # band 6.5 to 9.5
    conds = {
        "in_distribution": np.array([[2.5, 3.5], [12.5, 13.5]]),
        "hole_vertical": np.array([[7.5, 2.5], [8.5, 12.5]]),
        "hole_intersection": np.array([[7.5, 8.5]]),
    }
    # what the "model" drew: exact SOS, except x moved 4 px in the second vertical image
    # and a blank image in the intersection
    drawn = np.array([[2.5, 3.5], [12.5, 13.5], [7.5, 2.5], [12.5, 12.5], [7.5, 8.5]])
    images = render_images(drawn, cfg)[:, 0].numpy()
    images[4] = -1.0  # blank: neither stripe
    train = build_labels(cfg, seed=0).labels  # 2D SOS with the hole
    secs, ok = section_scores(images, conds, cfg, cfg, train)
    assert ok.tolist() == [True, True, True, False, False]
    assert secs["in_distribution"] == {
        "n": 2,
        "accuracy": 1.0,
        "x_accuracy": 1.0,
        "y_accuracy": 1.0,
        "x_seen": 1.0,
        "y_seen": 1.0,
    }
    v = secs["hole_vertical"]
    assert (v["accuracy"], v["x_accuracy"], v["y_accuracy"]) == (0.5, 0.5, 1.0)
    assert (v["x_seen"], v["y_seen"]) == (0.0, 1.0)  # band x never shown in training
    i = secs["hole_intersection"]
    assert (i["accuracy"], i["x_accuracy"], i["y_accuracy"]) == (0.0, 0.0, 0.0)
    assert (i["x_seen"], i["y_seen"]) == (0.0, 0.0)
    # the same conditions are seen on both axes by a model trained with 1D stripes
    stripes = main_data("1d", 16)
    seen = seen_coordinates(
        np.concatenate(list(conds.values())), build_labels(stripes, 0).labels, stripes
    )
    assert seen.all()


def test_seen_coordinates_of_bumps_need_a_visible_bump():
    # bumps + stripes: a bump outside the frame shows nothing, a 1D stripe shows its axis
    from factordiff.experiments.exp2 import subsampling_data

    cfg = subsampling_data(1.0, 16, stripes_too=False)
    train = np.array([[-1.5, 4.5], [20.0, 20.0]])  # a horizontal stripe at y 4.5; a blank
    seen = seen_coordinates(np.array([[4.5, 4.5], [20.0, 20.0]]), train, cfg)
    assert seen.tolist() == [[False, True], [False, False]]


def test_section_conditions_lie_in_their_sections():
    cfg = plus_eval_data(16)
    regions = build_regions(cfg)
    names = ["in_distribution", "hole_vertical", "hole_horizontal", "hole_intersection"]
    conds = section_conditions(cfg, names, 10, seed=3)
    for name in names:
        assert conds[name].shape == (10, 2)
        assert regions[name].contains(conds[name]).all(), name
    again = section_conditions(cfg, names, 10, seed=3)
    assert all(np.array_equal(conds[k], again[k]) for k in names)
    # a band 0.5 px wide centred between two columns holds no lattice label: continuous
    # labels in it (the old lesion of 1 px at N = 32 scaled to N = 16)
    thin = replace(lesion_data(1, 16), hole="lesion", hole_rects=(), hole_width=0.5)
    c = section_conditions(thin, ["held_out"], 5, seed=0)["held_out"]
    assert c.shape == (5, 2)
    assert np.all(np.abs(c[:, 0] - 8.0) <= 0.25 + 1e-9)
    with pytest.raises(ValueError, match="not regions"):
        section_conditions(cfg, ["nowhere"], 2, seed=0)


# ----------------------------------------------------------------------------- sweep
@pytest.mark.defaults  # the setting line states the precision `auto` picks here
def test_quick_sweep_is_scaled_on_one_step_budget(tmp_path):
    cfg = exp2_config("exp2-quick")
    runs = sweep_runs(cfg)
    parts = [p["part"] for p, _ in runs]
    # every claim's minimum of seeds, on the main comparison and on every curve
    assert cfg.min_seeds == 3 and cfg.seeds == (0, 1, 2) and cfg.curve_seed_list() == [0, 1, 2]
    assert parts.count("main") == 3 * len(cfg.seeds)
    assert parts.count("rim") == len(cfg.seeds)
    curves = len(cfg.curve_seed_list())
    assert parts.count("subsampling") == len(cfg.sampling_rates) * curves
    assert parts.count("lesion") == len(cfg.lesion_columns) * curves
    assert parts.count("squares") == 2 * 2 * len(cfg.square_widths) * curves
    assert len(runs) == 60
    assert {rc.train.max_steps for _, rc in runs} == {800}
    assert {rc.train.batch_size for _, rc in runs} == {64}
    assert {rc.data.image_size for _, rc in runs} == {16}
    by = {(p["part"], p.get("model"), p.get("columns"), p["seed"]): rc.data for p, rc in runs}
    plus = by[("main", "2d", None, 0)]
    assert (plus.hole_low, plus.hole_high) == (6.5, 9.5)
    assert by[("main", "1d", None, 0)].margin == 3 and by[("main", "1d", None, 0)].rim_width == 1
    assert by[("rim", "1d-norim", None, 0)].rim_width == 0
    bands = [by[("lesion", None, k, 0)].hole_rects for k in range(5)]
    assert bands == [()] + [((lo, hi, 0.0, 16.0),) for lo, hi in ((7, 8), (7, 9), (6, 9), (6, 10))]
    planned = plan_sweep(tmp_path, runs)  # every config valid, every folder distinct
    assert len({r.key for r in planned}) == len(runs)
    assert "N = 16 instead of 32" in resolve_experiment("exp2", quick=True)[0].describe_setting(cfg)


def test_config_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="parts"):
        exp2_config("exp2-smoke", overrides=["parts=[nothing]"])
    with pytest.raises(ValueError, match="max_steps"):
        exp2_config("exp2-smoke", overrides=["run.train.max_steps=0"])
    for bad in ("[0]", "[0,1]", "[1,1,2]", "[0,1,16]", "[-1,1,2]"):
        with pytest.raises(ValueError, match="lesion_columns"):
            exp2_config("exp2-smoke", overrides=[f"lesion_columns={bad}"])
    with pytest.raises(ValueError, match="rim_width"):
        exp2_config("exp2-smoke", overrides=["rim_width=8"])
    with pytest.raises(ValueError, match="unknown preset"):
        exp2_config("exp2-huge")
    for bad in ("0", "-1", "true"):
        with pytest.raises(ValueError, match="min_seeds"):
            exp2_config("exp2-smoke", overrides=[f"min_seeds={bad}"])
    exp, preset = resolve_experiment("exp2", quick=True)
    assert (exp.name, preset) == ("exp2", "exp2-quick")


def test_cli_dry_run_lists_the_sweep(tmp_path, capsys):
    assert main(["experiment", "exp2", "--quick", "--dry-run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "would write" in out and "with 60 run(s)" in out
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- verdicts
def _result(part, seed, spaces, **params):
    run = SimpleNamespace(params={"part": part, "seed": seed, **params})
    return {"run": run, "evaluation": {"spaces": spaces, "held_out_lattice_labels": 0}}


def _own(held_out: float) -> dict:
    return {"own": {"sections": {"held_out": {"accuracy": held_out}}}}


def test_verdict_rules_on_hand_made_results():
    cfg = replace(Exp2Config(), parts=("lesion", "squares"), seeds=(0, 1, 2))
    cfg = replace(cfg, lesion_columns=(0, 1, 2, 4), square_widths=(4.0, 12.0))
    results = []
    for s in cfg.seeds:
        curve = ((0, 1.0), (1, 0.9), (2, 0.5), (4, 0.1))
        results += [_result("lesion", s, _own(a), columns=k) for k, a in curve]
    inner = {4.0: 0.8, 12.0: 0.6}
    outer = {4.0: 0.5, 12.0: 0.3}
    for s in cfg.seeds:
        for kind in cfg.square_kinds:
            for w in cfg.square_widths:
                results.append(
                    _result("squares", s, _own(inner[w]), kind=kind, position="interior", width=w)
                )
                results.append(
                    _result("squares", s, _own(outer[w]), kind=kind, position="exterior", width=w)
                )
    lesion, squares = claim_verdicts(cfg, results)
    # the 0-column run is shown beside the curve, not judged: 1 column minus 4 columns
    assert lesion.reproduced and lesion.value == [[1.0, 0.9, 0.5, 0.1]] * 3
    assert lesion.statistics == [[pytest.approx(0.8)] * 3, [pytest.approx(-1.0)] * 3]
    assert squares.reproduced and squares.value == [pytest.approx(0.3)] * 3
    assert squares.judgements[0]["rule"]["control"].startswith("the exterior square")
    # one seed is below the minimum of 3: inconclusive, though its per-run rule holds
    seed0 = [r for r in results if r["run"].params["seed"] == 0]
    one = claim_verdicts(replace(cfg, seeds=(0,)), seed0)
    assert [v.verdict for v in one] == [INCONCLUSIVE] * 2
    assert all(v.statistics and not v.reproduced for v in one)
    # a flat lesion curve is not a decline: the drop is 0 in every seed, rho undefined
    flat = [_result("lesion", s, _own(0.5), columns=k) for s in (0, 1, 2) for k in (0, 1, 2, 4)]
    (v,) = claim_verdicts(replace(cfg, parts=("lesion",)), flat)
    assert v.verdict == NOT_REPRODUCED and not v.reproduced
    assert [j["n"] for j in v.judgements] == [3, 0]


def test_claim_rules_state_statistic_threshold_side_and_minimum():
    cfg = exp2_config("exp2-quick")
    rules = claim_rules(cfg)
    assert tuple(rules) == CLAIMS
    every = [r for rs in rules.values() for r in rs]
    assert {r.min_seeds for r in every} == {3}
    sides = {k: [(r.side, r.threshold) for r in rs] for k, rs in rules.items()}
    assert sides == {
        "compose": [("above", 0.0), ("above", 0.0), ("above", 0.5), ("above", 0.5)],
        "no_interpolation": [("below", 0.0), ("above", 0.5)],
        "restore": [("above", 0.2)],
        "rim": [("above", 0.2)],
        "lesion": [("above", 0.2), ("below", -0.5)],
        "squares": [("above", 0.1)],
    }
    # the paired controls
    assert [k for k, rs in rules.items() if any(r.control for r in rs)] == [
        "restore",
        "rim",
        "squares",
    ]
    # the thresholds and the minimum come from the config, never from the outcome
    other = replace(cfg, min_difference=0.3, min_seeds=4, outcome_ratio=0.6)
    assert claim_rules(other)["rim"][0].threshold == 0.3
    assert {r.min_seeds for rs in claim_rules(other).values() for r in rs} == {4}
    assert "0.6 x reference" in claim_rules(other)["compose"][0].statistic


def test_classifier_margins_are_the_statistics_of_the_rule():
    out = classify_outcome(_model(0.35, 0.45, ref=0.8))
    assert out["reference_min"] == pytest.approx(0.8)
    assert out["composition_margin"] == pytest.approx(0.45 - 0.4)  # composes: > 0
    assert out["interpolation_margin"] == pytest.approx(0.35 - 0.4)  # no interpolation: < 0
    lopsided = _model(0.9, 0.9)
    lopsided["in_distribution"] = _sec(0.0, 1.0, 1.0, 1.0)
    assert classify_outcome(lopsided)["reference_min"] == 0.0
    empty = {**_model(0.9, 0.9), "in_distribution": _sec(None, None, 1.0, 1.0, n=0)}
    out = classify_outcome(empty)
    assert (out["reference_min"], out["composition_margin"]) == (None, None)
    secs = {k: {**v, "x_seen": 1.0, "y_seen": 1.0} for k, v in _model(0.9, 0.9).items()}
    assert classify_outcome(secs)["interpolation_margin"] is None  # no interpolation test


def _plus(sections: dict) -> dict:
    full = {
        k: {**v, "accuracy": min(v["x_accuracy"], v["y_accuracy"])} for k, v in sections.items()
    }
    return {"sections": full, "outcome": classify_outcome(full)}


def _rim(held_out: float) -> dict:
    return {"sections": {"held_out": {"accuracy": held_out}}}


def _seen_all(acc: float) -> dict:
    """A stripe model's plus-hole sections: every coordinate seen, accuracy ``acc``."""
    return {k: {**v, "x_seen": 1.0, "y_seen": 1.0} for k, v in _model(acc, acc).items()}


def _seed_results(seed: int, passes: bool, jitter: float = 0.0) -> list[dict]:
    """Every run of one seed for the six claims, each claim's statistics on its predicted
    side (``passes``) or on the other side, moved by ``jitter``."""
    j = jitter
    if passes:
        novel, stripes, rim, lesion = 0.05 + j, 0.9 - j, (0.8 - j, 0.1), (1, 0.9, 0.5, 0.1 + j)
        inner, outer = 0.8 - j, 0.5
    else:
        novel, stripes, rim, lesion = 0.9 - j, 0.1 + j, (0.1, 0.8 - j), (1, 0.1 + j, 0.5, 0.9)
        inner, outer = 0.3 + j, 0.8
    out = [
        _result("main", seed, {"plus": _plus(_model(novel, 0.9))}, model="2d"),
        _result("main", seed, {"plus": _plus(_seen_all(stripes)), "rim": _rim(rim[0])}, model="1d"),
        _result("main", seed, {"plus": _plus(_seen_all(stripes))}, model="2d+1d"),
        _result("rim", seed, {"rim": _rim(rim[1])}, model="1d-norim"),
    ]
    out += [_result("lesion", seed, _own(a), columns=k) for k, a in zip((0, 1, 2, 4), lesion)]
    for kind in ("bump", "sos"):
        for w in (4.0, 12.0):
            for pos, a in (("interior", inner), ("exterior", outer)):
                out.append(_result("squares", seed, _own(a), kind=kind, position=pos, width=w))
    return out


def _six(seeds, passes) -> list:
    cfg = replace(Exp2Config(), parts=PARTS[:2] + ("lesion", "squares"), seeds=tuple(seeds))
    cfg = replace(cfg, lesion_columns=(0, 1, 2, 4), square_widths=(4.0, 12.0))
    results = []
    for i, (s, p) in enumerate(zip(seeds, passes)):
        results += _seed_results(s, p, jitter=0.02 * i)
    return claim_verdicts(cfg, results)


@pytest.mark.parametrize(
    "seeds, passes, expected",
    [
        ((0, 1, 2), (True, True, True), REPRODUCED),  # every interval on the claim's side
        ((0, 1, 2), (False, False, False), NOT_REPRODUCED),  # every interval on the other
        ((0, 1, 2), (True, True, False), INCONCLUSIVE),  # the intervals straddle
        ((0, 1), (True, True), INCONCLUSIVE),  # fewer seeds than the minimum of 3
    ],
)
def test_six_claims_over_seeds_give_three_answers(seeds, passes, expected):
    verdicts = _six(seeds, passes)
    assert len(verdicts) == 6
    for v in verdicts:
        assert v.verdict == expected, (v.claim, [j["verdict"] for j in v.judgements])
        assert v.reproduced is (expected == REPRODUCED)
        assert v.spread["reproduced_in"] == sum(passes)  # the per-run rule, seed by seed
        assert all(j["n"] == len(seeds) for j in v.judgements)
        assert "over seeds: the two-sided 90% Student-t interval" in v.rule
    if len(seeds) < 3:
        assert "needs at least 3" in verdicts[0].judgements[0]["reason"]


def test_main_verdicts_need_a_learned_reference_and_pair_the_rim():
    # the 2d model draws little right in distribution: "does not interpolate" cannot be
    # read from it, whatever its interpolation accuracy
    results = []
    for s in (0, 1, 2):
        seed = _seed_results(s, True, jitter=0.01 * s)
        unlearned = _model(0.05, 0.05, ref=0.2 + 0.01 * s)
        seed[0] = _result("main", s, {"plus": _plus(unlearned)}, model="2d")
        results += seed
    cfg = replace(Exp2Config(), parts=("main", "rim"), seeds=(0, 1, 2))
    comp, interp, restore, rim = claim_verdicts(cfg, results)
    assert comp.verdict == REPRODUCED
    assert [j["verdict"] for j in interp.judgements] == [REPRODUCED, NOT_REPRODUCED]
    assert interp.verdict == NOT_REPRODUCED and interp.spread["reproduced_in"] == 0
    # the rim claim is the paired difference with - without, per seed
    assert rim.statistics == [[pytest.approx(0.7), pytest.approx(0.69), pytest.approx(0.68)]]
    assert rim.judgements[0]["rule"]["control"].startswith("the 1d model without the rim")
    assert rim.verdict == REPRODUCED and restore.verdict == REPRODUCED


# ----------------------------------------------------------------------------- smoke
def test_exp2_smoke_writes_every_promised_file(tmp_path):
    cfg = exp2_config("exp2-smoke")
    out = tmp_path / "exp2"
    summary = run_exp2(cfg, out, executor=ONE, progress=False, command="pytest")
    for name in ("experiment.json", "summary.json", "report.md", "results.csv", "results.parquet"):
        assert (out / name).is_file(), name
    figs = {p.name for p in (out / "figures").iterdir()}
    assert figs == {
        "section_accuracy.png",
        "grid_2d.png",
        "grid_1d.png",
        "grid_2d_1d.png",
        "grid_rim_1d.png",
        "grid_rim_1d-norim.png",
        "lesion_width.png",
        "squares.png",
        "sampling_rate.png",
    }
    assert all(has_caption(summary["experiment"], f) for f in summary["figures"])
    import pandas as pd

    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 10  # 3 main, 1 without rim, 1 rate, 3 lesions (0-2 columns), 2 squares
    assert {
        "plus.hole_vertical.x_accuracy",
        "plus.outcome.composes",
        "own.held_out.accuracy",
    } <= set(table.columns)
    assert set(table["config.train.max_steps"]) == {3}
    on_disk = json.loads((out / "summary.json").read_text())
    claims = [v["claim"] for v in on_disk["verdicts"]]
    assert len(claims) == 6 and all(isinstance(v["reproduced"], bool) for v in on_disk["verdicts"])
    # one seed against a minimum of 3: every claim inconclusive, each rule's interval stored
    for v in on_disk["verdicts"]:
        assert v["verdict"] == "inconclusive" and not v["reproduced"], v
        assert v["judgements"] and all(j["rule"]["min_seeds"] == 3 for j in v["judgements"])
    report = (out / "report.md").read_text()
    assert "## Outcome rule" in report and "figures/grid_2d.png" in report
    assert "N = 16 instead of 32" in report
    assert "## Lesions and rim on the lattice" in report and "23.4% of the frame's 2D" in report
    assert "Machine: " in report and "cores" in report
    # each run's evaluation keeps its grid arrays and is reused while nothing changed
    run = next(r for r in summary["runs"] if r["params"]["model"] == "2d" if "model" in r["params"])
    folder = out / "runs" / run["key"] / "exp2"
    z = np.load(folder / "plus.npz")
    assert z["images"].shape == (16, 16, 16) and list(z["section_names"])[1] == "hole_vertical"
    stamp = (folder / "evaluation.json").stat().st_mtime_ns
    from factordiff.experiments.sweep import plan_sweep as plan

    swept = plan(out, sweep_runs(cfg))
    one = next(r for r in swept if r.key == run["key"])
    again = evaluate_run_sections(cfg, one, "cpu")
    assert (folder / "evaluation.json").stat().st_mtime_ns == stamp
    assert again["spaces"]["plus"]["sections"]["hole_vertical"]["n"] == cfg.samples_per_section


def test_accuracy_curves_plot_one_list_per_seed():
    from factordiff.experiments.exp2.figures import plot_accuracy_curves

    fig = plot_accuracy_curves(
        {
            "one seed": ([1, 2, 3], [0.9, 0.5, 0.1]),
            "three": ([1, 2, 3], [[1, 0, 0]] * 2 + [[1, None, 0]]),
        },
        "width",
        "lesion",
    )
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["one seed", "three: mean of 3 seeds (dots: each)"]
    mean = ax.lines[1].get_ydata()  # the mean over seeds, a missing value left out
    assert list(mean) == [1.0, 0.0, 0.0] and len(ax.lines) == 2 + 3  # a dot row per seed
    assert sum(line.get_gid() == SEED_GID for line in ax.lines) == 3


def test_image_grid_names_its_rows_readably_and_has_a_key():
    from factordiff.experiments.exp2.figures import plot_image_grid

    rng = np.random.default_rng(0)
    names = ["in_distribution", "hole_vertical", "hole_horizontal", "hole_intersection"]
    section = np.repeat(np.arange(4), 16)
    correct = np.arange(64) % 5 > 0
    fig = plot_image_grid(
        rng.uniform(-1, 1, (64, 16, 16)),
        rng.uniform(0, 16, (64, 2)),
        correct,
        section,
        names,
        "2d+1d model (seed 0)",
        per_row=16,
        tolerance_px=1.0,
    )
    rows = [ax for ax in fig.axes if ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in rows] == [
        "in distribution",
        "vertical",
        "horizontal",
        "intersection",
    ]
    assert all(ax.yaxis.label.get_fontsize() >= 8 for ax in rows)
    # the key says what the red + and the green and red frames mean
    (key,) = fig.legends
    texts = [t.get_text() for t in key.get_texts()]
    assert len(texts) == 3 and "target" in texts[0]
    assert "green frame" in texts[1] and "within 1 px" in texts[1] and "red frame" in texts[2]
