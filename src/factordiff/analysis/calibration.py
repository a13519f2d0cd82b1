"""Calibration: run every rule on point clouds whose answers are known by construction.

Before a rule judges a model it must give the right answer on clouds built to have one. Each
cloud lives on the ``n x n`` condition grid of an ``N = n`` image frame (labels at pixel
centres, :func:`condition_grid`), optionally with isotropic Gaussian noise:

============== ======================================================= ===========
cloud          construction                                            Betti
============== ======================================================= ===========
ring_torus     3D donut, R = 2, r = 1 (x around the axis, y the tube)  (1, 2, 1)
clifford_torus 4D flat torus ``(cos tx, sin tx, cos ty, sin ty)``       (1, 2, 1)
bump_torus     periodic Gaussian bump images (sigma = 1 px), pixels    (1, 2, 1)
bump_square    non-periodic bump images (the frame is a square)        (1, 0, 0)
circle         ``(cos tx, sin tx)``: x only, y is ignored              (1, 1, 0)
random_features an independent N(0, I / 256) vector per condition      (1, 0, 0)
============== ======================================================= ===========

Noise (OUR choice): ``level`` times the cloud's RMS distance to its centroid is the expected
norm of the noise vector, spread evenly over the coordinates (per-coordinate standard
deviation ``level * rms / sqrt(d)``), so one level is equally strong for a 3D torus and for
1,024-pixel images. Levels 0.1 (the answers must hold) and 0.3 (a stress test; failures are
reported, not hidden).

Known answers of the loop rules (:class:`FactorizationTest`), by construction:

- Clifford torus: x and y in orthogonal planes: orthogonal, parallel in x and in y, not
  superfactored (a loop is a circle).
- ring torus: x- and y-loops share the radial direction: not orthogonal; x parallel (every
  x-loop is horizontal), y not (y-loops turn with x); not superfactored.
- bump images (torus and square): an image is the outer product ``g_x(mu_x) g_y(mu_y)^T`` of
  two 1D profiles, so an x-loop spans ``{shifts of g_x} x g_y(y_j)``: x-loops at different y
  lie in nearly orthogonal subspaces (not parallel), x- and y-loops are nearly orthogonal,
  and images more than ~3 px apart are nearly orthogonal: superfactored.
- circle: y has no loop (no variance): not orthogonal, not parallel in y, not superfactored;
  parallel in x (every x-loop is the same circle).
- random features: orthogonal, not parallel, superfactored.

"Not aligned" (x-on-x and y-on-y both at most ``NOT_ALIGNED_BELOW``; the paper's reading of
the parallelism test): the bump images' and random features' loops at different values lie in
nearly orthogonal subspaces (not aligned); the Clifford torus and the circle have the same
x-loop at every y, and the ring torus's x-loops are all horizontal circles (aligned in x).

Effective dimension (participation ratio), exact where known: circle 2, Clifford torus 4,
ring torus ``25 / 10.375 = 2.41``, periodic bump images from the Fourier spectrum of one
bump (:func:`bump_torus_effective_dimension`, the covariance of all cyclic shifts of an image
is circulant), random features about ``n d / (n + d)`` (Marchenko-Pastur).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from factordiff.analysis.control import RULES
from factordiff.analysis.grid import Representation, condition_grid
from factordiff.analysis.pipeline import RepresentationAnalysis
from factordiff.analysis.references import clifford_torus, random_feature_torus, ring_torus
from factordiff.config import json_ready

CLOUDS = (
    "ring_torus",
    "clifford_torus",
    "bump_torus",
    "bump_square",
    "circle",
    "random_features",
)

#: Noise levels of the calibration table (relative to the cloud's RMS radius; OUR choice).
NOISE_LEVELS = (0.0, 0.1, 0.3)

#: Dimension of the random-feature cloud.
RANDOM_FEATURE_DIM = 256

#: Relative tolerance of the effective-dimension check against its known value.
ED_TOLERANCE = 0.1

#: The markers between which :func:`write_calibration_docs` puts the table.
TABLE_START = "<!-- calibration-table:start -->"
TABLE_END = "<!-- calibration-table:end -->"


@dataclass(frozen=True)
class KnownAnswer:
    """What each rule must report on a clean cloud (module docstring)."""

    betti: tuple[int, int, int]
    orthogonal: bool
    parallel_x: bool
    parallel_y: bool
    superfactored: bool
    periodic: bool  # whether the grid's loops close
    description: str
    not_aligned: bool  # x-on-x and y-on-y both <= NOT_ALIGNED_BELOW (module docstring)


KNOWN_ANSWERS: dict[str, KnownAnswer] = {
    "ring_torus": KnownAnswer((1, 2, 1), False, True, False, False, True, "3D ring torus", False),
    "clifford_torus": KnownAnswer(
        (1, 2, 1), True, True, True, False, True, "4D Clifford torus", False
    ),
    "bump_torus": KnownAnswer(
        (1, 2, 1), True, False, False, True, True, "periodic bump images", True
    ),
    "bump_square": KnownAnswer(
        (1, 0, 0), True, False, False, True, False, "bump images, square", True
    ),
    "circle": KnownAnswer((1, 1, 0), False, True, False, False, True, "circle in x only", False),
    "random_features": KnownAnswer(
        (1, 0, 0), True, False, False, True, True, "random vector per condition", True
    ),
}


def _check_cloud(name: str) -> KnownAnswer:
    if name not in KNOWN_ANSWERS:
        raise ValueError(f"cloud = {name!r} is invalid; allowed: {list(CLOUDS)}")
    return KNOWN_ANSWERS[name]


def bump_images(n: int, periodic: bool, sigma_px: float = 1.0) -> np.ndarray:
    """Bump images of the ``n x n`` grid at the pixel centres of an ``n x n`` frame, rendered
    by :func:`factordiff.data.render.render_images` in model space [-1, 1]: (n * n, n * n),
    rows x-major like :func:`condition_grid`."""
    from factordiff.config import DataConfig
    from factordiff.data.render import render_images

    cfg = DataConfig(image_size=n, periodic=periodic, sigma_x=sigma_px, sigma_y=sigma_px)
    cfg.validate()
    labels, _ = condition_grid(n, n, n)
    return render_images(labels, cfg).reshape(n * n, n * n).numpy().astype(np.float64)


def bump_torus_effective_dimension(n: int, sigma_px: float = 1.0) -> float:
    """Exact participation ratio of the periodic bump images on the ``n x n`` grid.

    The images are all cyclic shifts of one image ``u``, so their covariance is circulant
    and its eigenvalues are ``|DFT(u)(f)|^2 / n^2`` for every frequency ``f != 0``."""
    u = bump_images(n, periodic=True, sigma_px=sigma_px)[0].reshape(n, n)
    power = np.abs(np.fft.fft2(u)) ** 2  # (n, n)
    power[0, 0] = 0.0  # the mean image is removed by centring
    lam = power.ravel()
    return float(lam.sum() ** 2 / np.sum(lam**2))


def known_effective_dimension(name: str, n: int) -> float | None:
    """The effective dimension of the clean cloud ``name`` on an ``n x n`` grid, where known
    (exactly, or for random features the Marchenko-Pastur value); ``None`` otherwise."""
    _check_cloud(name)
    if name == "circle":
        return 2.0
    if name == "clifford_torus":
        return 4.0
    if name == "ring_torus":  # variances (R^2 + r^2 / 2) / 2 twice and r^2 / 2, R = 2, r = 1
        lam = np.array([2.25, 2.25, 0.5])
        return float(lam.sum() ** 2 / np.sum(lam**2))
    if name == "bump_torus":
        return bump_torus_effective_dimension(n)
    if name == "random_features":
        m = n * n
        return m * RANDOM_FEATURE_DIM / (m + RANDOM_FEATURE_DIM)
    return None


def add_relative_noise(X: np.ndarray, level: float, random_state: int | None = 0) -> np.ndarray:
    """``X`` (n, d) plus Gaussian noise whose expected norm is ``level`` times the RMS
    distance of ``X`` to its centroid (per-coordinate std ``level * rms / sqrt(d)``)."""
    if not level >= 0:
        raise ValueError(f"noise level = {level!r} is invalid; allowed: a number >= 0")
    if level == 0:
        return X
    rms = float(np.sqrt(np.mean(np.sum((X - X.mean(axis=0)) ** 2, axis=1))))
    rng = np.random.default_rng(random_state)
    return X + (level * rms / np.sqrt(X.shape[1])) * rng.standard_normal(X.shape)


def calibration_cloud(
    name: str, n: int = 32, noise_level: float = 0.0, random_state: int = 0
) -> Representation:
    """The calibration cloud ``name`` on the ``n x n`` grid of an ``n x n`` frame (period
    ``n``), with relative noise ``noise_level``. Returns a gridded :class:`Representation`
    with ``X`` (n * n, d) and metadata naming the cloud."""
    known = _check_cloud(name)
    if not isinstance(n, int) or n < 8:
        raise ValueError(f"n = {n!r} is invalid; allowed: an integer grid side >= 8")
    labels, shape = condition_grid(n, n, n)
    if name == "ring_torus":
        X = ring_torus(labels, n)
    elif name == "clifford_torus":
        X = clifford_torus(labels, n)
    elif name in ("bump_torus", "bump_square"):
        X = bump_images(n, periodic=name == "bump_torus")
    elif name == "circle":
        theta = 2 * np.pi * labels[:, 0].astype(np.float64) / n
        X = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    else:
        X = random_feature_torus(labels, dim=RANDOM_FEATURE_DIM, random_state=random_state)
    # A separate stream for the noise, so the random features do not repeat in it.
    X = add_relative_noise(
        X, noise_level, random_state=None if random_state is None else random_state + 1
    )
    return Representation(
        X=X,
        labels=labels,
        grid_shape=shape,
        metadata={
            "source": "calibration",
            "cloud": name,
            "noise_level": float(noise_level),
            "periodic": known.periodic,
            "image_size": n,
            "random_state": random_state,
        },
    )


def judge_cloud(rep: Representation, **analysis_params: Any) -> dict:
    """Every rule on one representation: Betti numbers, orthogonality, parallelism,
    superfactoring and effective dimension. ``analysis_params`` go to
    :class:`RepresentationAnalysis` (no UMAP). Returns a JSON-ready row of numbers and
    verdicts (``periodic`` defaults to ``rep.metadata["periodic"]``, else ``True``)."""
    params = {"umap_dims": (), "periodic": bool(rep.metadata.get("periodic", True))}
    params.update(analysis_params)
    a = RepresentationAnalysis(**params).fit(rep)
    f = a.factorization_
    row = {
        "n_points": rep.n_conditions,
        "dim": rep.dim,
        "effective_dimension": a.pca_.effective_dimension_,
        "betti": list(a.topology_.betti_) if a.topology_ is not None else None,
        "h1_bars": a.topology_.summary()["longest_bars"][1][:3]
        if a.topology_ is not None and len(a.topology_.diagrams_) > 1
        else None,
        "ph_time_s": a.topology_.fit_time_s_ if a.topology_ is not None else None,
        "ph_h1_time_s": a.topology_.fit_time_h1_s_ if a.topology_ is not None else None,
        "ph_h1_cpu_time_s": a.topology_.cpu_time_h1_s_ if a.topology_ is not None else None,
    }
    if f is not None:
        row.update(
            orthogonality_xy=f.orthogonality_,
            parallelism_xx=f.parallelism_x_,
            parallelism_yy=f.parallelism_y_,
            value_cosine_x=f.value_cosine_x_,
            value_cosine_y=f.value_cosine_y_,
            orthogonal=f.is_orthogonal_,
            parallel_x=f.is_parallel_x_,
            parallel_y=f.is_parallel_y_,
            superfactored=f.is_superfactored_,
        )
        row["not_aligned"] = bool(RULES["not_aligned"].passes(row))
    return json_ready(row)


def compare_with_known(row: dict, name: str, n: int, noise_level: float) -> dict:
    """``{rule: True / False / None}``: whether each value of ``row`` matches the known answer
    of cloud ``name`` (``None``: no known answer, e.g. the effective dimension of a noisy
    cloud)."""
    known = _check_cloud(name)
    out: dict[str, bool | None] = {}
    if row.get("betti") is not None:
        for k, b in enumerate(row["betti"]):
            out[f"b{k}"] = bool(b == known.betti[k])
    for rule in ("orthogonal", "parallel_x", "parallel_y", "superfactored", "not_aligned"):
        if rule in row:
            out[rule] = bool(row[rule] == getattr(known, rule))
    ed = known_effective_dimension(name, n) if noise_level == 0 else None
    out["effective_dimension"] = (
        None if ed is None else bool(abs(row["effective_dimension"] - ed) <= ED_TOLERANCE * ed)
    )
    return out


def calibrate(
    n: int = 32,
    noise_levels: tuple[float, ...] = NOISE_LEVELS,
    clouds: tuple[str, ...] = CLOUDS,
    random_state: int = 0,
    **analysis_params: Any,
) -> list[dict]:
    """Run every rule on every calibration cloud at every noise level.

    Returns one JSON-ready row per (cloud, noise level): the measured values and verdicts
    (:func:`judge_cloud`), the known answers and ``agrees`` (:func:`compare_with_known`)."""
    rows = []
    for name in clouds:
        known = _check_cloud(name)
        for level in noise_levels:
            rep = calibration_cloud(name, n, level, random_state)
            start = time.perf_counter()
            row = judge_cloud(rep, **analysis_params)
            row.update(
                cloud=name,
                noise_level=float(level),
                known={
                    **asdict(known),
                    "betti": list(known.betti),
                    "effective_dimension": known_effective_dimension(name, n)
                    if level == 0
                    else None,
                },
                agrees=compare_with_known(row, name, n, level),
                total_time_s=time.perf_counter() - start,
            )
            rows.append(row)
    return rows


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _verdict(row: dict, rule: str) -> str:
    if rule not in row:
        return "n/a"
    text = "yes" if row[rule] else "no"
    return text if row["agrees"].get(rule, True) else f"**{text}** (x)"


def calibration_table_markdown(rows: list[dict]) -> str:
    """The calibration rows as one markdown table. A value that disagrees with the known
    answer is bold and marked ``(x)``."""
    head = (
        "| cloud | noise | Betti (known) | x-on-y | x-on-x | y-on-y | \\|cos\\| x / y "
        "| eff. dim (known) | orthogonal | parallel x | parallel y | superfactored "
        "| not aligned |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    lines = []
    for r in rows:
        agrees = r["agrees"]
        betti = r["betti"]
        if betti is None:
            betti_text = "n/a"
        else:
            parts = [
                str(b) if agrees.get(f"b{k}", True) else f"**{b}**" for k, b in enumerate(betti)
            ]
            betti_text = f"({', '.join(parts)})"
        known_betti = ", ".join(str(b) for b in r["known"]["betti"])
        ed_known = r["known"]["effective_dimension"]
        ed = _fmt(r["effective_dimension"], 1)
        if agrees.get("effective_dimension") is False:
            ed = f"**{ed}** (x)"
        ed_text = ed if ed_known is None else f"{ed} ({ed_known:.1f})"
        lines.append(
            f"| {r['cloud']} | {r['noise_level']:.1f} | {betti_text} ({known_betti}) "
            f"| {_fmt(r.get('orthogonality_xy'))} | {_fmt(r.get('parallelism_xx'))} "
            f"| {_fmt(r.get('parallelism_yy'))} "
            f"| {_fmt(r.get('value_cosine_x'))} / {_fmt(r.get('value_cosine_y'))} "
            f"| {ed_text} | {_verdict(r, 'orthogonal')} | {_verdict(r, 'parallel_x')} "
            f"| {_verdict(r, 'parallel_y')} | {_verdict(r, 'superfactored')} "
            f"| {_verdict(r, 'not_aligned')} |"
        )
    return head + "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _split_at_markers(path: Path, start: str, end: str) -> tuple[str, str]:
    """The text of ``path`` before ``start`` and after ``end``; ``ValueError`` when either
    marker is missing."""
    doc = path.read_text()
    if start not in doc or end not in doc:
        raise ValueError(f"{path} has no {start} ... {end} section for the table")
    before, rest = doc.split(start, 1)
    return before, rest.split(end, 1)[1]


def replace_between(path: Path, start: str, end: str, text: str) -> None:
    """Put ``text`` between the markers ``start`` and ``end`` of ``path``; ``ValueError``
    (nothing written) when they are missing."""
    before, after = _split_at_markers(path, start, end)
    _write_atomic(path, f"{before}{start}\n{text}{end}{after}")


def write_table_and_json(
    markdown_path: str | Path, start: str, end: str, table: str, json_path: str | Path, doc
) -> None:
    """``table`` between the markers of ``markdown_path`` and ``doc`` as JSON at ``json_path``;
    the markers are checked first, so a document without them gets nothing written."""
    markdown_path, json_path = Path(markdown_path), Path(json_path)
    _split_at_markers(markdown_path, start, end)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(json_path, json.dumps(json_ready(doc), indent=2) + "\n")
    replace_between(markdown_path, start, end, table)


def write_calibration_docs(
    rows: list[dict], markdown_path: str | Path, json_path: str | Path, settings: dict
) -> None:
    """Put the table (:func:`calibration_table_markdown`) between the markers
    ``TABLE_START`` and ``TABLE_END`` of ``markdown_path`` and the rows with ``settings`` as
    JSON at ``json_path``. Raises ``ValueError`` (nothing written) when the markers are
    missing."""
    write_table_and_json(
        markdown_path,
        TABLE_START,
        TABLE_END,
        calibration_table_markdown(rows),
        json_path,
        {"settings": settings, "rows": rows},
    )


def repository_root(root: str | Path | None) -> Path:
    """``root``, or the repository holding this package's source."""
    return Path(root) if root is not None else Path(__file__).resolve().parents[3]


def run_command(prog: str, description: str, main, argv=None) -> None:
    """The command line of a calibration module: ``python -m PROG [ROOT]`` calls ``main(ROOT)``
    after checking that ROOT holds docs/analysis.md."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "root", nargs="?", help="repository root (default: the one holding this package)"
    )
    args = parser.parse_args(argv)
    if args.root is not None and not (Path(args.root) / "docs" / "analysis.md").is_file():
        parser.error(f"root {args.root!r} is invalid; allowed: a folder holding docs/analysis.md")
    main(args.root)


def main(root: str | Path | None = None) -> list[dict]:
    """Compute the calibration table on the 32 x 32 grid and write it into
    ``ROOT/docs/analysis.md`` and ``ROOT/docs/results/calibration/calibration.json``
    (``ROOT``: the repository holding this package's source by default)."""
    root = repository_root(root)
    settings = {
        "n": 32,
        "noise_levels": list(NOISE_LEVELS),
        "random_state": 0,
        "analysis": {"n_landmarks": 256, "maxdim": 2, "h1_points": "all", "n_dims": 2},
    }
    rows = calibrate(n=32)
    write_calibration_docs(
        rows,
        root / "docs" / "analysis.md",
        root / "docs" / "results" / "calibration" / "calibration.json",
        settings,
    )
    return rows


if __name__ == "__main__":
    run_command(
        "python -m factordiff.analysis.calibration",
        "Compute the calibration table (every rule on clouds with known answers) and rewrite it "
        "into ROOT/docs/analysis.md and ROOT/docs/results/calibration/calibration.json.",
        main,
    )
