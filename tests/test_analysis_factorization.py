"""Orthogonality, parallelism and superfactoring on the ideal references."""

import numpy as np
import pytest

from factordiff.analysis import (
    FactorizationTest,
    Representation,
    condition_grid,
    reference_representation,
)


def reference(kind, n=16, **kw):
    labels, shape = condition_grid(32, n, n)
    like = Representation(np.zeros((n * n, 1)), labels, shape, {"image_size": 32})
    return reference_representation(kind, like, **kw)


def test_clifford_torus_is_orthogonal_and_parallel_not_superfactored():
    f = FactorizationTest().fit(reference("clifford_torus"))
    assert f.orthogonality_ == pytest.approx(0.0, abs=1e-12)
    assert f.parallelism_x_ == pytest.approx(1.0) and f.parallelism_y_ == pytest.approx(1.0)
    assert f.is_orthogonal_ and f.is_parallel_x_ and f.is_parallel_y_
    assert not f.is_superfactored_
    # a circle: |cos| of centred values spread over [0, 1], neighbours nearly aligned
    assert f.value_cosine_x_ == pytest.approx(np.cos(np.pi / 4), abs=0.05)
    assert f.neighbour_cosine_x_ == pytest.approx(np.cos(2 * np.pi / 16))
    assert f.similarity_xy_.shape == (16 * 16,)
    assert f.similarity_xx_.shape == (16 * 15 // 2,) and f.cosines_xy_.shape == (256, 2)


def test_ring_torus_is_not_orthogonal_by_the_same_rule():
    f = FactorizationTest().fit(reference("ring_torus"))
    # x- and y-loops share the radial direction: principal cosines (1, 0), similarity 1/2
    assert f.orthogonality_ == pytest.approx(0.5)
    np.testing.assert_allclose(np.sort(f.cosines_xy_, axis=1), [[0.0, 1.0]] * 256, atol=1e-9)
    assert not f.is_orthogonal_
    assert f.is_parallel_x_  # every x-loop lies in the horizontal plane
    assert not f.is_parallel_y_  # y-loops turn with x: similarity (1 + cos^2 dx) / 2
    assert f.parallelism_y_ == pytest.approx(0.75, abs=0.03)


def test_random_features_are_superfactored():
    f = FactorizationTest().fit(reference("random_feature_torus", random_state=1))
    assert f.is_superfactored_
    assert f.value_cosine_x_ < 0.1 and f.value_cosine_y_ < 0.1
    assert f.is_orthogonal_  # independent vectors: x- and y-loops nearly orthogonal...
    assert not (f.is_parallel_x_ or f.is_parallel_y_)  # ...and so are x-loops among each other
    assert f.parallelism_x_ == pytest.approx(f.chance_similarity_, abs=0.02)


def test_verdicts_survive_moderate_noise():
    f = FactorizationTest().fit(reference("clifford_torus", noise_std=0.1, random_state=0))
    assert f.is_orthogonal_ and f.is_parallel_x_ and f.is_parallel_y_
    assert not f.is_superfactored_
    g = FactorizationTest().fit(reference("ring_torus", noise_std=0.1, random_state=0))
    assert not g.is_orthogonal_


def test_summary_is_json_ready_and_degenerate_loops_are_nan():
    import json

    labels, shape = condition_grid(32, 4, 4)
    X = np.zeros((16, 3))
    X[:, 0] = labels[:, 0]  # depends on x only: y-loops are single points
    f = FactorizationTest().fit(Representation(X, labels, shape))
    assert np.isnan(f.similarity_xy_).all() and np.isnan(f.orthogonality_)
    assert not f.is_orthogonal_
    s = f.summary()
    json.dumps(s)
    assert s["orthogonality_xy"] is None and s["rule"]["orthogonal_below"] == 0.2


def test_grid_too_small_or_missing_is_a_clear_error():
    labels, shape = condition_grid(32, 3, 8)
    rep = Representation(np.random.default_rng(0).normal(size=(24, 5)), labels, shape)
    with pytest.raises(ValueError, match=r"grid 3 x 8 is too small.*n_x, n_y >= 4"):
        FactorizationTest().fit(rep)
    labels, shape = condition_grid(32, 4, 4)
    rep = Representation(np.random.default_rng(0).normal(size=(16, 5)), labels, None)
    with pytest.raises(ValueError, match="needs conditions on a grid"):
        FactorizationTest().fit(rep)
    rep = Representation(np.random.default_rng(0).normal(size=(16, 5)), labels, shape)
    with pytest.raises(ValueError, match="n_x, n_y >= 5"):
        FactorizationTest(n_dims=4).fit(rep)


def test_loop_bases_span_the_exact_svds_top_subspace():
    """The Gram-matrix loop bases are orthonormal and span the subspace of the top singular
    vectors of each centred loop; a loop of rank 1 has no 2D subspace."""
    from factordiff.analysis.factorization import _loop_bases

    rng = np.random.default_rng(3)
    loops = rng.standard_normal((5, 12, 3)) @ rng.standard_normal((3, 400))
    loops[4] = np.outer(np.arange(12.0), rng.standard_normal(400))  # rank 1 after centring
    bases, valid = _loop_bases(loops, 2)
    assert bases.shape == (5, 400, 2)
    assert valid.tolist() == [True, True, True, True, False]
    for b, loop in zip(bases[:4], loops[:4], strict=True):
        _, _, vt = np.linalg.svd(loop - loop.mean(axis=0), full_matrices=False)
        np.testing.assert_allclose(b.T @ b, np.eye(2), atol=1e-10)
        np.testing.assert_allclose(b @ b.T, vt[:2].T @ vt[:2], atol=1e-10)  # same projector
