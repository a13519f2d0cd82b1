"""Issue 26, item 2: the value-cosine bounds of a loop of 32 values, the raw-images null and
the "not aligned" rule, each on clouds with known answers."""

import numpy as np
import pytest

from factordiff.analysis.calibration import bump_images, bump_torus_effective_dimension
from factordiff.analysis.control import NOT_ALIGNED_BELOW, RULES
from factordiff.analysis.nulls import (
    beyond_raw,
    map_raw_reading,
    null_calibration,
    null_table_markdown,
    raw_images_representation,
    raw_images_summary,
)
from factordiff.analysis.value_bounds import (
    THRESHOLD,
    cosine_stats,
    generic_crossing,
    harmonic_frame,
    loop_cosines,
    loop_participation_ratio,
    lowest_median_harmonic_frame,
    random_cloud,
    random_flat_cloud,
    replace_between,
    smooth_loop,
    table_markdown,
    value_cosine_table,
    welch_rms_bound,
)
from factordiff.config import DataConfig

RAW = {  # the raw images of the 32 x 32 grid of 32 x 32 bumps (calibration)
    "effective_dimension": 163.07,
    "factorization": {
        "orthogonality_xy": 0.0227,
        "value_cosine_x": 0.1246,
        "value_cosine_y": 0.1246,
    },
}


# ----------------------------------------------------------------------------- value bounds
def test_orthonormal_values_are_orthogonal_until_centred_then_a_simplex():
    V = np.eye(32)  # 32 values, exactly orthogonal in D = 32
    gram = V @ V.T
    assert np.all(gram[~np.eye(32, dtype=bool)] == 0)
    # the rule centres each loop first: the regular simplex, every cosine -1/31
    cos = loop_cosines(V)
    assert cos.shape == (32 * 31 // 2,)
    np.testing.assert_allclose(cos, -1 / 31, atol=1e-12)
    assert cosine_stats(cos)["median"] == pytest.approx(1 / 31)
    assert welch_rms_bound(32, 31) == pytest.approx(1 / 31) == welch_rms_bound(32, 1000)


def test_centred_cosines_can_never_all_be_zero_and_respect_the_bound():
    rng = np.random.default_rng(0)
    for dim in (4, 7, 9, 16, 31, 64, 256):
        V = random_cloud(32, dim, rng)
        cos = loop_cosines(V)
        # sum_i v_i = 0 after centring: sum_{i != j} v_i . v_j = -sum |v_i|^2 < 0
        c = V - V.mean(axis=0)
        off = (c @ c.T)[~np.eye(32, dtype=bool)].sum()
        assert off == pytest.approx(-np.sum(c**2))
        assert cos.min() < -1e-3
        assert cosine_stats(cos)["rms"] >= welch_rms_bound(32, dim) - 1e-12
    for dim in (4, 7, 9, 16):
        flat = random_flat_cloud(32, dim, rng)
        assert loop_participation_ratio(flat) == pytest.approx(dim)
        assert cosine_stats(loop_cosines(flat))["rms"] >= welch_rms_bound(32, dim) - 1e-12
    # equal norms and a flat spectrum (a harmonic frame without Nyquist) attain the bound
    for freqs in ([1, 2, 3, 4], [2, 6, 10, 14], [1, 15]):
        V = harmonic_frame(32, freqs)
        dim = 2 * len(freqs)
        assert cosine_stats(loop_cosines(V))["rms"] == pytest.approx(welch_rms_bound(32, dim))
    # the 2D smooth loop is the circle of the calibration table: median |cos| 0.71
    assert cosine_stats(loop_cosines(smooth_loop(32, 2)))["median"] == pytest.approx(
        np.sqrt(0.5), abs=0.01
    )
    with pytest.raises(ValueError, match="frequency 17 is invalid"):
        harmonic_frame(32, [17])
    with pytest.raises(ValueError, match="dim = 32 is invalid"):
        random_flat_cloud(32, 32, rng)


def test_value_cosine_table_reads_the_known_regimes():
    rows = value_cosine_table(dims=(4, 7, 8, 10), draws=40)
    by = {r["dim"]: r for r in rows}
    # generic clouds stay above the 0.2 threshold at D <= 9 ...
    for d in (4, 7, 8):
        assert by[d]["random"]["p5"] > THRESHOLD and by[d]["flat_spectrum"]["median"] > THRESHOLD
    assert 0.25 < by[7]["random"]["median"] < 0.31
    assert by[10]["flat_spectrum"]["median"] < THRESHOLD  # ... flat-spectrum ones reach it at 10
    assert generic_crossing(rows, "flat_spectrum") == 10 and generic_crossing(rows) == 10
    assert generic_crossing(rows, "random") is None
    # the median has no lower bound: a harmonic loop in 8 dimensions has median 0 and no two
    # values on one line; its root mean square sits at the bound
    freqs, best = lowest_median_harmonic_frame(32, 8)
    assert best["median"] < 1e-9 and best["shared_line"] == 0
    assert best["rms"] == pytest.approx(welch_rms_bound(32, 8))
    assert by[8]["lowest_harmonic"]["freqs"] == list(freqs)
    text = table_markdown(rows)
    assert text.count("\n") == 2 + len(rows) and "**0.000**" in text


def test_tables_go_between_their_markers(tmp_path):
    doc = tmp_path / "analysis.md"
    doc.write_text("before\n<!-- a -->\nold\n<!-- b -->\nafter\n")
    replace_between(doc, "<!-- a -->", "<!-- b -->", "new\n")
    assert doc.read_text() == "before\n<!-- a -->\nnew\n<!-- b -->\nafter\n"
    with pytest.raises(ValueError, match="no <!-- c -->"):
        replace_between(doc, "<!-- c -->", "<!-- b -->", "x\n")


# ----------------------------------------------------------------------------- raw images
def test_raw_images_are_the_bump_torus_of_the_calibration():
    data = DataConfig(image_size=32, periodic=True)
    rep = raw_images_representation(data, 32)
    assert rep.grid_shape == (32, 32) and rep.dim == 32 * 32
    np.testing.assert_allclose(rep.X, bump_images(32, periodic=True), atol=1e-6)
    raw = raw_images_summary(data, 32, topology=False)
    f = raw["factorization"]
    # the numbers: effective dimension 163, x-on-y 0.023
    assert raw["effective_dimension"] == pytest.approx(bump_torus_effective_dimension(32), 1e-6)
    assert f["orthogonality_xy"] == pytest.approx(0.0227, abs=1e-4)
    assert f["value_cosine_x"] == pytest.approx(0.1246, abs=1e-4)
    assert f["parallelism_xx"] < 1e-10 and f["parallelism_yy"] < 1e-10
    assert RULES["not_aligned"].passes(raw) and RULES["orthogonal"].passes(raw)
    # cached per setting, and a copy each time
    raw["effective_dimension"] = -1
    assert raw_images_summary(data, 32, topology=False)["effective_dimension"] > 160


def test_nothing_is_beyond_the_raw_images_but_what_is_nearer_the_claim():
    for rule, raw in (
        ("orthogonal", 0.023),
        ("superfactored", (0.125, 0.125)),
        ("effective_dimension_about_7", 163.0),
    ):
        assert beyond_raw(rule, raw, raw) is False  # the pixels themselves
    # the decoder setting: x-on-y 0.024 against 0.023, D 164 against 163
    assert beyond_raw("orthogonal", 0.024, 0.023) is False
    assert beyond_raw("effective_dimension_about_7", 164.0, 163.0) is False
    assert beyond_raw("orthogonal", 0.01, 0.023) is True
    assert beyond_raw("effective_dimension_about_7", 7.5, 163.0) is True
    assert beyond_raw("superfactored", (0.1, 0.2), (0.125, 0.125)) is False  # every component
    assert beyond_raw("superfactored", (None, 0.1), (0.125, 0.125)) is False
    assert beyond_raw("b1_is_2", 2, 2) is None and beyond_raw("not_aligned", (0, 0), (0, 0)) is None


def test_the_map_read_against_both_nulls():
    def row(xy, held, d):
        return {
            "orthogonal": {"value": xy, "passes": xy <= 0.2, "reproduced": held},
            "not_aligned": {"value": [0.1, 0.1], "passes": True, "reproduced": True},
            "effective_dimension_about_7": {"value": d, "passes": False, "reproduced": False},
        }

    raw = {
        "effective_dimension": 163.0,
        "factorization": {
            "orthogonality_xy": 0.023,
            "orthogonal": True,
            "parallelism_xx": 0.0,
            "parallelism_yy": 0.0,
        },
    }
    rows = [row(0.024, True, 164.0), row(0.01, True, 12.0), row(0.01, False, 7.0)]
    from factordiff.experiments.exp1 import effective_dimension_rule

    rules = ["orthogonal", "not_aligned", effective_dimension_rule(2.0)]
    out = map_raw_reading(rows, rules, raw)
    assert out["orthogonal"] == {
        "raw_value": 0.023,
        "raw_passes": True,
        "applies": True,
        "beyond_raw": 2,
        "holds_both": 1,  # the pixel-like setting held against the control only
    }
    assert out["not_aligned"]["applies"] is False and out["not_aligned"]["holds_both"] is None
    assert out["not_aligned"]["raw_passes"] is True
    assert out["effective_dimension_about_7"]["beyond_raw"] == 2
    assert out["effective_dimension_about_7"]["holds_both"] == 0


def test_not_aligned_and_the_raw_images_null_give_the_known_answers():
    """16 x 16 grid (fast), clean and at noise 0.1."""
    cal = null_calibration(n=16, noise_levels=(0.0, 0.1))
    assert cal["not_aligned_below"] == NOT_ALIGNED_BELOW == 0.2
    assert all(r["agrees"] for r in cal["rows"]), [r for r in cal["rows"] if not r["agrees"]]
    clean = {r["cloud"]: r["beyond_raw"] for r in cal["rows"] if r["noise_level"] == 0}
    ortho, sup, ed = "orthogonal", "superfactored", "effective_dimension_about_7"
    assert clean["bump_torus"] == {ortho: False, sup: False, ed: False}  # the null itself
    assert clean["clifford_torus"] == {ortho: True, sup: False, ed: True}
    assert clean["random_features"][ed] is False and clean["random_features"][ortho] is True
    assert clean["ring_torus"] == {ortho: False, sup: False, ed: True}
    # noisy pixels: never nearer 7 than the pixels (noise adds dimensions)
    noisy = [r for r in cal["rows"] if r["cloud"].startswith("bump") and r["noise_level"] > 0]
    assert all(r["beyond_raw"][ed] is False for r in noisy)
    assert "| bump_torus | 0.0 |" in null_table_markdown(cal)


def test_a_map_written_before_the_second_null_is_read_against_it(tmp_path):
    from factordiff.analysis.nulls import map_csv_reading

    path = tmp_path / "map.csv"
    path.write_text(
        "epoch,layer,t,pooling,n_noise,rule,value,passes,control_value,control_passes,reproduced\n"
        "200,up3,999,flatten,1,orthogonal,0.024,True,0.3,False,True\n"
        "200,mid,999,flatten,1,orthogonal,0.01,True,0.3,False,True\n"
        '200,up3,999,flatten,1,superfactored,"[0.11, 0.12]",True,"[0.3, 0.3]",False,True\n'
        "200,up3,999,flatten,1,effective_dimension_about_7,164.2,False,3.0,False,False\n"
        "200,mid,999,flatten,1,effective_dimension_about_7,,False,3.0,False,False\n"
    )
    out = map_csv_reading(path, RAW)
    assert out["orthogonal"] == {"holds": 2, "beyond_raw": 1, "holds_both": 1, "layers": {"mid": 1}}
    assert out["superfactored"]["holds_both"] == 1  # below the pixels' 0.125: not caught
    assert out["effective_dimension_about_7"]["beyond_raw"] == 0
