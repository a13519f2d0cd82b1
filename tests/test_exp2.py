import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from factordiff.cli import main
from factordiff.data import build_labels, build_regions, render_images
from factordiff.experiments import resolve_experiment
from factordiff.experiments.exp2 import (
    Exp2Config,
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
from factordiff.experiments.sweep import LocalExecutor, plan_sweep

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
    # a lesion 0.5 px wide (1 px at N = 32) holds no lattice label: continuous labels in it
    thin = lesion_data(1.0, 16)
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
    assert parts.count("main") == 3 * len(cfg.seeds) and len(cfg.seeds) >= 2
    assert parts.count("rim") == len(cfg.seeds)
    assert parts.count("subsampling") == len(cfg.sampling_rates)
    assert parts.count("lesion") == len(cfg.lesion_widths)
    assert parts.count("squares") == 2 * 2 * len(cfg.square_widths)
    assert {rc.train.max_steps for _, rc in runs} == {800}
    assert {rc.train.batch_size for _, rc in runs} == {64}
    assert {rc.data.image_size for _, rc in runs} == {16}
    by = {(p["part"], p.get("model"), p.get("width"), p["seed"]): rc.data for p, rc in runs}
    plus = by[("main", "2d", None, 0)]
    assert (plus.hole_low, plus.hole_high) == (6.5, 9.5)
    assert by[("main", "1d", None, 0)].margin == 3 and by[("main", "1d", None, 0)].rim_width > 0
    assert by[("rim", "1d-norim", None, 0)].rim_width == 0
    assert sorted(by[("lesion", None, w, 0)].hole_width for w in (1.0, 3.5, 8.0)) == [
        0.5,
        1.75,
        4.0,
    ]
    planned = plan_sweep(tmp_path, runs)  # every config valid, every folder distinct
    assert len({r.key for r in planned}) == len(runs)
    assert "N = 16 instead of 32" in resolve_experiment("exp2", quick=True)[0].describe_setting(cfg)


def test_config_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="parts"):
        exp2_config("exp2-smoke", overrides=["parts=[nothing]"])
    with pytest.raises(ValueError, match="max_steps"):
        exp2_config("exp2-smoke", overrides=["run.train.max_steps=0"])
    with pytest.raises(ValueError, match="lesion_widths"):
        exp2_config("exp2-smoke", overrides=["lesion_widths=[0]"])
    with pytest.raises(ValueError, match="unknown preset"):
        exp2_config("exp2-huge")
    exp, preset = resolve_experiment("exp2", quick=True)
    assert (exp.name, preset) == ("exp2", "exp2-quick")


def test_cli_dry_run_lists_the_sweep(tmp_path, capsys):
    assert main(["experiment", "exp2", "--quick", "--dry-run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "would write" in out and "with 22 run(s)" in out
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- verdicts
def _result(part, seed, spaces, **params):
    run = SimpleNamespace(params={"part": part, "seed": seed, **params})
    return {"run": run, "evaluation": {"spaces": spaces, "held_out_lattice_labels": 0}}


def _own(held_out: float) -> dict:
    return {"own": {"sections": {"held_out": {"accuracy": held_out}}}}


def test_verdict_rules_on_hand_made_results():
    cfg = replace(Exp2Config(), parts=("lesion", "squares"), seeds=(0,))
    cfg = replace(cfg, lesion_widths=(1.0, 3.5, 8.0), square_widths=(4.0, 12.0))
    results = [
        _result("lesion", 0, _own(a), width=w) for w, a in ((1.0, 0.9), (3.5, 0.5), (8.0, 0.1))
    ]
    inner = {4.0: 0.8, 12.0: 0.6}
    outer = {4.0: 0.5, 12.0: 0.3}
    for kind in cfg.square_kinds:
        for w in cfg.square_widths:
            results.append(
                _result("squares", 0, _own(inner[w]), kind=kind, position="interior", width=w)
            )
            results.append(
                _result("squares", 0, _own(outer[w]), kind=kind, position="exterior", width=w)
            )
    lesion, squares = claim_verdicts(cfg, results)
    assert lesion.reproduced and lesion.value == [0.9, 0.5, 0.1]
    assert squares.reproduced and squares.value == pytest.approx(0.3)
    # a flat lesion curve is not a decline
    flat = [_result("lesion", 0, _own(0.5), width=w) for w in (1.0, 3.5, 8.0)]
    assert not claim_verdicts(replace(cfg, parts=("lesion",)), flat)[0].reproduced


def _plus(sections: dict) -> dict:
    full = {
        k: {**v, "accuracy": min(v["x_accuracy"], v["y_accuracy"])} for k, v in sections.items()
    }
    return {"sections": full, "outcome": classify_outcome(full)}


def _rim(held_out: float) -> dict:
    return {"sections": {"held_out": {"accuracy": held_out}}}


def test_main_verdicts_over_two_seeds_on_hand_made_results():
    cfg = replace(Exp2Config(), parts=("main", "rim"), seeds=(0, 1))
    seen_all = {k: {**v, "x_seen": 1.0, "y_seen": 1.0} for k, v in _model(0.9, 0.9).items()}
    results = []
    for s in (0, 1):
        results += [
            _result("main", s, {"plus": _plus(_model(0.05, 0.9))}, model="2d"),
            _result("main", s, {"plus": _plus(seen_all), "rim": _rim(0.8)}, model="1d"),
            _result("main", s, {"plus": _plus(seen_all)}, model="2d+1d"),
            _result("rim", s, {"rim": _rim(0.8 if s else 0.1)}, model="1d-norim"),
        ]
    comp, interp, restore, rim = claim_verdicts(cfg, results)
    assert comp.reproduced and comp.spread["seeds"] == [0, 1]
    assert interp.reproduced and interp.value == [pytest.approx(0.05)] * 2
    assert restore.reproduced  # hole accuracy 0.05 -> 0.9
    # the rim matters for seed 0 only: not reproduced over seeds, 1 of 2
    assert not rim.reproduced and rim.spread["reproduced_in"] == 1


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
    import pandas as pd

    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 9  # 3 main, 1 without rim, 1 rate, 2 lesion widths, 2 squares
    assert {
        "plus.hole_vertical.x_accuracy",
        "plus.outcome.composes",
        "own.held_out.accuracy",
    } <= set(table.columns)
    assert set(table["config.train.max_steps"]) == {3}
    on_disk = json.loads((out / "summary.json").read_text())
    claims = [v["claim"] for v in on_disk["verdicts"]]
    assert len(claims) == 6 and all(isinstance(v["reproduced"], bool) for v in on_disk["verdicts"])
    report = (out / "report.md").read_text()
    assert "## Outcome rule" in report and "figures/grid_2d.png" in report
    assert "N = 16 instead of 32" in report
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
