"""The percolation simulation against known answers, and its figures."""

import json
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from factordiff import plotting
from factordiff.analysis.percolation_clusters import (
    cluster_labels,
    critical_lambda,
    kept_mask_from_labels,
    largest_cluster_sizes,
    mass_ratio_curve,
    sample_kept,
    steepest_lambda,
)
from factordiff.analysis.percolation_model import (
    axis_overlap,
    lattice_graph,
    overlap_closed_form,
    overlap_rendered,
)
from factordiff.analysis.percolation_sim import PercolationConfig, main, simulate_and_plot
from factordiff.config import DataConfig
from factordiff.data import build_labels, lattice_labels, render_bump


# ----------------------------------------------------------------------------- overlap
@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0])
def test_closed_form_matches_rendered_images_for_wide_bumps(sigma):
    d = np.linspace(0.0, 5.0, 11)
    a = np.stack([np.full_like(d, 20.5), np.full_like(d, 32.5)], axis=1)
    b = a + np.stack([d, np.zeros_like(d)], axis=1)
    rendered = overlap_rendered(a, b, sigma, image_size=64)
    np.testing.assert_allclose(rendered, overlap_closed_form(d, sigma), atol=1e-3)
    # and along a diagonal: the closed form depends on the distance only
    diag = a + np.stack([d, d], axis=1) / math.sqrt(2)
    rendered = overlap_rendered(a, diag, sigma, image_size=64)
    np.testing.assert_allclose(rendered, overlap_closed_form(d, sigma), atol=1e-3)


def test_narrow_bumps_are_undersampled():
    """At sigma = 0.5 px the rendered neighbour overlap is far below the closed form."""
    r = overlap_rendered(np.array([[10.5, 10.5]]), np.array([[11.5, 10.5]]), 0.5, image_size=24)
    assert r[0] == pytest.approx(0.2612, abs=1e-3)
    assert overlap_closed_form(1.0, 0.5) == pytest.approx(math.exp(-1.0))


@pytest.mark.parametrize("periodic", [False, True])
def test_graph_overlaps_are_those_of_rendered_images(periodic):
    """The factorised 1D construction gives the cosine of the full rendered images."""
    n, sigma, t = 8, 0.75, 0.05
    g = lattice_graph(sigma, t, image_size=n, periodic=periodic)
    cfg = DataConfig(image_size=n, sigma_x=sigma, sigma_y=sigma, periodic=periodic)
    labels = lattice_labels(cfg)
    np.testing.assert_array_equal(g.labels, labels)
    img = render_bump(labels, cfg).double().flatten(1)  # (64, 64)
    img = img / img.norm(dim=1, keepdim=True)
    cos = (img @ img.T).numpy()
    u, v = np.nonzero(np.triu(cos > t, k=1))
    got = {(int(a), int(b)): o for (a, b), o in zip(g.edges, g.overlap)}
    assert set(got) == set(zip(u.tolist(), v.tolist()))
    np.testing.assert_allclose([got[p] for p in zip(u.tolist(), v.tolist())], cos[u, v], atol=1e-5)


def test_analytic_graph_overlaps_follow_the_closed_form():
    g = lattice_graph(1.0, 0.05, image_size=12, measure="analytic")
    r = np.linalg.norm(g.labels[g.edges[:, 0]] - g.labels[g.edges[:, 1]], axis=1)
    np.testing.assert_allclose(g.overlap, overlap_closed_form(r, 1.0), rtol=1e-12)
    # reach: overlap > 0.05 <=> r^2 < 4 ln 20 = 11.98, so (3, 1) at r^2 = 10 is in, (2, 3) out
    assert r.max() ** 2 == pytest.approx(10.0)


def test_axis_overlap_is_a_symmetric_cosine_matrix():
    pos = np.arange(6) + 0.5
    for measure in ("rendered", "analytic"):
        c = axis_overlap(pos, 1.0, image_size=6, measure=measure)
        np.testing.assert_allclose(c, c.T)
        np.testing.assert_array_equal(np.diag(c), 1.0)
        assert np.all((c > 0) & (c <= 1))


# ----------------------------------------------------------------------------- known answers
def test_zero_threshold_joins_every_kept_point():
    g = lattice_graph(1.0, 0.0, image_size=16)
    n = g.num_sites
    assert len(g.edges) == n * (n - 1) // 2  # every pair overlaps
    rng = np.random.default_rng(0)
    for share in (0.01, 0.1, 0.5, 1.0):
        kept = sample_kept(n, share, 5, rng)
        np.testing.assert_array_equal(largest_cluster_sizes(g, kept), kept.sum(1))


def test_no_overlap_above_the_threshold_leaves_singletons():
    # On the torus every site sees the same neighbour overlap (no cropped bumps at an edge).
    sigma = 1.0
    nn = overlap_rendered(
        np.array([[8.5, 8.5]]), np.array([[9.5, 8.5]]), sigma, image_size=16, periodic=True
    )[0]
    assert nn == pytest.approx(math.exp(-1 / 4), abs=1e-3)
    g = lattice_graph(sigma, nn + 0.001, image_size=16, periodic=True)
    assert len(g.edges) == 0
    kept = sample_kept(g.num_sites, 0.7, 4, np.random.default_rng(1))
    np.testing.assert_array_equal(largest_cluster_sizes(g, kept), 1)
    lab = cluster_labels(g, kept[0])
    assert sorted(lab[lab >= 0].tolist()) == list(range(int(kept[0].sum())))
    c = mass_ratio_curve(g, np.array([0.2, 0.5, 1.0]), 3, seed=0)
    np.testing.assert_allclose(c.kept_mean * np.round(c.lambdas * g.num_sites), 1.0)
    assert math.isnan(c.critical_lambda)


def _interior_degree(g):
    k = g.axis_size
    return int(g.degrees()[(k // 2) * k + k // 2])


def test_nearest_neighbour_site_percolation_threshold():
    """Threshold between the NN (0.779) and next-NN (0.607) overlaps at sigma = 1: plain
    square-lattice site percolation, p_c = 0.5927."""
    g = lattice_graph(1.0, 0.7, image_size=128, measure="analytic")
    assert _interior_degree(g) == 4
    lam = np.arange(0.50, 0.701, 0.01)
    c = mass_ratio_curve(g, lam, num_draws=8, seed=0)
    assert c.critical_lambda == pytest.approx(0.5927, abs=0.03)
    assert c.kept_mean[0] < 0.2 and c.kept_mean[-1] > 0.9


def test_next_nearest_neighbour_site_percolation_threshold():
    """Links reach the diagonal neighbours too (threshold between exp(-1/2) and exp(-1)):
    the NN + NNN square lattice, p_c = 0.4073. Checks that links go beyond the NN."""
    g = lattice_graph(1.0, 0.5, image_size=128, measure="analytic")
    assert _interior_degree(g) == 8
    c = mass_ratio_curve(g, np.arange(0.32, 0.501, 0.01), num_draws=8, seed=0)
    assert c.critical_lambda == pytest.approx(0.4073, abs=0.03)


def test_rendered_narrow_bumps_link_the_eight_neighbours():
    """sigma = 0.5 px, threshold 0.05 on our lattice: NN (0.261) and diagonal (0.068) overlaps
    pass, the (2, 0) one (0.018) does not."""
    assert _interior_degree(lattice_graph(0.5, 0.05)) == 8


def test_wider_bumps_never_percolate_later_with_the_same_draws():
    lam = np.array([0.02, 0.05, 0.1, 0.2, 0.4])
    narrow = mass_ratio_curve(lattice_graph(0.75, 0.05, image_size=16), lam, 10, seed=3)
    wide = mass_ratio_curve(lattice_graph(1.5, 0.05, image_size=16), lam, 10, seed=3)
    assert np.all(wide.kept_mean >= narrow.kept_mean)
    assert np.any(wide.kept_mean > narrow.kept_mean)


def test_batched_largest_cluster_matches_one_draw_at_a_time():
    g = lattice_graph(0.75, 0.05, image_size=16)
    kept = sample_kept(g.num_sites, 0.15, 6, np.random.default_rng(2))
    batched = largest_cluster_sizes(g, kept)
    for row, size in zip(kept, batched):
        lab = cluster_labels(g, row)
        assert (lab == 0).sum() == size == np.bincount(lab[lab >= 0]).max()


def test_mass_ratio_curve_is_deterministic_in_its_seed():
    g = lattice_graph(1.0, 0.05, image_size=16)
    lam = np.array([0.05, 0.1, 0.2])
    a, b = mass_ratio_curve(g, lam, 5, seed=7), mass_ratio_curve(g, lam, 5, seed=7)
    other = mass_ratio_curve(g, lam, 5, seed=8)
    np.testing.assert_array_equal(a.kept_mean, b.kept_mean)
    np.testing.assert_array_equal(a.sites_std, b.sites_std)
    assert not np.array_equal(a.kept_mean, other.kept_mean)
    np.testing.assert_allclose(a.sites_mean, a.kept_mean * np.round(lam * 256) / 256)


def test_sample_kept_keeps_the_datasets_count():
    m = sample_kept(1024, 0.1, 7, np.random.default_rng(0))
    np.testing.assert_array_equal(m.sum(1), 102)
    assert sample_kept(10, 0.01, 2, np.random.default_rng(0)).sum(1).tolist() == [1, 1]


def test_critical_lambda_takes_the_last_upward_crossing():
    lam = np.linspace(0.1, 1.0, 10)
    r = np.array([0.6, 0.4, 0.2, 0.2, 0.2, 0.3, 0.6, 0.9, 1.0, 1.0])
    assert critical_lambda(lam, r) == pytest.approx(0.6 + 0.1 * 2 / 3)
    assert math.isnan(critical_lambda(lam, np.full(10, 0.3)))
    assert math.isnan(critical_lambda(lam, np.full(10, 0.9)))
    assert steepest_lambda(lam, r, window=1) == pytest.approx(0.7)


def test_bad_inputs_name_the_value():
    with pytest.raises(ValueError, match="measure = 'exact'"):
        lattice_graph(1.0, 0.05, measure="exact")
    with pytest.raises(ValueError, match="threshold = 1.0"):
        lattice_graph(1.0, 1.0)
    with pytest.raises(ValueError, match="sigma = -1"):
        lattice_graph(-1, 0.05)
    g = lattice_graph(1.0, 0.05, image_size=8)
    with pytest.raises(ValueError, match="shape"):
        largest_cluster_sizes(g, np.ones((2, 10), bool))
    with pytest.raises(ValueError, match="lambdas"):
        PercolationConfig(lambdas=(0.5, 0.2, 0.9)).validate()
    with pytest.raises(ValueError, match="share = 0"):
        sample_kept(10, 0, 1, np.random.default_rng(0))


# ----------------------------------------------------------------------------- outputs
def _tiny_config():
    return PercolationConfig(
        image_size=8,
        sigmas=(0.75, 1.5),
        thresholds=(0.05,),
        lambdas=(0.05, 0.2, 0.5, 1.0),
        num_draws=3,
        overlap_spacings=(0.0, 1.0, 2.0),
    )


def test_simulate_and_plot_writes_json_and_figures(tmp_path):
    paths = simulate_and_plot(tmp_path / "sim", _tiny_config())
    data = json.loads(paths["json"].read_text())
    assert data["lattice_sites"] == 64
    assert {(r["sigma"], r["threshold"]) for r in data["critical"]} == {(0.75, 0.05), (1.5, 0.05)}
    curve = data["curves"][0]
    assert len(curve["largest_over_kept_mean"]) == 4 and curve["num_draws"] == 3
    assert curve["largest_over_kept_mean"][-1] == 1.0  # everything kept: one cluster
    for name in ("overlap_vs_spacing", "mass_ratio_vs_lambda", "strength_vs_lambda", "clusters"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "sim").glob(".*"))  # no temporary files left


def test_cli_rejects_a_bad_measure_and_writes_nothing(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "x"), "--measure", "exact"]) == 2
    assert "error: measure = 'exact'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_percolation_figures_from_synthetic_arrays():
    lam = np.linspace(0.01, 1, 30)
    curves = {
        (s, t): (lam, 1 / (1 + np.exp(-(lam - 0.3 / s) * 20)), np.full(30, 0.05))
        for s in (0.5, 1.0)
        for t in (0.005, 0.05)
    }
    fig = plotting.plot_mass_ratio(curves, critical={(0.5, 0.05): 0.6, (1.0, 0.05): math.nan})
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert len(fig.axes[1].lines) == 2 + 1 + 1  # two curves, the 0.5 line, one critical tick
    d = np.linspace(0, 4, 9)
    fig = plotting.plot_overlap_vs_spacing(
        d, {1.0: overlap_closed_form(d, 1.0)}, {1.0: overlap_closed_form(d, 1.0)}, (0.05,), 1.0
    )
    assert len(fig.axes) == 2
    acc = np.stack([1 / (1 + np.exp(-(lam[::5] - 0.3) * 20))] * 3)  # (3 seeds, 6 shares)
    fig = plotting.plot_percolation_vs_accuracy(
        {1.0: (lam, curves[(1.0, 0.05)][1])}, {1.0: (lam[::5], acc)}, critical={1.0: 0.3}
    )
    ax = fig.axes[0]
    assert len(ax.containers) == 1  # the trained error bars
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), acc[0])
    # every seed as a thin line beside the mean, on a log axis labelled in plain numbers
    assert sum(line.get_gid() == plotting.SEED_GID for line in ax.lines) == 3
    fig = plotting.plot_percolation_vs_accuracy({}, {1.0: (lam[::5], acc)}, log_lambda=True)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "0.1" in labels and not any("10^" in t or "$" in t for t in labels)
    fig = plotting.plot_cluster_maps({0.1: -np.ones((4, 4), int), 0.5: np.eye(4, dtype=int)})
    assert len(fig.axes) == 2


def test_kept_mask_of_a_real_subsampled_dataset():
    cfg = DataConfig(image_size=16, sigma_x=1.0, sigma_y=1.0, subsample=0.3)
    ls = build_labels(cfg, seed=5)
    g = lattice_graph(1.0, 0.05, image_size=16)
    mask = kept_mask_from_labels(g, ls.labels)
    assert mask.sum() == len(ls.labels) == round(0.3 * 256)
    np.testing.assert_array_equal(g.labels[mask], ls.labels[np.lexsort(ls.labels.T)])
    with pytest.raises(ValueError, match="not a site"):
        kept_mask_from_labels(g, np.array([[1.0, 0.5]]))
