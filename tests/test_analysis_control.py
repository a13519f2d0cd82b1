"""The control rule on a hand-made pair of representations."""

import numpy as np
import pytest

from factordiff.analysis import Representation, condition_grid, summarize_representation
from factordiff.analysis.control import (
    RULES,
    controlled,
    effective_dimension_rule,
    judge,
)
from factordiff.analysis.references import clifford_torus, random_feature_torus


@pytest.fixture(scope="module")
def pair():
    """A 'trained' representation (a Clifford torus embedded in 64 dims) and a 'control'
    (random features of the same conditions)."""
    labels, shape = condition_grid(16, 16, 16)
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((64, 4)))  # (64, 4) orthonormal
    trained = Representation(clifford_torus(labels, 16) @ basis.T, labels, shape)
    control = Representation(random_feature_torus(labels, dim=64, random_state=0), labels, shape)
    kw = {"topology": True, "n_landmarks": 64}
    return summarize_representation(trained, **kw), summarize_representation(control, **kw)


def test_controlled_truth_table():
    assert controlled(True, False) == (True, controlled(True, False)[1])
    assert controlled(True, True)[0] is False and "control" in controlled(True, True)[1]
    assert controlled(False, False)[0] is False and "trained" in controlled(False, False)[1]
    assert controlled(False, True)[0] is False


def test_judge_needs_the_control_to_fail(pair):
    trained, control = pair
    # both are orthogonal (random features are nearly orthogonal too): not reproduced
    v = judge(trained, control, "orthogonal")
    assert v.trained_passes and v.control_passes and not v.reproduced
    assert "control" in v.reason and v.trained_value == pytest.approx(0.0, abs=1e-9)
    # parallel loops and the torus: the trained passes, the control does not
    for rule in ("parallel", "torus", "b1_is_2"):
        v = judge(trained, control, rule)
        assert v.trained_passes and not v.control_passes and v.reproduced, rule
    # superfactored: the control passes, the trained fails
    v = judge(trained, control, "superfactored")
    assert not v.trained_passes and v.control_passes and not v.reproduced
    # swapping the roles never reproduces a claim the control passes
    assert not judge(control, trained, "orthogonal").reproduced
    ed = judge(trained, control, effective_dimension_rule(5))
    assert ed.reproduced and ed.trained_value == pytest.approx(4.0)
    d = v.as_dict()
    assert d["rule"] == "superfactored" and d["reproduced"] is False


def test_judge_errors_name_the_problem(pair):
    trained, control = pair
    with pytest.raises(ValueError, match="rule = 'nope' is invalid"):
        judge(trained, control, "nope")
    with pytest.raises(ValueError, match="Betti"):
        judge({"betti": None}, control, "torus")
    with pytest.raises(ValueError, match="factorization value"):
        judge({"effective_dimension": 2.0}, control, "orthogonal")
    with pytest.raises(ValueError, match="max_dimension"):
        effective_dimension_rule(0)
    assert set(RULES) >= {"orthogonal", "parallel", "superfactored", "torus"}
