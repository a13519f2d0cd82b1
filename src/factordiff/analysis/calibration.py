"""Calibration: run every rule on point clouds whose answers are known by construction.

Before a rule judges a model it must give the right answer on clouds built to have one. The
clouds, their noise and their known answers are in
:mod:`factordiff.analysis.calibration_clouds` (re-exported here); this module runs the rules
on them (:func:`calibrate`), compares with the known answers and writes the calibration
table into ``docs/analysis.md`` (``python -m factordiff.analysis.calibration [ROOT]``).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

# The clouds and the doc-table writing moved to their own modules; every name stays
# importable from here (nulls, value_bounds, page_md and the tests import them).
from factordiff.analysis.calibration_clouds import (  # noqa: F401
    CLOUDS,
    KNOWN_ANSWERS,
    RANDOM_FEATURE_DIM,
    KnownAnswer,
    _check_cloud,
    add_relative_noise,
    bump_images,
    bump_torus_effective_dimension,
    calibration_cloud,
    known_effective_dimension,
)
from factordiff.analysis.control import RULES
from factordiff.analysis.doc_tables import (  # noqa: F401
    _split_at_markers,
    _write_atomic,
    replace_between,
    repository_root,
    run_command,
    write_table_and_json,
)
from factordiff.analysis.grid import Representation
from factordiff.analysis.pipeline import RepresentationAnalysis
from factordiff.config import json_ready

#: Noise levels of the calibration table (relative to the cloud's RMS radius; OUR choice).
NOISE_LEVELS = (0.0, 0.1, 0.3)

#: Relative tolerance of the effective-dimension check against its known value.
ED_TOLERANCE = 0.1

#: The grids whose calibration tables docs/analysis.md holds (the first is the default).
GRIDS = (32, 16)


def _grid_suffix(n: int) -> str:
    """What names the ``n x n`` grid's table and JSON: nothing for 32, ``-n16`` for 16."""
    return "" if n == 32 else f"-n{n}"


def table_markers(n: int = 32) -> tuple[str, str]:
    """The markers between which :func:`write_calibration_docs` puts the table of the
    ``n x n`` grid (``calibration-table`` for 32, ``calibration-table-n16`` for 16)."""
    tag = f"calibration-table{_grid_suffix(n)}"
    return f"<!-- {tag}:start -->", f"<!-- {tag}:end -->"


#: The markers of the 32 x 32 table.
TABLE_START, TABLE_END = table_markers(32)


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


def write_calibration_docs(
    rows: list[dict],
    markdown_path: str | Path,
    json_path: str | Path,
    settings: dict,
    n: int = 32,
) -> None:
    """Put the table (:func:`calibration_table_markdown`) between the markers of the
    ``n x n`` grid (:func:`table_markers`) of ``markdown_path`` and the rows with
    ``settings`` as JSON at ``json_path``. Raises ``ValueError`` (nothing written) when the
    markers are missing."""
    start, end = table_markers(n)
    write_table_and_json(
        markdown_path,
        start,
        end,
        calibration_table_markdown(rows),
        json_path,
        {"settings": settings, "rows": rows},
    )


def main(root: str | Path | None = None, n: int = 32) -> list[dict]:
    """Compute the calibration table on the ``n x n`` grid (32 or 16) and write it into
    ``ROOT/docs/analysis.md`` and ``ROOT/docs/results/calibration/calibration.json``
    (``calibration-n16.json`` for 16; ``ROOT``: the repository holding this package's source
    by default)."""
    if n not in GRIDS:
        raise ValueError(f"n = {n!r} is invalid; allowed: {', '.join(map(str, GRIDS))}")
    root = repository_root(root)
    settings = {
        "n": n,
        "noise_levels": list(NOISE_LEVELS),
        "random_state": 0,
        "analysis": {"n_landmarks": 256, "maxdim": 2, "h1_points": "all", "n_dims": 2},
    }
    # Check the markers before the computation (minutes), so a bad document costs nothing.
    _split_at_markers(root / "docs" / "analysis.md", *table_markers(n))
    rows = calibrate(n=n)
    write_calibration_docs(
        rows,
        root / "docs" / "analysis.md",
        root / "docs" / "results" / "calibration" / f"calibration{_grid_suffix(n)}.json",
        settings,
        n=n,
    )
    return rows


if __name__ == "__main__":
    run_command(
        "python -m factordiff.analysis.calibration",
        "Compute the calibration table (every rule on clouds with known answers) on the n x n "
        "grid and rewrite it into ROOT/docs/analysis.md and "
        "ROOT/docs/results/calibration/calibration[-n16].json.",
        main,
        grids=GRIDS,
    )
