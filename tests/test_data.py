"""Rendering, lattices, holes, mixtures, presets and config errors of factordiff.data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from factordiff.config import DataConfig, from_dict
from factordiff.data import (
    DATASET_DESCRIPTIONS,
    DATASET_PRESETS,
    build_dataset,
    build_labels,
    build_regions,
    eval_conditions,
    get_dataset_preset,
    image_tags,
    images_to_unit,
    lattice_labels,
    region_strata,
    render_bump,
    render_images,
    render_sos,
    render_stripe,
    unit_to_images,
)

N = 32


def reference_bump(labels: np.ndarray, n: int, sx: float, sy: float) -> np.ndarray:
    """Independent float64 formula: pixel (row i, col j) has centre (j + 0.5, i + 0.5)."""
    c = np.arange(n) + 0.5
    dx = c[None, None, :] - labels[:, 0, None, None]
    dy = c[None, :, None] - labels[:, 1, None, None]
    return np.exp(-(dx**2) / (2 * sx**2) - dy**2 / (2 * sy**2))


# ----------------------------------------------------------------------------- rendering
def test_pixel_centre_convention():
    raw = render_bump(torch.tensor([[7.5, 12.5]]), DataConfig())[0]  # (N, N)
    assert raw[12, 7] == 1.0  # label (7.5, 12.5) is the centre of row 12, column 7
    assert int(raw.argmax()) == 12 * N + 7
    assert raw[12, 8].item() == pytest.approx(math.exp(-0.5), rel=1e-6)  # one px right
    assert raw[10, 7].item() == pytest.approx(math.exp(-2.0), rel=1e-6)  # two px up


def test_bump_matches_formula_for_a_batch():
    rng = np.random.default_rng(1)
    labels = rng.uniform(0, N, size=(64, 2))
    cfg = DataConfig(sigma_x=1.3, sigma_y=0.7)
    got = render_bump(torch.from_numpy(labels), cfg).numpy()
    np.testing.assert_allclose(got, reference_bump(labels, N, 1.3, 0.7), atol=1e-6)
    # the batch is the stack of single renders
    single = torch.stack([render_bump(torch.from_numpy(labels[i : i + 1]), cfg)[0] for i in (0, 5)])
    assert torch.equal(single, torch.from_numpy(got[[0, 5]]))


def test_sos_is_the_sum_of_two_stripes_with_peak_two():
    cfg = DataConfig(kind="sos")
    lab = torch.tensor([[7.5, 20.5]])
    sos = render_sos(lab, cfg)[0]
    vert, horiz = render_stripe(lab, cfg, "x")[0], render_stripe(lab, cfg, "y")[0]
    assert torch.equal(sos, vert + horiz)
    assert sos[20, 7] == 2.0 and sos.max() == 2.0
    assert torch.equal(vert[0], vert[31])  # vertical: constant down each column
    assert vert[0, 7] == 1.0 and horiz[20, 0] == 1.0


def test_fixed_scale_bump_sos_and_round_trip():
    lab = torch.tensor([[7.5, 12.5]])
    bump = render_images(lab, DataConfig())[0, 0]
    assert bump[12, 7] == 1.0 and bump[31, 31] == -1.0  # peak 1 -> +1, background 0 -> -1
    sos_cfg = DataConfig(kind="sos")
    sos = render_images(lab, sos_cfg)[0, 0]
    assert sos[12, 7] == 1.0  # crossing 2 -> +1
    assert sos[30, 7].item() == pytest.approx(0.0, abs=1e-6)  # a lone stripe 1 -> 0
    assert sos[30, 30] == -1.0
    raw = images_to_unit(sos, sos_cfg)
    assert raw[12, 7] == 2.0
    assert torch.allclose(unit_to_images(raw, sos_cfg), sos, atol=1e-6)
    # the scale is fixed per dataset, not per image: a half-visible bump keeps its level
    edge = render_images(torch.tensor([[-0.5, 12.5]]), DataConfig(margin=6))[0, 0]
    assert edge.max().item() == pytest.approx(2 * math.exp(-0.5) - 1, abs=1e-6)


def test_periodic_distances_wrap():
    lab = torch.tensor([[0.2, 16.5]])
    per = render_bump(lab, DataConfig(periodic=True))[0]
    flat = render_bump(lab, DataConfig())[0]
    # column 31 (centre 31.5) is 0.7 px from 0.2 across the edge
    assert per[16, 31].item() == pytest.approx(math.exp(-(0.7**2) / 2), rel=1e-6)
    assert flat[16, 31].item() < 1e-100
    # moving the label by one pixel rolls the image by one pixel (a torus)
    base = render_bump(torch.tensor([[31.3, 30.6]]), DataConfig(periodic=True))
    moved = render_bump(torch.tensor([[32.3, 31.6]]), DataConfig(periodic=True))
    assert torch.allclose(moved, torch.roll(base, (1, 1), dims=(1, 2)), atol=1e-6)


def test_extended_canvas_is_a_crop_of_the_big_canvas():
    rng = np.random.default_rng(2)
    labels = torch.from_numpy(rng.uniform(-6, 38, size=(32, 2)))
    cropped = render_sos(labels, DataConfig(kind="stripes", margin=6))  # (B, 32, 32)
    canvas = render_sos(labels + 6, DataConfig(kind="sos", image_size=44))  # labels in [0, 44]
    assert torch.allclose(cropped, canvas[:, 6:38, 6:38], atol=1e-6)


def test_tags_count_visible_stripes():
    labels = torch.tensor(
        [[15.5, -3.5], [15.5, 15.5], [-3.5, -3.5], [40.0, 10.0], [0.0, 32.0], [32.5, 3.0]]
    )
    stripes = DataConfig(kind="stripes", margin=6)
    assert image_tags(labels, stripes).tolist() == [1, 2, 0, 1, 2, 1]
    bumps = DataConfig(margin=8)  # a bump is visible only with both coordinates in the frame
    assert image_tags(labels, bumps).tolist() == [0, 2, 0, 0, 2, 0]


# ----------------------------------------------------------------------------- lattices
def test_lattice_is_cell_centred():
    lab = lattice_labels(DataConfig())
    assert lab.shape == (1024, 2)
    assert lab[:3].tolist() == [[0.5, 0.5], [1.5, 0.5], [2.5, 0.5]]  # mu_x inner
    assert lab[-1].tolist() == [31.5, 31.5]
    dense = lattice_labels(DataConfig(dx=0.1, dy=0.1))
    assert dense.shape == (102_400, 2)
    np.testing.assert_allclose(dense[:2, 0], [0.05, 0.15])
    ext = lattice_labels(DataConfig(margin=6))
    assert ext.shape == (44 * 44, 2) and ext.min() == -5.5 and ext.max() == 37.5
    odd = lattice_labels(DataConfig(dx=0.3))  # 106 points centred in [0, 32]
    xs = np.unique(odd[:, 0])
    assert len(xs) == 106
    np.testing.assert_allclose([xs[0], 32 - xs[-1]], [0.25, 0.25])


def test_plus_hole_and_its_sections():
    ds = build_dataset(get_dataset_preset("sos-plus-hole"), seed=0)
    assert len(ds) == 26 * 26 == 676
    x, y = ds.labels[:, 0], ds.labels[:, 1]
    band = lambda v: (v >= 13) & (v <= 19)  # noqa: E731
    assert not (band(x) | band(y)).any()
    lattice = lattice_labels(ds.config)
    counts = {k: int(r.contains(lattice).sum()) for k, r in ds.regions.items()}
    assert counts == {
        "all": 1024,
        "in_distribution": 676,
        "held_out": 348,
        "hole_vertical": 156,
        "hole_horizontal": 156,
        "hole_intersection": 36,
    }
    strata = np.stack([ds.regions[k].contains(lattice) for k in region_strata(ds.config)])
    assert (strata.sum(axis=0) == 1).all()  # disjoint and covering


def test_hole_bounds_inclusive_or_not():
    base = dict(kind="sos", hole="plus", hole_low=13.5, hole_high=18.5)  # on lattice points
    closed = build_labels(DataConfig(**base, hole_inclusive=True), 0)
    opened = build_labels(DataConfig(**base, hole_inclusive=False), 0)
    assert len(closed.labels) == 26**2  # 13.5 ... 18.5 held out: 6 values per axis
    assert len(opened.labels) == 28**2  # 14.5 ... 17.5 held out: 4 values per axis


@pytest.mark.parametrize(
    ("hole", "held_x", "held_y"),
    [
        ("square_interior", np.arange(13, 19) + 0.5, np.arange(13, 19) + 0.5),
        ("square_exterior", np.arange(0, 6) + 0.5, np.arange(0, 6) + 0.5),
        ("lesion", np.arange(13, 19) + 0.5, np.arange(32) + 0.5),
    ],
)
def test_square_and_lesion_holes(hole, held_x, held_y):
    cfg = DataConfig(kind="sos", hole=hole, hole_width=6.0)
    kept = {tuple(v) for v in build_labels(cfg, 0).labels.tolist()}
    held = {(a, b) for a in held_x for b in held_y}
    assert len(kept) == 1024 - len(held)
    assert not kept & held


def test_custom_hole_from_rectangles():
    cfg = DataConfig(kind="sos", hole="custom", hole_rects=((0, 4, 0, 32), (28, 32, 0, 32)))
    ls = build_labels(cfg, 0)
    assert len(ls.labels) == 24 * 32
    assert ls.labels[:, 0].min() == 4.5 and ls.labels[:, 0].max() == 27.5


def test_stripes_dataset_with_and_without_rim():
    ds = build_dataset(get_dataset_preset("stripes"), seed=0)
    assert len(ds) == 1008
    assert np.bincount(ds.tags, minlength=3).tolist() == [0, 768, 240]
    rim = ds.labels[ds.tags == 2].numpy()
    edge_distance = np.minimum(rim, N - rim).min(axis=1)
    assert edge_distance.max() <= 2.0
    norim = build_labels(get_dataset_preset("stripes-norim"), 0)
    assert len(norim.labels) == 768 and (norim.tags == 1).all()
    # a 1D image: the vertical stripe plus the faint tail of the off-frame horizontal one
    i = int(np.flatnonzero((ds.labels == torch.tensor([15.5, -0.5])).all(1))[0])
    raw = images_to_unit(ds.images[i, 0], ds.config)
    assert raw[5, 15].item() == pytest.approx(1.0, abs=1e-6)
    assert raw[0, 0].item() == pytest.approx(math.exp(-0.5), abs=1e-6)


def test_mixtures_record_their_parts():
    ds = build_dataset(get_dataset_preset("sos-plus-hole+stripes"), seed=0)
    assert ds.part_names == ["sos", "stripes"]
    assert ds.part_counts == {"sos": 676, "stripes": 768}
    assert np.bincount(ds.parts).tolist() == [676, 768]
    assert (ds.tags[ds.parts == 0] == 2).all() and (ds.tags[ds.parts == 1] == 1).all()

    mix = build_dataset(get_dataset_preset("bump+stripes"), seed=0)
    assert mix.part_counts == {"bump": 1024, "stripes": 768}
    assert mix.peak_intensity == 2.0  # stripes can cross: the whole mixture uses peak 2
    bump_peak = images_to_unit(mix.images[mix.parts == 0], mix.config).amax(dim=(1, 2, 3))
    assert torch.allclose(bump_peak, torch.ones(1024))  # pixel-centred bumps peak at 1
    # every image is what render_images gives for its label
    assert torch.equal(render_images(mix.labels, mix.config), mix.images)


def test_subsampling_is_seeded_and_exact():
    cfg = DataConfig(subsample=0.25)
    a, b, c = build_labels(cfg, 0), build_labels(cfg, 0), build_labels(cfg, 1)
    assert len(a.labels) == 256
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)
    lattice = {tuple(v) for v in lattice_labels(cfg).tolist()}
    assert {tuple(v) for v in a.labels.tolist()} <= lattice
    mix = build_labels(DataConfig(margin=6, mix_stripes=True, stripes_subsample=0.5), 0)
    assert mix.part_counts == {"bump": 1024, "stripes": 384}


def test_render_images_kind_override_and_dataset_agreement():
    ds = build_dataset(get_dataset_preset("sos-plus-hole+stripes"), seed=0)
    assert torch.equal(render_images(ds.labels, ds.config), ds.images)
    lab = torch.tensor([[7.5, 12.5]])
    forced = render_images(lab, DataConfig(kind="sos"), kind="bump")[0, 0]
    assert forced[12, 7] == 0.0  # bump formula, SOS scale: peak 1 -> 0
    with pytest.raises(ValueError, match="kind = 'blob'"):
        render_images(lab, DataConfig(), kind="blob")


def test_paper_scale_lattice_builds_exactly():
    # Its build time is a benchmark figure (benchmarks/components.py), not a test.
    ds = build_dataset(get_dataset_preset("bump-dense"), seed=0)
    assert ds.images.shape == (102_400, 1, 32, 32) and ds.images.dtype == torch.float32
    assert ds.summary()["images_mb"] == 400.0
    picks = np.arange(0, 102_400, 4099)
    want = 2 * reference_bump(ds.labels[picks].double().numpy(), N, 1.0, 1.0) - 1
    np.testing.assert_allclose(ds.images[picks, 0].numpy(), want, atol=2e-6)


# ----------------------------------------------------------------------------- evaluation set
def test_eval_conditions_are_stratified_and_seeded():
    cfg = get_dataset_preset("sos-plus-hole")
    cond = eval_conditions(cfg, 256, seed=0)
    assert cond.shape == (256, 2) and cond.dtype == torch.float32
    assert torch.equal(cond, eval_conditions(cfg, 256, seed=0))
    assert not torch.equal(cond, eval_conditions(cfg, 256, seed=1))
    regions = build_regions(cfg)
    per = [int(regions[k].contains(cond).sum()) for k in region_strata(cfg)]
    assert per == [64, 64, 64, 64]  # in-distribution and the three sections
    assert torch.equal(cond - 0.5, torch.round(cond - 0.5))  # lattice points
    # strata smaller than their quota are drawn with replacement
    assert int(regions["hole_intersection"].contains(eval_conditions(cfg, 400, 0)).sum()) == 100
    stripes = eval_conditions(get_dataset_preset("stripes"), 10, seed=0)
    sreg = build_regions(get_dataset_preset("stripes"))
    assert int(sreg["in_distribution"].contains(stripes).sum()) == 5  # rim vs interior
    ext = eval_conditions(get_dataset_preset("bump-extended"), 50, seed=0)
    assert ((ext >= 0) & (ext <= N)).all()  # accuracy is measured in the frame


# ----------------------------------------------------------------------------- presets, errors
def test_every_preset_is_valid_and_described():
    expected = {
        "bump": 1024,
        "bump-periodic": 1024,
        "bump-dense": 102_400,
        "bump-extended": 1936,
        "bump-subsample": 256,
        "bump+stripes": 1792,
        "sos": 1024,
        "sos-plus-hole": 676,
        "sos-square-interior": 988,
        "sos-square-exterior": 988,
        "sos-lesion": 832,
        "stripes": 1008,
        "stripes-norim": 768,
        "sos-plus-hole+stripes": 1444,
    }
    assert set(DATASET_PRESETS) == set(DATASET_DESCRIPTIONS) == set(expected)
    for name, cfg in DATASET_PRESETS.items():
        assert len(build_labels(cfg, 0).labels) == expected[name], name
    copy = get_dataset_preset("sos")
    copy.dx = 2.0
    assert DATASET_PRESETS["sos"].dx == 1.0  # callers get a copy
    with pytest.raises(ValueError, match=r"'nope'.*allowed.*'bump-periodic'"):
        get_dataset_preset("nope")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sigma_x": 0}, r"data\.sigma_x = 0(\.0)? .*allowed: a number > 0"),
        ({"sigma_y": -1.0}, r"data\.sigma_y = -1\.0 .*allowed"),
        ({"image_size": 3}, r"data\.image_size = 3 .*allowed: an integer >= 4"),
        ({"dx": 0}, r"data\.dx = 0(\.0)? .*allowed: a spacing in \(0, 32\]"),
        ({"dy": -0.5}, r"data\.dy = -0\.5 .*allowed"),
        ({"hole": "plus", "hole_high": 40}, r"data\.hole_high = 40(\.0)? .*inside the frame"),
        ({"hole": "square_interior", "hole_width": 33}, r"data\.hole_width = 33(\.0)? .*allowed"),
        ({"hole": "custom", "hole_rects": [[30, 40, 0, 5]]}, r"data\.hole_rects = .*frame"),
        ({"hole": "custom"}, r"data\.hole_rects = \(\) .*one or more"),
        ({"hole_rects": [[1, 2, 1, 2]]}, r"data\.hole_rects = .*unless data\.hole = 'custom'"),
        ({"subsample": 0}, r"data\.subsample = 0(\.0)? .*allowed: a share in \(0, 1\]"),
        ({"subsample": 1.5}, r"data\.subsample = 1\.5 .*\(0, 1\]"),
        ({"kind": "blob"}, r"data\.kind = 'blob' .*\['bump', 'sos', 'stripes'\]"),
        ({"hole": "donut"}, r"data\.hole = 'donut' .*allowed"),
        ({"kind": "stripes"}, r"data\.margin = 0 .*>= 1 for data\.kind = 'stripes'"),
        ({"mix_stripes": True}, r"data\.margin = 0 .*mix_stripes"),
        ({"periodic": True, "margin": 6}, r"data\.margin = 6 .*periodic"),
        ({"kind": "sos", "margin": 6}, r"data\.margin = 6 .*'sos'"),
        ({"stripes_subsample": 0.5}, r"data\.stripes_subsample = 0\.5 .*mix_stripes"),
    ],
)
def test_bad_config_names_field_value_and_allowed(fields, message):
    with pytest.raises(ValueError, match=message):
        from_dict(DataConfig, fields)
    direct = {k: tuple(map(tuple, v)) if k == "hole_rects" else v for k, v in fields.items()}
    with pytest.raises(ValueError, match=message):  # also when constructed directly
        build_dataset(DataConfig(**direct), seed=0)


def test_bad_seed_and_condition_count():
    with pytest.raises(ValueError, match=r"seed = -1 .*allowed"):
        build_labels(DataConfig(), -1)
    with pytest.raises(ValueError, match=r"n = 0 .*allowed"):
        eval_conditions(DataConfig(), 0, seed=0)
