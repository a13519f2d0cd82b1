"""The percolation onset rules calibrated on the simulation (2026-12-06): the simulated onset,
the two statistics on known values, the share grids, and the rules fed the simulation's own
curves as if they were a model's accuracy."""

import json
import math

import numpy as np
import pytest

from factordiff.experiments.percolation import (
    PercolationExpConfig,
    PercolationExperiment,
    percolation_config,
)
from factordiff.experiments.percolation.onset_calibration import calibrate
from factordiff.experiments.percolation.onset_rules import (
    SimOnset,
    best_over_thresholds,
    factor_two_coverage,
    near_span,
    position,
    rise,
    sharp_span,
    simulated_onset,
)
from factordiff.experiments.percolation.verdicts import verdicts_from_rows

OLD_GRID = (0.02, 0.04, 0.08, 0.15, 0.3, 0.6, 1.0)  # the quick grid until 2026-12-06


def test_the_onset_is_the_rise_from_the_floor():
    lam = np.array([0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0])
    m = np.array([1.0, 0.6, 0.5, 0.6, 0.75, 0.9, 1.0, 1.0])  # a few kept sites, then a rise
    r, floor, at = rise(lam, m)
    assert (floor, at) == (0.5, 0.04)
    np.testing.assert_allclose(r, [0, 0, 0, 0.2, 0.5, 0.8, 1, 1])  # 0 before the floor
    o = simulated_onset(lam, m, 1.0, 0.05)
    assert (o.l20, o.l50, o.l80) == pytest.approx((0.08, 0.16, 0.32))
    assert o.width == pytest.approx(4.0) and o.defined
    flat = simulated_onset(lam, np.ones(8), 1.0, 0.05)  # percolates at every share
    assert not flat.defined and math.isnan(flat.width)


ONSET = SimOnset(1.0, 0.05, 0.3, 0.01, 0.1, 0.2, 0.4)  # width 4, half-spans a factor 2


def test_the_statistics_on_known_values():
    # a trained 20%-80% span of a factor 2 is half the simulated one (4) in log lambda
    assert sharp_span((0.1, 0.1), (0.2, 0.2), ONSET) == pytest.approx((0.5, 0.5))
    assert sharp_span((0.05, 0.05), (0.8, 0.8), ONSET) == pytest.approx((2.0, 2.0))
    # 20% already at the smallest share (0.05), 80% at 0.4: at least a factor 8
    assert sharp_span((0.0, 0.05), (0.4, 0.4), ONSET) == (pytest.approx(1.5), math.inf)
    # 80% never reached beyond 0.8, 20% at 0.1: anything from a factor 8 up
    assert sharp_span((0.1, 0.1), (0.8, math.inf), ONSET) == (pytest.approx(1.5), math.inf)
    # the midpoint in simulated half-spans: at the simulated one 0, at l80 or l20 1
    assert position(0.2, ONSET) == 0 and position(0.4, ONSET) == pytest.approx(1.0)
    assert position(0.05, ONSET) == pytest.approx(2.0) and position(0.0, ONSET) == math.inf
    assert near_span((0.15, 0.3), ONSET) == (0.0, pytest.approx(math.log(1.5) / math.log(2)))
    assert near_span((0.1, 0.3), ONSET) == (0.0, pytest.approx(1.0))  # l20 is a half-span
    assert near_span((0.0, 0.05), ONSET) == (pytest.approx(2.0), math.inf)
    assert math.isnan(sharp_span((0.1, 0.1), (0.2, 0.2), SimOnset(1, 0, 1, 0, *[math.nan] * 3))[0])
    # the more favourable threshold, ignoring one without an onset
    assert best_over_thresholds([(1.0, 2.0), (0.5, 3.0), (math.nan, math.nan)]) == (0.5, 2.0)
    assert all(math.isnan(v) for v in best_over_thresholds([(math.nan, math.nan)]))


def test_every_factor_two_in_the_onset_range_holds_three_shares():
    quick, paper = percolation_config("percolation-quick"), percolation_config("percolation")
    for cfg in (quick, paper):
        assert factor_two_coverage(cfg.lambdas, 0.08, 0.4) >= 3
        assert min(cfg.lambdas) <= 0.016 and cfg.lambdas[-1] == 1.0
        assert cfg.sigmas == (0.5, 0.75, 1.0, 1.5) and len(cfg.seed_list()) == 3
    assert factor_two_coverage(OLD_GRID, 0.08, 0.4) < 3  # the grid the issue rejected
    assert factor_two_coverage((0.08, 0.16, 0.32), 0.08, 0.4) == 1
    assert quick.max_steps == 1600 and quick.image_size == 16 and paper.image_size == 32


def _fed(cfg, sim, threshold: float, seeds=(0, 1, 2)) -> list[dict]:
    """Rows whose accuracy is the simulated rise of each sigma at ``threshold``, read at the
    run's shares (interpolated in log lambda), the same in every seed."""
    rows = []
    for s in cfg.sigmas:
        c = sim[(s, threshold)]
        r, _, _ = rise(c.lambdas, c.kept_mean)
        acc = np.interp(np.log(cfg.lambdas), np.log(c.lambdas), r, left=0.0, right=1.0)
        for seed in seeds:
            for lam, a in zip(cfg.lambdas, acc):
                rows.append(
                    {"sigma": s, "lambda": lam, "seed": seed, "accuracy": a, "accuracy_prev": a}
                )
    return rows


def _simulation_reproduces_itself(cfg) -> None:
    exp = PercolationExperiment()
    sim, onsets = exp.simulated(cfg), exp.onsets(cfg)
    assert all(o.defined for o in onsets.values())
    for t in cfg.thresholds:
        verdicts, _ = verdicts_from_rows(_fed(cfg, sim, t), cfg, onsets)
        assert [v.verdict for v in verdicts] == ["reproduced"] * 3, (t, verdicts)
        sharp, _, near = (v.statistics[0][0] for v in verdicts)
        assert sharp < cfg.sharp_tolerance and near < 0.5  # well inside the simulated span
    # the simulated onsets come earlier for wider bumps at either threshold
    for t in cfg.thresholds:
        l50 = [onsets[(s, t)].l50 for s in cfg.sigmas]
        assert l50 == sorted(l50, reverse=True)


def test_the_rules_reproduce_the_simulation_fed_its_own_curves_quick():
    _simulation_reproduces_itself(
        percolation_config("percolation-quick", overrides=["sim_draws=64"])
    )


@pytest.mark.slow
def test_the_rules_reproduce_the_simulation_fed_its_own_curves_paper():
    _simulation_reproduces_itself(percolation_config("percolation"))


def test_the_sharp_tolerance_exceeds_the_grid_distortion_of_simulated_widths():
    cfg = percolation_config("percolation-quick")
    rows = calibrate(cfg.image_size, (0.5, 1.0), (0.05,), cfg.lambdas, draws=32, phases=8)
    for r in rows:
        assert r["moved"]["placements"] == 8
        assert r["at_place"]["width_ratio_max"] < cfg.sharp_tolerance
        assert r["moved"]["width_ratio_max"] < cfg.sharp_tolerance
        assert r["moved"]["position_max"] < 0.5 * cfg.near_tolerance


def test_config_refuses_bad_tolerances():
    with pytest.raises(ValueError, match="sharp_tolerance"):
        PercolationExpConfig(sharp_tolerance=1.0).validate()
    with pytest.raises(ValueError, match="near_tolerance"):
        PercolationExpConfig(near_tolerance=0.0).validate()


def test_the_calibration_command_takes_overrides_and_refuses_bad_ones(tmp_path, capsys):
    from factordiff.experiments.percolation.onset_calibration import main

    out = tmp_path / "cal.json"
    args = ["--presets", "percolation-quick", "--draws", "4", "--json", str(out)]
    grid = "lambdas=[0.04,0.1,0.2,0.4,1.0]"
    assert main(args + ["--set", "image_size=8", "--set", "sigmas=[1.0,1.5]", "--set", grid]) == 0
    printed = capsys.readouterr().out
    assert "percolation-quick: N = 8, shares [0.04, 0.1, 0.2, 0.4, 1.0]" in printed
    saved = json.loads(out.read_text())
    assert saved[0]["overrides"][0] == "image_size=8"
    assert {r["N"] for r in saved[0]["rows"]} == {8}
    assert {r["sigma"] for r in saved[0]["rows"]} == {1.0, 1.5}
    assert main(["--presets", "percolation-quick", "--set", "image_size=0"]) == 2
    assert "error: " in capsys.readouterr().err
