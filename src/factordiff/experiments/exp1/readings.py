"""Experiment 1 beside its verdicts (2026-12-06): the raw-images null, the paper's
"not aligned" reading of the parallelism test, and seeds trained under several thread counts.

- **Raw images** (:mod:`factordiff.analysis.nulls`): the flattened training images of the
  analysis grid, a fixed reference (the same in every seed). The orthogonality,
  superfactoring and effective-dimension claims get a paired rule *trained minus raw images*
  below 0; the torus and "not aligned" report the raw images' value (they sit at the claim's
  ideal: no representation can be nearer).
- **Not aligned**: the paper's abstract reads the parallelism test as "not aligned for
  different values of the same feature": median x-on-x and y-on-y below
  ``NOT_ALIGNED_BELOW`` (0.2), each below the untrained network's. Judged over seeds like a
  claim, reported in its own section (the five claims stay five).
- **Thread counts** (``Exp1Config.thread_counts``; :mod:`.runs`): each seed trained once per
  count, a seed's statistic the mean over its runs; :func:`summary_readings` keeps one row
  per run and :func:`runs_section` prints them.
"""

from __future__ import annotations

import math
from typing import Any

from factordiff.analysis.control import NOT_ALIGNED_BELOW
from factordiff.analysis.nulls import RAW_IMAGES, RAW_NOT_APPLICABLE
from factordiff.experiments.exp1.runs import finite_mean, group_by_seed

#: The paper's words for the reading (NeurIPS abstract, as read in the project's notes).
NOT_ALIGNED_PAPER = (
    'representations of different values of the same feature are "not aligned" (abstract)'
)
#: What the superfactoring and effective-dimension rules can reach together, measured on
#: loops of 32 values (factordiff.analysis.value_bounds; docs/analysis.md, 2026-12-06).
SUPERFACTORED_REACH = (
    "Reachable in a loop of D <= 9 dimensions only by structured loops: random clouds of 32 "
    "values give a median of 0.24-0.41 and flat-spectrum clouds 0.21-0.38 at D = 4-9 (below "
    "0.2 from D = 13 and D = 10), and the root mean square of the cosines cannot fall below "
    "0.29-0.48 there; harmonic loops reach 0-0.10, their other cosines large"
)
EFFECTIVE_DIMENSION_REACH = (
    "An additive representation's D is at least the smaller loop dimension of x and y, so "
    "beside D < 9 the superfactored rule is met only by structured loops (docs/analysis.md)"
)
NOT_ALIGNED_CLAIM = (
    "different values of a feature not aligned (the parallelism test: x-loops at different y, "
    "y-loops at different x)"
)
#: The second null's name in the rules' text.
RAW = RAW_IMAGES


def _paired(a, b) -> float | None:
    if a is None or b is None:
        return None
    d = float(a) - float(b)
    return d if math.isfinite(d) else None


# ----------------------------------------------------------------------------- raw images
def raw_detail(raw: dict | None) -> dict:
    """What a verdict keeps of the raw images: their values of every claim's statistic."""
    if raw is None:
        return {}
    f = raw.get("factorization") or {}
    betti = raw.get("betti", (raw.get("topology") or {}).get("betti"))
    return {
        "raw_images": {
            "effective_dimension": raw.get("effective_dimension"),
            "betti": betti,
            "orthogonality_xy": f.get("orthogonality_xy"),
            "value_cosine_x": f.get("value_cosine_x"),
            "value_cosine_y": f.get("value_cosine_y"),
            "parallelism_xx": f.get("parallelism_xx"),
            "parallelism_yy": f.get("parallelism_yy"),
        }
    }


# ----------------------------------------------------------------------------- not aligned
def not_aligned_rules(min_seeds: int, control: str):
    from factordiff.experiments.judgement import Rule

    return [
        Rule(f"median {s} subspace similarity", "below", NOT_ALIGNED_BELOW, min_seeds)
        for s in ("x-on-x", "y-on-y")
    ] + [
        Rule(f"median {s} similarity, trained minus {control}", "below", 0.0, min_seeds, control)
        for s in ("x-on-x", "y-on-y")
    ]


def not_aligned_statistics(final: dict, control: dict) -> list[float | None]:
    """One run's statistics of the reading: x-on-x, y-on-y, and each minus the control's."""
    f, c = final.get("factorization") or {}, control.get("factorization") or {}
    xx, yy = f.get("parallelism_xx"), f.get("parallelism_yy")
    return [xx, yy, _paired(xx, c.get("parallelism_xx")), _paired(yy, c.get("parallelism_yy"))]


def not_aligned_reading(
    per_seed: list[list], seeds: list[int], min_seeds: int, control: str, raw: dict | None
) -> dict:
    """The reading over seeds: each rule judged (:func:`judgement.judge`), the combined
    answer, and the raw images' values (reported, not judged: they are 0 to rounding)."""
    from factordiff.experiments.judgement import combine, judge

    rules = not_aligned_rules(min_seeds, control)
    judged = [
        judge(rule, [s[i] for s in per_seed], seeds).to_dict() for i, rule in enumerate(rules)
    ]
    f = (raw or {}).get("factorization") or {}
    return {
        "claim": NOT_ALIGNED_CLAIM,
        "paper": NOT_ALIGNED_PAPER,
        "judgements": judged,
        "verdict": combine([j["verdict"] for j in judged]),
        "raw_images": {
            "parallelism_xx": f.get("parallelism_xx"),
            "parallelism_yy": f.get("parallelism_yy"),
        }
        if raw
        else None,
        "raw_note": RAW_NOT_APPLICABLE["not_aligned"],
    }


def not_aligned_section(reading: dict) -> list[str]:
    """report.md lines of the reading."""
    from factordiff.experiments.judgement import judgements_text

    raw = reading.get("raw_images")
    raw_text = (
        f" The raw images give x-on-x {raw['parallelism_xx']:.2g} and y-on-y "
        f"{raw['parallelism_yy']:.2g}: {reading['raw_note']}, so they are reported, not judged."
        if raw and raw.get("parallelism_xx") is not None
        else ""
    )
    return [
        "",
        '## The paper\'s reading "not aligned" (the parallelism test)',
        "",
        f"{reading['paper'][0].upper()}{reading['paper'][1:]}: read here as x-loops at "
        f"different y (and y-loops at different x) in nearly orthogonal subspaces, median "
        f"x-on-x and y-on-y < {NOT_ALIGNED_BELOW:g} (the orthogonality rule's standard) and "
        "below the untrained network's. Judged over seeds like a claim, not one of the five "
        f"verdicts.{raw_text}",
        "",
        f"**{reading['verdict']}**: {judgements_text(reading)}",
    ]


def summary_readings(results: list[dict], min_seeds: int, control: str) -> dict:
    """What summary.json keeps beside the verdicts: the raw images' summary, the "not
    aligned" reading over seeds (a seed's statistics the mean over its runs) and, with several
    thread counts, one row per run."""
    if "not_aligned" not in results[0]:  # analysed before the readings (a caller's cache)
        return {}
    groups = group_by_seed(results)
    k = len(results[0]["not_aligned"])
    per_seed = [
        [finite_mean([r["not_aligned"][i] for r in rs]) for i in range(k)] for _, rs in groups
    ]
    raw = results[0].get("raw")
    out: dict = {
        "raw_images": raw,
        "not_aligned": not_aligned_reading(
            per_seed, [seed for seed, _ in groups], min_seeds, control, raw
        ),
    }
    if any(len(rs) > 1 for _, rs in groups):
        keys = (
            "orthogonality_xy",
            "value_cosine_x",
            "value_cosine_y",
            "parallelism_xx",
            "parallelism_yy",
            "effective_dimension",
            "betti_1",
        )
        out["thread_runs"] = [
            {"seed": r["run"].config.seed, "threads": r["run"].config.train.num_threads}
            | {key: r["row"].get(key) for key in keys}
            for r in results
        ]
    return out


# ----------------------------------------------------------------------------- report tables
def runs_section(results_rows: list[dict]) -> list[str]:
    """report.md lines: one line per run when some seed ran under several thread counts."""
    lines = [
        "",
        "## Runs under each thread count",
        "",
        "Each seed trained once per thread count (`thread_counts`); a seed's statistic is the "
        "mean of its runs, the unit of the interval stays the seed.",
        "",
        "| seed | threads | x-on-y | \\|value cos\\| x / y | x-on-x / y-on-y | eff. dim | b1 |",
        "|---|---|---|---|---|---|---|",
    ]

    def f(v: Any, d: int = 3) -> str:
        return "n/a" if v is None else f"{v:.{d}f}"

    for r in results_rows:
        lines.append(
            f"| {r['seed']} | {r['threads']} | {f(r.get('orthogonality_xy'))} | "
            f"{f(r.get('value_cosine_x'), 2)} / {f(r.get('value_cosine_y'), 2)} | "
            f"{f(r.get('parallelism_xx'), 2)} / {f(r.get('parallelism_yy'), 2)} | "
            f"{f(r.get('effective_dimension'), 2)} | {r.get('betti_1')} |"
        )
    return lines
