"""Step time alone and beside a busy process, per thread setting and precision.

    python benchmarks/shared_cores.py                       # the default variants, 2 rounds
    python benchmarks/shared_cores.py --precision bf16 --variant "default|" --steps 12 --max-seconds 90

Each measurement is a fresh process (OpenMP reads its settings once, at start) that builds a
``Trainer`` of the preset and times ``--steps`` training steps, stopping early after
``--max-seconds``, feeding each step's time to the run's thread governor as the training loop
does. The figure is the median of the second half of the steps (after the governor's first
comparison, and past the warm-up); the mean over all steps, probes included, is printed
beside it. A *busy* measurement first starts one
single-threaded busy loop (``while True: pass``) beside it, so one of the machine's cores is
taken, as when a user runs something else on a laptop. The variants take turns for
``--rounds`` rounds so that a slow spell of a shared machine hits them alike; the table gives
each variant's median step time alone and busy and their ratio.

Thread settings: ``threads=K`` sets ``train.num_threads=K`` explicitly; without it the run
keeps the project's default (``train.num_threads=0``: one thread per usable core, see
factordiff.hardware); an ``env:`` item sets an environment variable for that process.
(``env:OMP_WAIT_POLICY=PASSIVE`` makes waiting threads sleep instead of spinning.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, statistics, sys, time
import torch
from factordiff.config import apply_overrides
from factordiff.presets import preset_config
from factordiff.training import Trainer
preset, overrides, steps, max_seconds = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
cfg = apply_overrides(preset_config(preset), overrides)
trainer = Trainer(cfg, "/nonexistent-benchmark-run", progress=False)
gen = torch.Generator().manual_seed(0)
def batch():
    return torch.randperm(len(trainer.images), generator=gen)[: cfg.train.batch_size]
times, t_start = [], time.perf_counter()
for _ in range(steps):
    idx = batch()
    t0 = time.perf_counter()
    trainer.train_step(idx)
    dt = time.perf_counter() - t0
    times.append(dt)
    if trainer.governor is not None:  # as the training loop does
        trainer.governor.step_done(dt)
    if time.perf_counter() - t_start > max_seconds:
        break
late = times[len(times) // 2:]  # the second half: after the governor's first comparison
print(json.dumps({"median": statistics.median(late), "mean_all": statistics.mean(times),
                  "n": len(times), "threads": torch.get_num_threads(),
                  "precision": trainer.precision.used}))
"""

DEFAULT_VARIANTS = [
    "default (thread governor)|",
    "2 threads, fixed|threads=2",
    "2 threads, passive wait|threads=2;env:OMP_WAIT_POLICY=PASSIVE",
    "1 thread|threads=1",
]


def cpu_name() -> str:
    from factordiff.hardware import cpu_description

    return cpu_description()


def measure(preset, spec, precision, busy, steps, max_seconds) -> dict:
    name, _, rest = spec.partition("|")
    overrides, env = [f"train.precision={precision}"], dict(os.environ)
    for item in filter(None, rest.split(";")):
        if item.startswith("env:"):
            k, _, v = item[4:].partition("=")
            env[k] = v
        elif item.startswith("threads="):
            overrides.append(f"train.num_threads={item.split('=', 1)[1]}")
        else:
            overrides.append(item)
    hog = None
    if busy:
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                preset,
                json.dumps(overrides),
                str(steps),
                str(max_seconds),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--preset", default="small")
    p.add_argument("--variant", action="append", default=None, help="NAME|threads=K;env:K=V")
    p.add_argument("--precision", action="append", default=None, help="fp32 | bf16 | auto")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--max-seconds", type=float, default=45.0)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    variants = args.variant or DEFAULT_VARIANTS
    precisions = args.precision or ["fp32"]
    import torch

    print(
        f"CPU: {cpu_name()}; {os.cpu_count()} logical cores; torch {torch.__version__}; "
        f"preset {args.preset}; load average before: {os.getloadavg()[0]:.2f}"
    )
    results: dict[tuple, list[float]] = {}
    info: dict[tuple, dict] = {}
    for _ in range(args.rounds):
        for prec in precisions:
            for spec in variants:
                for busy in (False, True):
                    r = measure(args.preset, spec, prec, busy, args.steps, args.max_seconds)
                    key = (spec.partition("|")[0], prec, busy)
                    results.setdefault(key, []).append(r["median"])
                    info[key] = r
                    state = "busy" if busy else "alone"
                    print(
                        f"  {key[0]} ({prec}, {state}): {r['median'] * 1000:.0f} ms "
                        f"(mean of all {r['n']} steps {r['mean_all'] * 1000:.0f} ms), "
                        f"{r['threads']} threads at the end",
                        flush=True,
                    )
    print(
        f"{'variant':<32} {'precision':<9} {'threads':>7} {'alone ms':>9} {'busy ms':>9} {'busy/alone':>10}"
    )
    for prec in precisions:
        for spec in variants:
            name = spec.partition("|")[0]
            alone = statistics.median(results[(name, prec, False)])
            busy = statistics.median(results[(name, prec, True)])
            used = info[(name, prec, False)]
            print(
                f"{name:<32} {used['precision']:<9} {used['threads']:>7} {alone * 1000:>9.0f} "
                f"{busy * 1000:>9.0f} {busy / alone:>9.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
