"""How much does a run's measured accuracy move when only the sampling noise changes?

The step-budget check of Experiment 3 and the percolation experiment compares the accuracy of
a run's last two checkpoints, each scored once with one sampling seed. Part of any
difference between the two is sampling noise. This measures that part: the last checkpoint
of every run of a finished ``exp3`` folder scored at the very same lattice sites with
``seeds`` different sampling seeds, and the spread of its accuracy across them.

    python -m factordiff.experiments.exp3.eval_noise runs/exp3-quick --seeds 3 [--json OUT]

Prints, per run, the accuracy under each seed and its range, then the largest range over
runs and the mean standard deviation, beside the check's tolerance. Nothing is trained.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np


def score_with_seeds(folder: str | Path, seeds: int = 3, device: str = "cpu") -> dict:
    """Score the last checkpoint of every run of the exp3 folder ``folder`` with ``seeds``
    sampling seeds (``eval_seed``, ``eval_seed + 1``, ...) at the sites the experiment
    used. Returns ``{"runs": [{"params", "accuracy": [per seed], "range", "std"}],
    "largest_range", "mean_std", "tolerance"}``."""
    from dataclasses import replace

    from factordiff.experiments import EXPERIMENTS
    from factordiff.experiments.budgets import score_last_two
    from factordiff.experiments.exp3.analysis import eval_sites
    from factordiff.experiments.skeleton import saved_config_matches
    from factordiff.experiments.sweep import plan_sweep
    from factordiff.jsonfiles import read_object
    from factordiff.training import list_checkpoints

    folder = Path(folder)
    saved = read_object(
        folder / "experiment.json",
        "an experiment config as factordiff experiment writes it (a JSON object with name)",
        optional={"name": str},
    )
    exp = EXPERIMENTS["exp3"]
    if saved.get("name") not in exp.presets:
        raise ValueError(
            f"{folder}: experiment {saved.get('name')!r} is not an exp3 preset; allowed: "
            f"{sorted(exp.presets)}"
        )
    cfg = exp.config(saved["name"])
    if not saved_config_matches(folder, cfg):
        raise ValueError(f"{folder}: experiment.json differs from preset {saved['name']!r}")
    if seeds < 2:
        raise ValueError(f"seeds = {seeds} is invalid; allowed: an integer >= 2")
    out = []
    for run in plan_sweep(folder, exp.runs(cfg)):
        ckpts = list_checkpoints(run.dir)
        if not ckpts:
            raise ValueError(f"{run.dir} has no checkpoint; allowed: a finished experiment")
        sites = eval_sites(cfg, run.config.data)
        trained = np.zeros(len(sites), dtype=bool)
        accs = []
        for k in range(seeds):
            c = replace(cfg, eval_seed=cfg.eval_seed + k)
            last, _ = score_last_two(
                ckpts[-1:], sites, trained, run.config.data, c, device, overall="lattice"
            )
            accs.append(last["lattice"])
        out.append(
            {
                "params": run.params,
                "sites": len(sites),
                "accuracy": accs,
                "range": float(max(accs) - min(accs)),
                "std": float(np.std(accs, ddof=1)),
            }
        )
    ranges = [r["range"] for r in out]
    return {
        "folder": str(folder),
        "seeds": seeds,
        "runs": out,
        "largest_range": max(ranges) if ranges else math.nan,
        "mean_std": float(np.mean([r["std"] for r in out])) if out else math.nan,
        "tolerance": cfg.plateau_tolerance,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m factordiff.experiments.exp3.eval_noise")
    p.add_argument("folder", help="a finished exp3 experiment folder")
    p.add_argument("--seeds", type=int, default=3, help="sampling seeds per run (>= 2)")
    p.add_argument("--json", help="also write the result to this file")
    args = p.parse_args(argv)
    try:
        res = score_with_seeds(args.folder, args.seeds)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in res["runs"]:
        accs = " ".join(f"{a:.3f}" for a in r["accuracy"])
        print(
            f"{json.dumps(r['params'])}: {r['sites']} sites, accuracy {accs}, range {r['range']:.3f}"
        )
    print(
        f"largest range over runs {res['largest_range']:.3f}, mean std {res['mean_std']:.3f} "
        f"({res['seeds']} sampling seeds; the budget check's tolerance is {res['tolerance']:g})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
