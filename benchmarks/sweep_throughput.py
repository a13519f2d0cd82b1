"""Sweep throughput: worker and thread choices of the local executor, and Ray's overhead.

    python benchmarks/sweep_throughput.py                   # 4 runs of `small`, 60 steps each
    python benchmarks/sweep_throughput.py --runs 4 --steps 60 --ray
    python benchmarks/sweep_throughput.py --preset tiny --steps 60 --ray   # when the CPU is busy

A sweep of ``--runs`` runs of ``--preset`` (seeds 0, 1, ...) with a step budget of
``--steps`` optimizer steps, no evaluation during training and no kept checkpoints but the
last, is trained from scratch into a fresh folder once per executor setting:

- local, 1 worker x 2 threads (the runs one after another in this process)
- local, 2 workers x 1 thread (two spawned processes, each paying its own start-up)
- with ``--ray``: Ray, 2 tasks x 1 CPU on a local Ray instance of 2 CPUs (start-up included)

For each it prints the wall time, runs per hour and images per second over the whole sweep
(runs x steps x batch size / wall time). Wall time includes process start-up and imports,
which is what a user waits for. One JSON line per setting goes to ``--json`` if given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from factordiff.config import apply_overrides
from factordiff.experiments.sweep import LocalExecutor, RayExecutor, plan_sweep
from factordiff.presets import preset_config


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def sweep_runs(preset: str, runs: int, steps: int, overrides: list[str]) -> list:
    base = apply_overrides(
        preset_config(preset),
        [
            f"train.max_steps={steps}",
            "train.eval_every_epochs=0",
            "train.checkpoint_epochs=[]",
            "device=cpu",
            *overrides,
        ],
    )
    return [({"seed": s}, apply_overrides(base, [f"seed={s}"])) for s in range(runs)]


def measure(name: str, executor, runs: list, steps: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        planned = plan_sweep(tmp, runs)
        t0 = time.perf_counter()
        executor.run(planned)
        wall = time.perf_counter() - t0
    batch = runs[0][1].train.batch_size
    rec = {
        "setting": name,
        "runs": len(runs),
        "steps_per_run": steps,
        "wall_s": round(wall, 1),
        "runs_per_hour": round(len(runs) * 3600 / wall, 1),
        "images_per_s": round(len(runs) * steps * batch / wall, 1),
    }
    print(
        f"{name:<28} wall {wall:7.1f} s   {rec['runs_per_hour']:7.1f} runs/h   "
        f"{rec['images_per_s']:7.1f} images/s",
        flush=True,
    )
    return rec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="small")
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--ray", action="store_true", help="also time the Ray executor")
    p.add_argument("--json", help="append one JSON line per setting to this file")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="run config override"
    )
    args = p.parse_args(argv)

    print(
        f"CPU: {cpu_name()} ({torch.backends.cpu.get_cpu_capability()}), "
        f"{torch.get_num_threads()} torch threads available; torch {torch.__version__}"
    )
    print(f"sweep: {args.runs} runs of {args.preset} {args.set}, {args.steps} steps each")
    runs = sweep_runs(args.preset, args.runs, args.steps, args.set)
    settings = [
        ("local 1 worker x 2 threads", LocalExecutor(workers=1, threads=2)),
        ("local 2 workers x 1 thread", LocalExecutor(workers=2, threads=1)),
    ]
    if args.ray:
        settings.append(("ray 2 tasks x 1 CPU", RayExecutor(threads=1, num_cpus=2)))
    records = []
    for name, ex in settings:
        rec = measure(name, ex, runs, args.steps)
        rec.update(
            preset=args.preset,
            overrides=args.set,
            cpu=cpu_name(),
            capability=torch.backends.cpu.get_cpu_capability(),
            load_average=[round(x, 1) for x in os.getloadavg()],
        )
        records.append(rec)
    if args.json:
        with open(args.json, "a") as f:
            for rec in records:
                f.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
