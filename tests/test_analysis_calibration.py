"""Calibration: every rule on clouds whose answers are known by construction."""

import json

import numpy as np
import pytest

from factordiff.analysis import PersistentHomology
from factordiff.analysis.calibration import (
    CLOUDS,
    KNOWN_ANSWERS,
    TABLE_END,
    TABLE_START,
    add_relative_noise,
    bump_torus_effective_dimension,
    calibration_cloud,
    calibration_table_markdown,
    compare_with_known,
    judge_cloud,
    known_effective_dimension,
    write_calibration_docs,
)

LOOP_RULES = (
    "orthogonal",
    "parallel_x",
    "parallel_y",
    "superfactored",
    "not_aligned",
    "effective_dimension",
)


@pytest.mark.parametrize("noise_level", [0.0, 0.1])
@pytest.mark.parametrize("name", CLOUDS)
def test_loop_rules_and_effective_dimension_give_the_known_answers(name, noise_level):
    """The 32 x 32 grid of the calibration table; no persistent homology (fast)."""
    row = judge_cloud(calibration_cloud(name, 32, noise_level), topology=False)
    agrees = compare_with_known(row, name, 32, noise_level)
    if name == "circle" and noise_level > 0:
        # Known limit, reported in the table: y-loops of pure noise in the circle's own plane
        # span that plane, so the parallelism rule calls y "parallel".
        assert row["parallel_y"] and row["parallelism_yy"] > 0.95
        agrees.pop("parallel_y")
    assert all(v is not False for k, v in agrees.items() if k in LOOP_RULES), (row, agrees)
    if noise_level == 0 and known_effective_dimension(name, 32) is not None:
        assert agrees["effective_dimension"] is True


@pytest.mark.parametrize("noise_level", [0.0, 0.1])
@pytest.mark.parametrize("name", CLOUDS)
def test_loop_rules_on_the_16_x_16_map_grid_give_the_known_answers(name, noise_level):
    """exp1-quick's sensitivity map judges 16 x 16 conditions of the 32 x 32 frame (2 px
    apart): every loop rule still gives the known answer there, and the effective dimension
    of the ideal tori and the circle is unchanged (exact on any regular grid)."""
    full = calibration_cloud(name, 32, noise_level)
    coarse = full.subgrid(2)
    assert coarse.grid_shape == (16, 16) and coarse.dim == full.dim
    np.testing.assert_array_equal(coarse.labels[1], full.labels[2])  # (x_0, y_2)
    row = judge_cloud(coarse, topology=False)
    agrees = compare_with_known(row, name, 32, noise_level)
    if name == "circle" and noise_level > 0:  # the known limit of the 32 x 32 test above
        agrees.pop("parallel_y")
    loop_rules = ("orthogonal", "parallel_x", "parallel_y", "superfactored", "not_aligned")
    assert all(agrees[k] is True for k in loop_rules if k in agrees), (row, agrees)
    if noise_level == 0 and name in ("clifford_torus", "ring_torus", "circle"):
        assert row["effective_dimension"] == pytest.approx(
            known_effective_dimension(name, 32), rel=1e-6
        )
    with pytest.raises(ValueError, match="step = 0 is invalid"):
        full.subgrid(0)


def test_bump_images_are_superfactored_orthogonal_and_not_parallel_by_construction():
    row = judge_cloud(calibration_cloud("bump_torus", 32), topology=False)
    # far-apart centred bumps: cos = -(2 pi / n) / (sqrt(pi) - 2 pi / n) (1D profiles)
    far = (2 * np.pi / 32) / (np.sqrt(np.pi) - 2 * np.pi / 32)
    assert row["value_cosine_x"] == pytest.approx(far, abs=0.01)
    assert row["orthogonality_xy"] < 0.05 and row["parallelism_xx"] < 0.05
    # the PCA of the bump torus matches its exact circulant spectrum
    assert row["effective_dimension"] == pytest.approx(bump_torus_effective_dimension(32), 1e-4)


def test_known_effective_dimensions():
    assert known_effective_dimension("ring_torus", 32) == pytest.approx(25 / 10.375)
    assert known_effective_dimension("clifford_torus", 8) == 4.0
    assert known_effective_dimension("bump_square", 32) is None
    # wider bumps have a narrower spectrum: fewer effective dimensions
    assert bump_torus_effective_dimension(16, 2.0) < bump_torus_effective_dimension(16, 1.0)
    with pytest.raises(ValueError, match="cloud = 'torus' is invalid"):
        known_effective_dimension("torus", 32)


def test_relative_noise_has_the_stated_norm():
    X = np.random.default_rng(0).normal(size=(2000, 50)) * 3.0
    noisy = add_relative_noise(X, 0.2, random_state=1)
    rms = np.sqrt(np.mean(np.sum((X - X.mean(0)) ** 2, axis=1)))
    assert np.mean(np.linalg.norm(noisy - X, axis=1)) == pytest.approx(0.2 * rms, rel=0.02)
    assert add_relative_noise(X, 0.0) is X
    with pytest.raises(ValueError, match="noise level"):
        add_relative_noise(X, -1.0)


@pytest.mark.parametrize(
    "name", ["clifford_torus", "bump_torus", "bump_square", "circle", "random_features"]
)
def test_h1_from_all_points_gives_the_known_b1(name):
    """H0 and H1 on a 16 x 16 grid (256 points, N = 16 frame), clean and noisy."""
    for level in (0.0, 0.1):
        ph = PersistentHomology(maxdim=1).fit(calibration_cloud(name, 16, level).X)
        assert ph.betti_ == KNOWN_ANSWERS[name].betti[:2], (name, level, ph.summary())


@pytest.mark.slow
def test_landmark_h1_loses_the_bump_torus_that_all_points_keep():
    """The evidence for the H1 rule change (docs/analysis.md, Topology)."""
    X = calibration_cloud("bump_torus", 32).X
    old = PersistentHomology(maxdim=1, h1_points="landmarks", n_landmarks=256).fit(X)
    assert old.betti_[1] != 2 and old.r_cover_ > 3.0
    new = PersistentHomology(maxdim=1).fit(X)
    assert new.betti_ == (1, 2) and new.n_points_h1_ == 1024
    bars = np.sort(np.diff(new.diagrams_[1], axis=1).ravel())[::-1]
    assert bars[1] > 2 * bars[2]  # two loops of 2.66, then 0.79


@pytest.mark.slow
@pytest.mark.parametrize("noise_level", [0.0, 0.1])
@pytest.mark.parametrize("name", CLOUDS)
def test_betti_numbers_on_the_32_grid(name, noise_level):
    row = judge_cloud(calibration_cloud(name, 32, noise_level))
    b = row["betti"]
    assert b[:2] == list(KNOWN_ANSWERS[name].betti[:2]), row
    # the H1 time of a 1,024-point cloud is a benchmark figure (benchmarks/components.py)


def test_table_and_docs_writer(tmp_path):
    rows = []
    for name in ("circle", "random_features"):
        row = judge_cloud(calibration_cloud(name, 16), maxdim=1)
        row.update(
            cloud=name,
            noise_level=0.0,
            known={"betti": [1, 1, 0], "effective_dimension": 2.0},
            agrees=compare_with_known(row, name, 16, 0.0),
        )
        rows.append(row)
    table = calibration_table_markdown(rows)
    assert (
        table.count("\n") == 4 and "| circle | 0.0 | (1, 1) (1, 1, 0) | n/a | 1.00 | n/a" in table
    )
    assert "| 0.71 / n/a | 2.0 (2.0) | no | yes | no | no | no |" in table  # + not aligned
    doc = tmp_path / "analysis.md"
    doc.write_text(f"intro\n{TABLE_START}\nold\n{TABLE_END}\nend\n")
    out = tmp_path / "results" / "calibration.json"
    write_calibration_docs(rows, doc, out, {"n": 8})
    text = doc.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("end\n")
    assert json.loads(out.read_text())["settings"] == {"n": 8}
    (tmp_path / "plain.md").write_text("no markers")
    with pytest.raises(ValueError, match="no <!-- calibration-table:start"):
        write_calibration_docs(rows, tmp_path / "plain.md", tmp_path / "x.json", {})
    assert not (tmp_path / "x.json").exists()


def test_calibration_command_line_help_and_bad_root(tmp_path):
    """`--help` prints the usage (it used to be read as the root folder); a root without
    docs/analysis.md exits 2 naming it, before any computation, and writes nothing."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "factordiff.analysis.calibration"]
    ok = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("usage:")
    bad = tmp_path / "nowhere"
    out = subprocess.run([*cmd, str(bad)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert f"root '{bad}' is invalid; allowed: a folder holding docs/analysis.md" in out.stderr
    assert not bad.exists()


def test_calibration_grid_16_markers_and_command_line(tmp_path):
    """The 16 x 16 table goes between its own markers (the 32 x 32 table is left alone);
    `--n` outside the grids the docs hold exits 2 naming the value and the allowed ones,
    before any computation; a document without the 16 x 16 markers gets nothing written."""
    import subprocess
    import sys

    from factordiff.analysis.calibration import GRIDS, main, table_markers

    assert GRIDS[0] == 32 and 16 in GRIDS
    start16, end16 = table_markers(16)
    assert start16 == "<!-- calibration-table-n16:start -->" and (start16, end16) != (
        TABLE_START,
        TABLE_END,
    )
    row = judge_cloud(calibration_cloud("circle", 16), maxdim=1)
    row.update(
        cloud="circle",
        noise_level=0.0,
        known={"betti": [1, 1, 0], "effective_dimension": 2.0},
        agrees=compare_with_known(row, "circle", 16, 0.0),
    )
    doc = tmp_path / "analysis.md"
    doc.write_text(f"{TABLE_START}\nkeep32\n{TABLE_END}\n{start16}\nold16\n{end16}\n")
    write_calibration_docs([row], doc, tmp_path / "c16.json", {"n": 16}, n=16)
    text = doc.read_text()
    assert "keep32" in text and "old16" not in text and "| circle | 0.0 |" in text
    # main checks the markers of its grid before computing anything
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "analysis.md").write_text(f"{TABLE_START}\n{TABLE_END}\n")
    with pytest.raises(ValueError, match="calibration-table-n16:start"):
        main(root, n=16)
    assert not (root / "docs" / "results").exists()
    with pytest.raises(ValueError, match="n = 24 is invalid; allowed: 32, 16"):
        main(root, n=24)
    cmd = [sys.executable, "-m", "factordiff.analysis.calibration", str(root), "--n", "24"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--n 24 is invalid; allowed: 32, 16" in out.stderr
    assert not (root / "docs" / "results").exists()
