"""What median |value cosine| a loop of 32 values can have in D dimensions (2026-12-06).

The superfactoring rule reads the median ``|cos|`` between the centred representations of
two different values of one feature within a loop (:class:`FactorizationTest`, 32 values per
loop on the 32 x 32 grid) and asks for ``< 0.2``; the effective-dimension rule asks for a
participation ratio ``D`` within 2 of 7. This module measures, with the same instrument
(``factorization._value_cosines``), what a cloud of ``n = 32`` values spanning ``D``
dimensions can give, for ``D = 4 .. 16``:

- **a bound** (exact, any arrangement): ``u_i`` the centred, normalised values, their Gram
  matrix has trace ``n`` and rank ``r <= min(D, n - 1)`` (centring removes one dimension), so
  ``sum_ij (u_i . u_j)^2 >= n^2 / r`` (Welch) and the root mean square of the cosines over
  the ``n (n - 1)`` ordered pairs of different values is at least
  ``sqrt((n / r - 1) / (n - 1))`` (:func:`welch_rms_bound`). With equal norms the mean square
  is exactly ``(n / PR - 1) / (n - 1)``, PR the loop's participation ratio;
- **random centred vectors** (i.i.d. Gaussian in ``D`` dimensions, then centred by the
  instrument): the typical spread cloud; its participation ratio is below ``D``;
- **random flat-spectrum clouds** (centred, orthonormal columns: participation ratio exactly
  ``D``; the values' norms differ, so their cosines sit a little above the bound);
- **the smooth loop** (the harmonic frame of the lowest frequencies ``1, 2, ..``: a closed
  curve with a flat spectrum, what a smooth periodic encoding gives);
- **the lowest median among harmonic frames** (every set of frequencies of the 32-point
  loop, exhaustively; the frame of a shift-equivariant loop is harmonic). The median has no
  lower bound: some frequency sets put most pairs at exactly 0 (median 0 in every even ``D``)
  and the rest high, since the root mean square cannot fall below the bound; the table gives
  the share of pairs that share a line (``|cos| > 0.9``) beside it.

Known answers (tested): 32 orthonormal vectors (``D = 32``) have every uncentred cosine 0,
but centred they form the regular simplex, every cosine ``-1 / 31``; centred vectors can
never have every cosine 0 (``sum_i v_i = 0`` gives ``sum_{i != j} v_i . v_j = -sum |v_i|^2``);
harmonic frames without the Nyquist column (equal norms, flat spectrum) attain the bound.

``python -m factordiff.analysis.value_bounds`` writes the table into ``docs/analysis.md``
and ``docs/results/calibration/value_cosines.json`` (seconds).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from factordiff.analysis.calibration import (  # noqa: F401 - replace_between: re-exported
    replace_between,
    repository_root,
    run_command,
    write_table_and_json,
)
from factordiff.analysis.factorization import _value_cosines

#: Values per loop on the verdicts' 32 x 32 grid.
N_VALUES = 32
#: The loop dimensions of the table.
DIMS = tuple(range(4, 17))
#: The superfactoring threshold the table is read against (``superfactored_below``).
THRESHOLD = 0.2
#: Random clouds per dimension.
DRAWS = 200
#: ``|cos|`` above this counts as two values sharing a line.
SHARED_LINE = 0.9

TABLE_START = "<!-- value-cosine-table:start -->"
TABLE_END = "<!-- value-cosine-table:end -->"


def loop_cosines(V: np.ndarray) -> np.ndarray:
    """The value cosines of one loop ``V`` (n, d), as the superfactoring rule computes them
    (centred over the loop, every unordered pair of different values)."""
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] < 3:
        raise ValueError(f"V must have shape (n >= 3, d), got {V.shape}")
    return _value_cosines(V[None], periodic=True)[0]


def cosine_stats(cos: np.ndarray) -> dict:
    """Median, root mean square and largest ``|cos|``, and the share of pairs that share a
    line (``|cos| > SHARED_LINE``)."""
    a = np.abs(np.asarray(cos, dtype=np.float64))
    return {
        "median": float(np.median(a)),
        "rms": float(np.sqrt(np.mean(a**2))),
        "max": float(a.max()),
        "shared_line": float(np.mean(a > SHARED_LINE)),
    }


def welch_rms_bound(n: int, dim: int) -> float:
    """The least root mean square of the value cosines of ``n`` centred values spanning
    ``dim`` dimensions (any arrangement): ``sqrt((n / r - 1) / (n - 1))``, ``r =
    min(dim, n - 1)``."""
    if n < 3 or dim < 1:
        raise ValueError(f"n = {n}, dim = {dim} is invalid; allowed: n >= 3, dim >= 1")
    r = min(dim, n - 1)
    return float(np.sqrt((n / r - 1) / (n - 1)))


def loop_participation_ratio(V: np.ndarray) -> float:
    """Participation ratio of the centred loop ``V`` (n, d)."""
    V = np.asarray(V, dtype=np.float64)
    s = np.linalg.svd(V - V.mean(axis=0), compute_uv=False) ** 2
    return float(s.sum() ** 2 / np.sum(s**2))


def random_cloud(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` i.i.d. standard Gaussian vectors in ``dim`` dimensions."""
    return rng.standard_normal((n, dim))


def random_flat_cloud(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` centred vectors in ``dim <= n - 1`` dimensions with a flat spectrum (orthonormal
    columns orthogonal to the all-ones vector): participation ratio exactly ``dim``."""
    if not 1 <= dim <= n - 1:
        raise ValueError(f"dim = {dim} is invalid; allowed: 1 .. n - 1 = {n - 1}")
    A = rng.standard_normal((n, dim))
    A -= A.mean(axis=0)
    q, _ = np.linalg.qr(A)
    return q


def harmonic_frame(n: int, freqs) -> np.ndarray:
    """The loop ``i -> (cos 2 pi k i / n, sin 2 pi k i / n)`` over the frequencies ``freqs``
    (``0 < k <= n / 2``; the Nyquist frequency ``n / 2`` gives one column): centred, every
    value of the same norm, ``2 |freqs|`` dimensions (one fewer with Nyquist), a flat
    spectrum without Nyquist."""
    i = np.arange(n)
    cols = []
    for k in freqs:
        if not 0 < k <= n // 2:
            raise ValueError(f"frequency {k} is invalid; allowed: 1 .. {n // 2}")
        if 2 * k == n:
            cols.append(np.cos(np.pi * i))
        else:
            cols += [np.cos(2 * np.pi * k * i / n), np.sin(2 * np.pi * k * i / n)]
    return np.stack(cols, axis=1)


def _frequency_sets(n: int, dim: int):
    """Every set of frequencies whose harmonic frame spans ``dim`` dimensions."""
    nyquist = n // 2 if n % 2 == 0 else None
    pairs = [k for k in range(1, (n + 1) // 2) if 2 * k != n]
    for m in range(dim // 2 + 1):
        rest = dim - 2 * m
        if rest == 0:
            yield from itertools.combinations(pairs, m)
        elif rest == 1 and nyquist is not None:
            for c in itertools.combinations(pairs, m):
                yield (*c, nyquist)


def smooth_loop(n: int, dim: int) -> np.ndarray:
    """The harmonic frame of the lowest frequencies spanning ``dim`` dimensions (a smooth
    closed curve; odd ``dim`` adds the Nyquist column)."""
    freqs = list(range(1, dim // 2 + 1)) + ([n // 2] if dim % 2 else [])
    return harmonic_frame(n, freqs)


def lowest_median_harmonic_frame(n: int, dim: int) -> tuple[tuple[int, ...], dict]:
    """The frequencies whose harmonic frame has the lowest median ``|cos|`` in ``dim``
    dimensions (exhaustive; ties: the lower root mean square, then the first found), and its
    :func:`cosine_stats`."""
    best = None
    for freqs in _frequency_sets(n, dim):
        s = cosine_stats(loop_cosines(harmonic_frame(n, freqs)))
        key = (round(s["median"], 12), round(s["rms"], 12))
        if best is None or key < best[0]:
            best = (key, tuple(int(k) for k in freqs), s)
    if best is None:
        raise ValueError(f"no harmonic frame of {n} values spans {dim} dimensions")
    return best[1], best[2]


def _spread(values: list[float]) -> dict:
    v = np.asarray(values)
    return {
        "median": float(np.median(v)),
        "p5": float(np.percentile(v, 5)),
        "p95": float(np.percentile(v, 95)),
    }


def value_cosine_table(
    n: int = N_VALUES, dims=DIMS, draws: int = DRAWS, random_state: int = 0
) -> list[dict]:
    """One row per loop dimension: the bound, random centred vectors and random flat-spectrum
    clouds (the median over ``draws`` clouds of each cloud's median ``|cos|``, with the 5th and 95th
    percentiles, and their participation ratio), the smooth loop and the harmonic frame with
    the lowest median."""
    rng = np.random.default_rng(random_state)
    rows = []
    for dim in dims:
        gauss = [random_cloud(n, dim, rng) for _ in range(draws)]
        flat = [random_flat_cloud(n, dim, rng) for _ in range(draws)]
        g_stats = [cosine_stats(loop_cosines(V)) for V in gauss]
        f_stats = [cosine_stats(loop_cosines(V)) for V in flat]
        freqs, best = lowest_median_harmonic_frame(n, dim)
        rows.append(
            {
                "dim": dim,
                "bound_rms": welch_rms_bound(n, dim),
                "random": _spread([s["median"] for s in g_stats])
                | {
                    "participation_ratio": float(
                        np.mean([loop_participation_ratio(V) for V in gauss])
                    )
                },
                "flat_spectrum": _spread([s["median"] for s in f_stats])
                | {"rms": float(np.mean([s["rms"] for s in f_stats]))},
                "smooth_loop": cosine_stats(loop_cosines(smooth_loop(n, dim))),
                "lowest_harmonic": best | {"freqs": list(freqs)},
            }
        )
    return rows


def table_markdown(rows: list[dict]) -> str:
    """The rows as a markdown table (bold: below :data:`THRESHOLD`)."""

    def f(v: float) -> str:
        return f"**{v:.3f}**" if v < THRESHOLD else f"{v:.3f}"

    head = (
        "| D | RMS bound | random: median \\|cos\\| [5%, 95%] (PR) | flat spectrum: median "
        "[5%, 95%] (RMS) | smooth loop | lowest harmonic frame: median (RMS, pairs "
        "\\|cos\\| > 0.9, frequencies) |\n|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        g, t, s, h = r["random"], r["flat_spectrum"], r["smooth_loop"], r["lowest_harmonic"]
        lines.append(
            f"| {r['dim']} | {r['bound_rms']:.3f} | {f(g['median'])} [{g['p5']:.3f}, "
            f"{g['p95']:.3f}] ({g['participation_ratio']:.1f}) | {f(t['median'])} "
            f"[{t['p5']:.3f}, {t['p95']:.3f}] ({t['rms']:.3f}) | {f(s['median'])} | "
            f"{f(h['median'])} ({h['rms']:.3f}, {100 * h['shared_line']:.0f}%, "
            f"{', '.join(str(k) for k in h['freqs'])}) |"
        )
    return head + "\n".join(lines) + "\n"


def generic_crossing(rows: list[dict], family: str = "flat_spectrum") -> int | None:
    """The smallest loop dimension whose median ``|cos|`` (over draws) of ``family`` is below
    :data:`THRESHOLD`."""
    for r in rows:
        if r[family]["median"] < THRESHOLD:
            return int(r["dim"])
    return None


def main(root: str | Path | None = None) -> list[dict]:
    """Compute the table and write it into ``ROOT/docs/analysis.md`` and
    ``ROOT/docs/results/calibration/value_cosines.json``."""
    root = repository_root(root)
    rows = value_cosine_table()
    settings = {"n": N_VALUES, "dims": list(DIMS), "draws": DRAWS, "random_state": 0}
    doc = {
        "settings": settings,
        "crossing": {k: generic_crossing(rows, k) for k in ("random", "flat_spectrum")},
        "rows": rows,
    }
    write_table_and_json(
        root / "docs" / "analysis.md",
        TABLE_START,
        TABLE_END,
        table_markdown(rows),
        root / "docs" / "results" / "calibration" / "value_cosines.json",
        doc,
    )
    return rows


if __name__ == "__main__":
    run_command(
        "python -m factordiff.analysis.value_bounds",
        "What median |value cosine| a loop of 32 values can have in D = 4..16 dimensions: "
        "rewrite the table in ROOT/docs/analysis.md and "
        "ROOT/docs/results/calibration/value_cosines.json.",
        main,
    )
