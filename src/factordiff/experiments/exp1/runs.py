"""Experiment 1's runs: one per seed, or one per seed and thread count, and a seed's runs
read as one.

With ``Exp1Config.thread_counts`` each seed is trained once per count (2026-12-06). The unit
of the interval stays the seed: a seed's statistic is the mean over its thread counts (its
runs share the initialisation and the data order, so they are not independent samples), and
every run's value is kept beside it (``detail["runs"]``, the report's table of runs).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from factordiff.config import RunConfig
    from factordiff.experiments.exp1.config import Exp1Config


def sweep_runs(cfg: Exp1Config) -> list[tuple[dict, RunConfig]]:
    """The sweep's runs as ``(params, run config)``: one per seed of ``cfg.seed_list()``, or
    one per seed and thread count of ``cfg.thread_counts`` (``train.num_threads`` set)."""
    if not cfg.thread_counts:
        return [({"seed": s}, replace(cfg.run, seed=s)) for s in cfg.seed_list()]
    return [
        (
            {"seed": s, "threads": n},
            replace(cfg.run, seed=s, train=replace(cfg.run.train, num_threads=n)),
        )
        for s in cfg.seed_list()
        for n in cfg.thread_counts
    ]


def finite_mean(values: list) -> float | None:
    """The mean of the finite numbers among ``values`` (None, booleans and anything not a
    number skipped); None when there is none."""
    nums = []
    for v in values:
        if v is None or isinstance(v, bool):
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            nums.append(f)
    return sum(nums) / len(nums) if nums else None


def run_label(run_cfg, several: bool) -> str:
    """``"0"`` for one run per seed, ``"0 (2 threads)"`` when a seed has several."""
    if not several:
        return str(run_cfg.seed)
    n = run_cfg.train.num_threads
    return f"{run_cfg.seed} ({n} thread{'s' if n != 1 else ''})"


def group_by_seed(results: list[dict]) -> list[tuple[int, list[dict]]]:
    """The results grouped by their run's seed, in the order the seeds first appear."""
    groups: dict[int, list[dict]] = {}
    for r in results:
        groups.setdefault(int(r["run"].config.seed), []).append(r)
    return list(groups.items())


def merge_runs(per_run: list[list], threads: list[int]) -> list:
    """One seed's verdicts from its runs under several thread counts: each statistic the mean
    over the runs that define it; a numeric value the mean, another the runs' values; the
    seed passes the per-run rule when every run does; every run's value, statistics and
    per-run answer kept in ``detail["runs"]``. One run: unchanged."""
    if len(per_run) == 1:
        return per_run[0]
    out = []
    for claims in zip(*per_run, strict=True):
        first = claims[0]
        values = [c.value for c in claims]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        runs = [
            {
                "threads": n,
                "value": c.value,
                "statistics": list(c.statistics),
                "reproduced": c.reproduced,
            }
            for n, c in zip(threads, claims, strict=True)
        ]
        out.append(
            replace(
                first,
                value=finite_mean(values) if numeric else values,
                reproduced=all(c.reproduced for c in claims),
                statistics=[
                    finite_mean([c.statistics[i] for c in claims]) for i in range(len(first.rules))
                ],
                detail={**first.detail, "runs": runs},
            )
        )
    return out
