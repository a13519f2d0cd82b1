"""Persistent homology and the Betti rule on manifolds with known homology."""

import numpy as np
import pytest

from factordiff.analysis import (
    PersistentHomology,
    betti_numbers,
    circle,
    clifford_torus,
    condition_grid,
    ring_torus,
)


def torus_labels(n=32):
    return condition_grid(32, n, n)[0]


def test_betti_rule_on_synthetic_diagrams():
    inf = np.inf
    h0 = np.array([[0, 0.3]] * 50 + [[0, inf]])  # evenly spread points: equal bars
    h1 = np.array([[0.3, 3.3], [0.3, 1.5], [0.3, 0.6], [0.3, 0.55]])  # 3.0, 1.2, then noise
    h2 = np.array([[0.8, 1.5], [1.5, 1.6]])
    assert betti_numbers([h0, h1, h2]) == (1, 2, 1)
    # a smooth decay into the noise (no 2x gap among the long bars): nothing stands out
    decay = 3.0 * 0.7 ** np.arange(20)
    assert betti_numbers([h0, np.stack([np.zeros(20), decay], axis=1)]) == (1, 0)
    # a few bars and nothing shorter: all of them stand out (H2 of a clean torus)
    assert betti_numbers([h0, h1, np.array([[0.5, 1.9]])]) == (1, 2, 1)
    # a lone tiny bar is below min_relative_persistence of the longest bar
    assert betti_numbers([h0, h1, np.array([[1.0, 1.05]])]) == (1, 2, 0)
    # a second component far away
    assert betti_numbers([np.array([[0, 0.3]] * 20 + [[0, 5.0], [0, inf]])]) == (2,)
    with pytest.raises(ValueError, match="gap_ratio"):
        betti_numbers([h0], gap_ratio=1.0)


def test_circle_has_betti_1_1():
    ph = PersistentHomology(maxdim=2, n_landmarks=100).fit(
        circle(300, noise_std=0.02, random_state=0)
    )
    assert ph.betti_ == (1, 1, 0)
    assert len(ph.landmarks_) == 100 and ph.r_cover_ > 0
    ph1 = PersistentHomology(maxdim=1).fit(circle(100))
    assert ph1.betti_ == (1, 1) and len(ph1.diagrams_) == 2 and ph1.r_cover_ == 0


def test_clifford_torus_16_grid_h1_from_all_points_h2_from_landmarks():
    X = clifford_torus(torus_labels(16), 32)
    ph = PersistentHomology(n_landmarks=128).fit(X)
    assert ph.betti_ == (1, 2, 1)
    assert ph.n_points_h1_ == 256 and len(ph.landmarks_) == 128 and ph.r_cover_ > 0
    s = ph.summary()
    assert s["betti"] == [1, 2, 1] and len(s["longest_bars"]) == 3
    assert s["rule"]["h1_points"] == "all" and s["n_points_h1"] == 256
    # the rule before calibration, every dimension on the landmarks, is still available
    old = PersistentHomology(n_landmarks=128, h1_points="landmarks").fit(X)
    assert old.n_points_h1_ == 128
    with pytest.raises(ValueError, match="h1_points = 'some' is invalid"):
        PersistentHomology(h1_points="some").fit(X)


def test_duplicates_are_merged_and_bad_points_rejected():
    theta = np.repeat(
        np.linspace(0, 2 * np.pi, 40, endpoint=False), 25
    )  # 1,000 points, 40 distinct
    X = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    ph = PersistentHomology().fit(X)
    assert ph.betti_ == (1, 1, 0) and ph.n_points_h1_ == 40
    assert ph.landmarks_.max() < len(X)
    with pytest.raises(ValueError, match="NaN or inf"):
        PersistentHomology().fit(np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="single distinct point"):
        PersistentHomology().fit(np.ones((5, 2)))


@pytest.mark.slow
def test_clifford_torus_1024_points_has_torus_homology():
    """32 x 32 grid: H1 on all 1,024 points, H2 on 256 landmarks."""
    X = clifford_torus(torus_labels(32), 32)
    ph = PersistentHomology().fit(X)
    assert ph.betti_ == (1, 2, 1)
    assert len(ph.landmarks_) == 256 and ph.n_points_h1_ == 1024
    # its H1 time (target: under 2 minutes) is a benchmark figure: benchmarks/components.py


@pytest.mark.slow
@pytest.mark.parametrize("noise_std", [0.0, 0.05])
def test_ring_torus_has_torus_homology(noise_std):
    X = ring_torus(torus_labels(32), 32, noise_std=noise_std, random_state=0)
    assert PersistentHomology().fit(X).betti_ == (1, 2, 1)


def test_noise_and_a_sphere_are_not_tori():
    rng = np.random.default_rng(0)
    assert PersistentHomology(n_landmarks=150).fit(rng.normal(size=(400, 3))).betti_ == (1, 0, 0)
    sphere = rng.normal(size=(400, 3))
    sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
    assert PersistentHomology(n_landmarks=150).fit(sphere).betti_ == (1, 0, 1)


@pytest.mark.slow
def test_noisy_clifford_torus_24_grid():
    X = clifford_torus(torus_labels(24), 32, noise_std=0.1, random_state=0)
    assert PersistentHomology().fit(X).betti_ == (1, 2, 1)
