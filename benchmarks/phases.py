"""Where the time of an experiment (or a whole reproduce) went, by phase, from what its runs
recorded: training steps, evaluations during training, the analysis after training (scoring
for Exp 2, 3 and percolation; the representation analysis for Exp 1) and Exp 1's sensitivity
map. Nothing is rerun: every figure comes from the folders' own records.

    python benchmarks/phases.py runs/reproduce-quick          # every experiment in it
    python benchmarks/phases.py runs/exp1-quick runs/exp2-quick

Sources: each run's ``metrics.jsonl`` (``train_seconds``, the run's wall clock including its
evaluations, and ``eval_seconds`` of each evaluation), its ``environment.json`` (CPU,
precision) and the experiment's ``summary.json`` (``wall_seconds``, ``analysis_seconds``,
``sensitivity_map.seconds``). Training and evaluation are summed over runs (CPU-side seconds
of the workers, several at a time); wall and analysis are the experiment's own clock.
Prints one table and, with ``--json``, one JSON line per experiment.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path


def run_phases(run_dir: Path) -> dict | None:
    """Steps, step seconds and evaluation seconds of one run (None without metrics)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return None
    last_step, wall, evals, n_evals = 0, 0.0, 0.0, 0
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line cut by a killed run
        last_step = max(last_step, int(rec.get("step", 0)))
        wall = max(wall, float(rec.get("train_seconds", 0.0)))
        if "eval_seconds" in rec:
            evals += float(rec["eval_seconds"])
            n_evals += 1
    env_path = run_dir / "environment.json"
    env = json.loads(env_path.read_text()) if env_path.is_file() else {}
    precision = (env.get("precision") or {}).get("used")
    steps_seconds = max(0.0, wall - evals)
    return {
        "steps": last_step,
        "steps_seconds": steps_seconds,
        "eval_seconds": evals,
        "evaluations": n_evals,
        "seconds_per_step": steps_seconds / last_step if last_step else None,
        "cpu": env.get("cpu"),
        "threads": env.get("num_threads"),
        "precision": precision,
    }


def experiment_phases(folder: Path) -> dict:
    """The phases of one experiment folder (``summary.json`` and ``runs/*/``)."""
    summary_path = folder / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    runs = [r for r in (run_phases(d) for d in sorted((folder / "runs").glob("*/"))) if r]
    per_step = [r["seconds_per_step"] for r in runs if r["seconds_per_step"]]
    smap = summary.get("sensitivity_map") or {}
    cpus = sorted({r["cpu"] for r in runs if r["cpu"]})
    return {
        "experiment": folder.name,
        "runs": len(runs),
        "wall_seconds": summary.get("wall_seconds"),
        "steps": sum(r["steps"] for r in runs),
        "steps_seconds": sum(r["steps_seconds"] for r in runs),
        "eval_seconds": sum(r["eval_seconds"] for r in runs),
        "evaluations": sum(r["evaluations"] for r in runs),
        "median_seconds_per_step": statistics.median(per_step) if per_step else None,
        "analysis_seconds": summary.get("analysis_seconds"),
        "map_seconds": smap.get("seconds"),
        "executor": summary.get("executor"),
        "cpu": "; ".join(cpus) or None,
        "precision": sorted({r["precision"] for r in runs if r["precision"]}),
        "threads": sorted({r["threads"] for r in runs if r["threads"] is not None}),
    }


def experiment_folders(paths: list[str]) -> list[Path]:
    """Each path that is an experiment folder, or the experiment folders inside it."""
    found = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise SystemExit(
                f"error: {p} is not a folder; allowed: experiment or reproduce folders"
            )
        if (p / "runs").is_dir():
            found.append(p)
        else:
            found += sorted(d for d in p.iterdir() if (d / "runs").is_dir())
    if not found:
        raise SystemExit(f"error: no experiment folder (one with runs/) in {paths}")
    return found


def _min(seconds) -> str:
    return "n/a" if seconds is None else f"{seconds / 60:.1f}"


def table(rows: list[dict]) -> str:
    head = (
        "| experiment | runs | wall min | steps | step min (sum) | eval min (sum, n) | "
        "s / step (median) | analysis min | of it the map | CPU, precision, threads |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        sps = r["median_seconds_per_step"]
        lines.append(
            f"| {r['experiment']} | {r['runs']} | {_min(r['wall_seconds'])} | {r['steps']:,} | "
            f"{_min(r['steps_seconds'])} | {_min(r['eval_seconds'])} ({r['evaluations']}) | "
            f"{'n/a' if sps is None else f'{sps:.3f}'} | {_min(r['analysis_seconds'])} | "
            f"{_min(r['map_seconds'])} | {r['cpu']}, {'/'.join(r['precision']) or 'n/a'}, "
            f"{'/'.join(map(str, r['threads'])) or 'n/a'} |"
        )
    return head + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", help="experiment folders or a reproduce folder")
    p.add_argument("--json", action="store_true", help="also one JSON line per experiment")
    args = p.parse_args(argv)
    rows = [experiment_phases(f) for f in experiment_folders(args.folders)]
    print(table(rows))
    if args.json:
        for r in rows:
            print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
