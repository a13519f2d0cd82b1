"""Experiment 2's designs on the lattice: lesions remove the lattice columns they state, the
rim keeps the share of 2D labels of our default at N = 32, every curve has seeds enough."""

from collections import defaultdict

import numpy as np
import pytest

from factordiff.data import build_regions, lattice_labels
from factordiff.experiments.exp2 import PRESETS, evaluations, exp2_config, sweep_runs
from factordiff.experiments.exp2.designs import (
    design_problems,
    lesion_band,
    lesion_statistics,
    lesion_width_px,
    paper_rim_share,
    removed_columns,
    removed_lattice_labels,
    rim_data,
    rim_share,
)

CURVES = ("subsampling", "lesion", "squares")


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_lesion_removes_the_lattice_columns_it_states(preset):
    cfg = exp2_config(preset)
    n = cfg.image_size
    lesions = [(p, rc.data) for p, rc in sweep_runs(cfg) if p["part"] == "lesion"]
    assert sorted({p["columns"] for p, _ in lesions}) == sorted(cfg.lesion_columns)
    for p, data in lesions:
        k = p["columns"]
        removed = removed_lattice_labels(data)
        # k whole columns of the frame, every row of them, and nothing else
        assert len(removed) == k * n, (preset, k)
        assert removed_columns(data) == k
        assert len(np.unique(removed[:, 0])) == k
        # the stated width is the band's, k lattice spacings (1 px each here)
        assert p["width_px"] == lesion_width_px(k, n) == k * data.dx
        band = lesion_band(data, k)
        if k:
            assert band[1] - band[0] == pytest.approx(k * data.dx)
            # band edges lie half a spacing from the nearest column, never on one
            xs = np.unique(lattice_labels(data)[:, 0])
            assert np.abs(xs[:, None] - np.asarray(band)[None]).min() == pytest.approx(data.dx / 2)
    # the lesions are nested: each wider one holds the narrower ones' columns
    cols = {p["columns"]: set(removed_lattice_labels(d)[:, 0]) for p, d in lesions}
    ks = sorted(cols)
    assert all(cols[a] <= cols[b] for a, b in zip(ks, ks[1:]))


def test_quick_and_paper_lesions_are_the_counts_the_issue_states():
    assert exp2_config("exp2-quick").lesion_columns == (0, 1, 2, 3, 4)  # at N = 16
    assert exp2_config("exp2").lesion_columns == (0, 2, 4, 6, 8)  # the same shares at 32


def test_the_zero_column_run_is_scored_on_the_narrowest_band_it_saw():
    cfg = exp2_config("exp2-quick")
    runs = {p["columns"]: (p, rc) for p, rc in sweep_runs(cfg) if p["part"] == "lesion"}
    p0, rc0 = runs[0]
    space = evaluations(cfg, p0, rc0.data)["own"]
    assert rc0.data.hole == "none" and space.hole_rects == runs[1][1].data.hole_rects
    held = build_regions(space)["held_out"]
    frame = lattice_labels(space)
    assert set(frame[held.contains(frame)][:, 0]) == {7.5}  # the 1-column lesion's column
    p1, rc1 = runs[1]
    assert evaluations(cfg, p1, rc1.data)["own"] == rc1.data  # the others: their own space


def test_rim_keeps_the_share_of_our_default_rim_at_n32():
    # our default rim, 2 px at N = 32: 240 of 1,024 2D labels
    assert paper_rim_share() == pytest.approx(240 / 1024)
    quick, paper = exp2_config("exp2-quick"), exp2_config("exp2")
    for cfg in (quick, paper):
        one_d = next(rc.data for p, rc in sweep_runs(cfg) if p.get("model") == "1d")
        assert one_d.rim_width == cfg.rim_width
        assert rim_share(one_d) == pytest.approx(240 / 1024)  # 60 of 256 at N = 16
    # the 2 px rim kept in px at N = 16 would be 44%: the share the quick preset left
    assert rim_share(rim_data(16, 2.0)) == pytest.approx(112 / 256)


@pytest.mark.parametrize("preset", sorted(set(PRESETS) - {"exp2-smoke"}))
def test_every_curve_point_has_the_seeds_every_claim_needs(preset):
    cfg = exp2_config(preset)
    seeds = defaultdict(set)
    for p, _ in sweep_runs(cfg):
        if p["part"] in CURVES:
            seeds[tuple((k, v) for k, v in p.items() if k != "seed")].add(p["seed"])
    assert {k[0][1] for k in seeds} == set(CURVES)
    assert min(len(s) for s in seeds.values()) >= max(2, cfg.min_seeds)


def test_lesion_statistics_leave_the_zero_column_run_out():
    cols = [0, 1, 2, 3, 4]
    # "no lesion" against "any lesion" is no decay with width: flat over 1 to 4 columns
    drop, rho = lesion_statistics(cols, [1.0, 0.0, 0.0, 0.0, 0.0])
    assert drop == 0 and np.isnan(rho)
    # a lesion of one column bridged, two or more not: a fall with width
    drop, rho = lesion_statistics(cols, [1.0, 1.0, 0.0, 0.0, 0.0])
    assert drop == 1 and rho == pytest.approx(-0.7746, abs=1e-4)
    drop, rho = lesion_statistics(cols, [1.0, 0.9, 0.6, 0.3, 0.1])
    assert drop == pytest.approx(0.8) and rho == pytest.approx(-1.0)
    assert all(np.isnan(v) for v in lesion_statistics(cols, [1, 1, None, 0, 0]))


def test_design_problems_name_the_field():
    assert design_problems(16, (0, 1, 2, 3, 4), 1.0) == []
    assert [f for f, _ in design_problems(16, (0, 3), 1.0)] == ["lesion_columns"]
    assert [f for f, _ in design_problems(16, (1, 2), 8.0)] == ["rim_width"]
