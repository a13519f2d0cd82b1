"""Dataset size at an accuracy threshold, and power-law fits with a bootstrap interval."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from factordiff import plotting
from factordiff.analysis.power_law import fit_power_law, size_at_threshold, sizes_at_threshold


def test_size_is_interpolated_in_log_size():
    r = size_at_threshold([100, 1000], [0.4, 0.8], 0.6)
    assert r.status == "interpolated" and r.reached
    assert r.size == pytest.approx(math.sqrt(100 * 1000))  # half way in log(size)
    assert r.bound == r.size
    # exact on a curve linear in log(size): acc = 0.2 log10(size) - 0.1
    sizes = np.array([10, 30, 100, 300, 1000])
    r = size_at_threshold(sizes, 0.2 * np.log10(sizes) - 0.1, 0.35)
    assert r.size == pytest.approx(10**2.25)


def test_threshold_not_bracketed_gives_nan_and_a_bound():
    never = size_at_threshold([10, 20, 40], [0.1, 0.3, 0.5], 0.6)
    assert never.status == "never_reached" and not never.reached
    assert math.isnan(never.size) and never.bound == 40
    early = size_at_threshold([10, 20, 40], [0.7, 0.8, 0.9], 0.6)
    assert early.status == "reached_at_smallest" and math.isnan(early.size) and early.bound == 10


def test_first_crossing_and_missing_points():
    # crosses at 20-40, dips, crosses again at 80-160: the first crossing counts
    r = size_at_threshold([10, 20, 40, 80, 160], [0.1, 0.5, 0.7, 0.4, 0.9], 0.6)
    assert r.size == pytest.approx(20 * 2**0.5)
    # a NaN point is skipped: interpolate between 10 and 40
    r = size_at_threshold([10, 20, 40], [0.2, math.nan, 1.0], 0.6)
    assert r.size == pytest.approx(20.0)


def test_sizes_at_threshold_per_seed():
    size, status, bound = sizes_at_threshold([100, 1000], [[0.4, 0.8], [0.1, 0.2], [0.7, 0.9]])
    assert status.tolist() == ["interpolated", "never_reached", "reached_at_smallest"]
    assert size[0] == pytest.approx(316.227766) and np.isnan(size[1:]).all()
    assert bound.tolist()[1:] == [1000, 100]


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="strictly increasing"):
        size_at_threshold([10, 10], [0.1, 0.9])
    with pytest.raises(ValueError, match="> 0"):
        size_at_threshold([0, 10], [0.1, 0.9])
    with pytest.raises(ValueError, match="shape"):
        size_at_threshold([1, 10], [0.1, 0.9, 1.0])


N = np.array([8, 12, 16, 24, 32], dtype=float)


@pytest.mark.parametrize("exponent, other", [(2.0, 1.0), (1.0, 2.0)])
def test_fit_recovers_a_known_exponent_with_noise(exponent, other):
    rng = np.random.default_rng(0)
    y = 3.0 * N**exponent * np.exp(rng.normal(0, 0.15, size=(3, len(N))))  # (3 seeds, 5 N)
    fit = fit_power_law(N, y, seed=0)
    assert fit.exponent == pytest.approx(exponent, abs=0.25)
    assert fit.covers(exponent)
    assert not fit.covers(other)
    assert fit.ci_low < fit.exponent < fit.ci_high
    assert fit.num_points == 5 and fit.num_seeds == 3 and fit.num_boot > 1900


def test_interval_covers_the_truth_in_most_synthetic_experiments():
    hits = 0
    for r in range(40):
        y = 0.5 * N**2 * np.exp(np.random.default_rng(r).normal(0, 0.2, size=(3, len(N))))
        hits += fit_power_law(N, y, num_boot=500, seed=r).covers(2.0)
    assert hits >= 36  # nominal 95%


def test_exact_power_law_gives_a_zero_width_interval():
    fit = fit_power_law(N, 7.0 * N**1.5, seed=1)
    assert fit.exponent == pytest.approx(1.5) and fit.prefactor == pytest.approx(7.0)
    assert fit.ci_low == pytest.approx(1.5) and fit.ci_high == pytest.approx(1.5)


def test_fit_is_seeded_and_skips_missing_values():
    rng = np.random.default_rng(4)
    y = N**2 * np.exp(rng.normal(0, 0.2, size=(4, len(N))))
    y[1, 4] = np.nan  # one seed never reached the threshold at N = 32
    a, b = fit_power_law(N, y, seed=3), fit_power_law(N, y, seed=3)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert np.isfinite(a.exponent) and a.num_points == 5
    y[:, 4] = np.nan
    assert fit_power_law(N, y, seed=3).num_points == 4
    assert set(a.to_json()) >= {"exponent", "ci_low", "ci_high", "num_boot"}


def test_fit_rejects_bad_points():
    with pytest.raises(ValueError, match=">= 2 distinct x"):
        fit_power_law(N, np.array([1.0, np.nan, np.nan, np.nan, np.nan]))
    with pytest.raises(ValueError, match="y must be > 0"):
        fit_power_law(N, -N)
    with pytest.raises(ValueError, match="x must be finite and > 0"):
        fit_power_law(np.array([0.0, 1.0]), np.array([1.0, 2.0]))


def test_threshold_size_figure():
    rng = np.random.default_rng(0)
    sizes = {
        "bumps": N**2 * np.exp(rng.normal(0, 0.1, (3, 5))),
        "bumps + stripes": 4 * N * np.exp(rng.normal(0, 0.1, (3, 5))),
    }
    sizes["bumps"][0, -1] = np.nan
    fits = {k: fit_power_law(N, v, num_boot=200) for k, v in sizes.items()}
    fig = plotting.plot_threshold_size_scaling(N, sizes, fits)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "∝ N" in labels and "∝ N²" in labels
    assert sum(lab.startswith("fit: exponent") for lab in labels) == 2
    # ticks: exactly the image sizes, in plain numbers, and no minor tick labels
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "12", "16", "24", "32"]
    assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))
    assert all("10^" not in t.get_text() for t in ax.get_yticklabels())
    # every seed drawn: a thin line per seed of each dataset
    assert sum(line.get_gid() == plotting.SEED_GID for line in ax.lines) == 3 + 3
    # the paper's slopes: dashed lines through the first data point (bumps at N = 8)
    refs = {line.get_label(): line for line in ax.lines if line.get_label() in ("∝ N", "∝ N²")}
    first = np.exp(np.log(sizes["bumps"][:, 0]).mean())
    for p, name in ((1, "∝ N"), (2, "∝ N²")):
        line = refs[name]
        assert line.get_linestyle() == "--"
        np.testing.assert_allclose(line.get_ydata(), first * (N / N[0]) ** p)


def test_threshold_size_figure_labels_only_the_sizes_with_a_point_and_its_own_references():
    sizes = {"bumps": np.array([[20.0, 45.0, 80.0, np.nan, np.nan]])}
    fig = plotting.plot_threshold_size_scaling(N, sizes, references={2.0: "paper: ∝ N²"})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "12", "16"]
    assert [line.get_label() for line in ax.lines if line.get_linestyle() == "--"] == [
        "paper: ∝ N²"
    ]
    assert not any(line.get_gid() == plotting.SEED_GID for line in ax.lines)  # one seed
    # equal seeds: their geometric mean may round a hair outside them, never a negative bar
    plotting.plot_threshold_size_scaling(N, {"same": N**2 * np.ones((3, 5))})
