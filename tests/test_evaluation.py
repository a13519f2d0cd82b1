"""The accuracy metric on analytic images with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from factordiff.config import DataConfig
from factordiff.data import (
    build_regions,
    eval_conditions,
    get_dataset_preset,
    render_images,
    render_sos,
    render_stripe,
    unit_to_images,
)
from factordiff.evaluation import STATUS_NAMES, per_region, score

BUMP = DataConfig()
PERIODIC = DataConfig(periodic=True)
SOS = DataConfig(kind="sos")
STRIPES = DataConfig(kind="stripes", margin=6)


def two_bumps(a, b, cfg=BUMP) -> torch.Tensor:
    """Model-space image with bumps at labels a and b (raw intensities added, then clipped)."""
    raw = (render_images(torch.tensor([a, b]), cfg) + 1) / 2  # (2, 1, N, N) in [0, 1]
    return unit_to_images(raw.sum(0, keepdim=True).clamp(max=1), cfg)


def test_exact_bumps_are_correct_at_subpixel_labels():
    labels = torch.tensor([[7.3, 20.8], [16.0, 16.0], [0.2, 31.7], [31.9, 0.05], [25.5, 3.5]])
    s = score(render_images(labels, BUMP), labels, BUMP)
    assert s.status_names.tolist() == ["correct"] * 5
    # log-parabola (two-point at the frame edge) recovers the centre exactly
    np.testing.assert_allclose(s.center, labels.numpy(), atol=1e-4)
    assert s.x_ok.all() and s.y_ok.all() and s.joint_ok.all()


def test_shifted_two_bumps_blank_and_tolerance():
    labels = torch.tensor([[7.3, 20.8]] * 5)
    images = torch.cat(
        [
            render_images(labels[:1] + torch.tensor([2.0, 0.0]), BUMP),  # x off by 2 px
            render_images(labels[:1] + torch.tensor([2.0, -2.0]), BUMP),  # both off
            two_bumps([7.3, 20.8], [24.0, 5.0]),
            -torch.ones(1, 1, 32, 32),  # blank
            render_images(labels[:1] + torch.tensor([0.0, 1.5]), BUMP),  # y off by 1.5 px
        ]
    )
    s = score(images, labels, BUMP)
    assert s.status_names.tolist() == [
        "wrong_location",
        "wrong_location",
        "several",
        "none",
        "wrong_location",
    ]
    assert s.x_ok.tolist() == [False, False, False, False, True]
    assert s.y_ok.tolist() == [True, False, False, False, False]
    assert s.x_count.tolist() == [1, 1, 2, 0, 1]
    assert np.isnan(s.center[2:4]).all()
    np.testing.assert_allclose(s.center[0], [9.3, 20.8], atol=1e-4)
    relaxed = score(images, labels, BUMP, tolerance_px=2.5)  # tolerance is configurable
    assert relaxed.status_names.tolist() == ["correct", "correct", "several", "none", "correct"]


def test_noise_of_std_005_does_not_change_verdicts():
    rng = np.random.default_rng(0)
    labels = torch.from_numpy(rng.uniform(1, 31, size=(200, 2)))
    shifted = labels.clone()
    shifted[50:100, 0] += torch.where(labels[50:100, 0] < 16, 3.0, -3.0)  # wrong location
    images = render_images(shifted, BUMP)
    images[100:150] = torch.cat([two_bumps([4.0, 4.0], [27.0, 27.0])] * 50)
    images[150:] = -1.0
    clean = score(images, labels, BUMP)
    assert np.bincount(clean.status, minlength=4).tolist() == [50, 50, 50, 50]
    noise = torch.from_numpy(rng.normal(0, 0.05, size=images.shape)).float()
    noisy = score(images + noise, labels, BUMP)
    assert np.array_equal(noisy.status, clean.status)
    assert np.abs(noisy.center[:50] - labels[:50].numpy()).max() < 0.25
    sos = score(render_images(shifted, SOS) + noise, labels, SOS)
    assert sos.x_ok.tolist() == [True] * 50 + [False] * 50 + [True] * 100
    assert sos.y_ok.all()


def test_periodic_bumps_use_the_torus():
    labels = torch.tensor([[31.8, 5.5], [0.2, 31.9], [16.0, 0.1]])  # all straddle an edge
    images = render_images(labels, PERIODIC)
    s = score(images, labels, PERIODIC)
    assert s.status_names.tolist() == ["correct"] * 3  # one bump, merged across the edge
    np.testing.assert_allclose(s.center, labels.numpy(), atol=1e-4)
    # the same pixels judged on a flat frame are two half-bumps
    assert score(images[:1], labels[:1], BUMP).status_names.tolist() == ["several"]
    # wrapped distance: 31.9 and 0.1 are 0.2 px apart on the torus
    near = torch.tensor([[0.1, 5.5]])
    seen = render_images(torch.tensor([[31.9, 5.5]]), PERIODIC)
    assert score(seen, near, PERIODIC).status_names.tolist() == ["correct"]
    assert score(seen, near, PERIODIC, tolerance_px=0.1).status_names.tolist() == ["wrong_location"]


def test_sos_axes_are_judged_separately():
    labels = torch.tensor([[7.3, 20.8]] * 5)
    sos_raw = render_sos(labels[:1], SOS)  # (1, N, N), peak 2
    extra = render_stripe(torch.tensor([[25.0, 0.0]]), SOS, "x")  # another vertical stripe
    images = torch.cat(
        [
            render_images(labels[:1], SOS),
            render_images(torch.tensor([[10.3, 20.8]]), SOS),  # x off by 3 px
            unit_to_images(sos_raw + extra, SOS)[:, None],  # two vertical stripes
            unit_to_images(render_stripe(labels[:1], SOS, "x"), SOS)[:, None],  # no horizontal
            -torch.ones(1, 1, 32, 32),  # blank
        ]
    )
    s = score(images, labels, SOS)
    assert [STATUS_NAMES[v] for v in s.x_status] == [
        "correct",
        "wrong_location",
        "several",
        "correct",
        "none",
    ]
    assert [STATUS_NAMES[v] for v in s.y_status] == [
        "correct",
        "correct",
        "correct",
        "none",
        "none",
    ]
    assert s.status_names.tolist() == ["correct", "wrong_location", "several", "none", "none"]
    assert s.x_present.tolist() == [True, True, True, True, False]
    assert s.y_present.tolist() == [True, True, True, False, False]
    np.testing.assert_allclose(s.center[0], [7.3, 20.8], atol=1e-4)
    np.testing.assert_allclose(s.center[1, 0], 10.3, atol=1e-4)


def test_stripes_expect_absent_stripes_outside_the_frame():
    labels = torch.tensor([[15.3, -3.5], [-0.5, 10.2], [40.0, -3.0], [3.0, 35.0]])
    images = render_images(labels, STRIPES)
    s = score(images, labels, STRIPES)
    assert s.status_names.tolist() == ["correct"] * 4
    assert s.x_present.tolist() == [True, True, False, True]  # -0.5 leaves a visible tail
    assert s.y_present.tolist() == [False, True, False, False]
    # a stripe drawn where the label asks for none is a wrong location
    wrong = score(render_images(torch.tensor([[15.3, 20.0]]), STRIPES), labels[:1], STRIPES)
    assert [STATUS_NAMES[v] for v in wrong.y_status] == ["wrong_location"]
    # bumps + stripes: each label is judged as the dataset renders it
    mix = get_dataset_preset("bump+stripes")
    lab = torch.tensor([[7.3, 20.8], [15.3, -3.5]])
    m = score(render_images(lab, mix), lab, mix)
    assert m.is_bump.tolist() == [True, False] and m.joint_ok.all()


def test_summary_shares_are_exact():
    labels = torch.tensor([[8.5, 8.5]] * 8)
    good = render_images(labels[:1], BUMP)
    images = torch.cat(
        [good] * 4
        + [render_images(torch.tensor([[20.5, 8.5]]), BUMP)] * 2
        + [two_bumps([8.5, 8.5], [20.5, 20.5]), -torch.ones(1, 1, 32, 32)]
    )
    summary = score(images, labels, BUMP).summary()
    assert summary == {
        "n": 8,
        "accuracy": 0.5,
        "x_accuracy": 0.5,
        "y_accuracy": 0.75,
        "share_correct": 0.5,
        "share_wrong_location": 0.25,
        "share_several": 0.125,
        "share_none": 0.125,
        "x_present": 0.875,
        "y_present": 0.875,
    }


def test_per_region_breakdown_of_the_plus_hole():
    cfg = get_dataset_preset("sos-plus-hole")
    labels = eval_conditions(cfg, 64, seed=0)
    regions = build_regions(cfg)
    held = regions["held_out"].contains(labels)
    asked = labels.clone()
    asked[held, 0] += 3.0  # the "model" misplaces x everywhere outside the training set
    res = per_region(score(render_images(asked, cfg), labels, cfg), labels, regions)
    assert res["in_distribution"]["n"] == 16 and res["in_distribution"]["accuracy"] == 1.0
    for name in ("hole_vertical", "hole_horizontal", "hole_intersection"):
        assert res[name]["n"] == 16
        assert res[name]["x_accuracy"] == 0.0 and res[name]["y_accuracy"] == 1.0
    assert res["all"]["n"] == 64 and res["all"]["accuracy"] == 0.25
    empty = per_region(score(render_images(labels[:0], cfg), labels[:0], cfg), labels[:0], regions)
    assert empty["all"]["n"] == 0 and np.isnan(empty["all"]["accuracy"])


def test_input_types_and_bad_input():
    labels = torch.tensor([[7.3, 20.8], [3.0, 3.0]])
    images = render_images(labels, BUMP)
    a = score(images, labels, BUMP)
    b = score(images[:, 0].numpy(), labels.numpy(), BUMP)  # (B, N, N) numpy
    assert np.array_equal(a.status, b.status) and np.allclose(a.center, b.center)
    nan = score(torch.full((1, 1, 32, 32), float("nan")), labels[:1], BUMP)
    assert nan.status_names.tolist() == ["none"]
    with pytest.raises(ValueError, match=r"images shape \(2, 1, 16, 16\).*\(B, 1, 32, 32\)"):
        score(torch.zeros(2, 1, 16, 16), labels, BUMP)
    with pytest.raises(ValueError, match=r"labels shape \(1, 2\).*\(2, 2\)"):
        score(images, labels[:1], BUMP)
    with pytest.raises(ValueError, match=r"tolerance_px = 0 .*> 0"):
        score(images, labels, BUMP, tolerance_px=0)


def test_ten_thousand_noisy_images_score_correctly():
    # Scoring time is a benchmark figure (benchmarks/components.py), not a test.
    gen = torch.Generator().manual_seed(0)
    labels = torch.rand(10_000, 2, generator=gen) * 32
    for cfg in (BUMP, PERIODIC, SOS):
        images = render_images(labels, cfg)
        images += 0.05 * torch.randn(images.shape, generator=gen)
        s = score(images, labels, cfg)
        assert s.summary()["accuracy"] == 1.0, (cfg.kind, cfg.periodic)


@pytest.mark.parametrize(
    "cfg", [BUMP, PERIODIC, DataConfig(margin=4)], ids=["flat", "torus", "margin"]
)
def test_uniform_images_are_never_a_correct_bump(cfg):
    """All ones and all zeros (model space) light every pixel: no bump, no location; and a
    uniform image is not the blank that a label outside the frame asks for either."""
    labels = torch.tensor([[1.0, 1.0], [16.0, 16.0], [1.0, 1.0], [16.0, 16.0], [-3.0, -3.0]])
    images = torch.cat(
        [torch.ones(2, 1, 32, 32), torch.zeros(2, 1, 32, 32), torch.ones(1, 1, 32, 32)]
    )
    if cfg.margin == 0:
        labels, images = labels[:4], images[:4]
    s = score(images, labels, cfg)
    assert not s.joint_ok.any() and not s.x_ok.any() and not s.y_ok.any()
    assert np.isnan(s.center).all()
    assert set(s.status_names) == {"wrong_location"}
    # a real bump beside a uniform image in the same batch is still found
    lab = torch.tensor([[9.5, 20.5], [9.5, 20.5]])
    both = torch.cat([render_images(lab[:1], cfg), torch.ones(1, 1, 32, 32)])
    assert score(both, lab, cfg).joint_ok.tolist() == [True, False]
