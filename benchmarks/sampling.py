"""Accuracy and time of the samplers on a trained run: ancestral DDPM over all T steps against
few-step DDIM and DPM-Solver++.

    python benchmarks/sampling.py runs/small
    python benchmarks/sampling.py runs/small --num-conditions 512 --variants ddpm:1000 ddim:50 dpm:20

Every variant samples the same fixed conditions (drawn from the run's label space with
``--seed``) with the same per-sample seeds, and ``factordiff.evaluation.score`` judges them.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from factordiff.data import eval_conditions
from factordiff.diffusion import GaussianDiffusion
from factordiff.evaluation import score
from factordiff.hardware import autocast, cpu_description, resolve_precision
from factordiff.runs import final_checkpoint
from factordiff.training import load_model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run")
    p.add_argument("--num-conditions", type=int, default=256)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--variants", nargs="+", default=["ddpm:1000", "ddim:50", "ddim:25", "dpm:20"])
    args = p.parse_args(argv)

    model, cfg, meta = load_model(final_checkpoint(args.run))
    diffusion = GaussianDiffusion(cfg.diffusion)
    labels = eval_conditions(cfg.data, args.num_conditions, seed=args.seed)
    precision = resolve_precision(cfg.train.precision, torch.device("cpu"))
    ctx = autocast(torch.device("cpu"), precision)
    print(
        f"run {args.run} (epoch {meta['epoch']}), {args.num_conditions} conditions, threads {torch.get_num_threads()}, "
        f"{precision.used}; CPU {cpu_description()}"
    )
    print(
        f"{'sampler':<12} {'network evals':>13} {'accuracy':>9} {'x acc':>6} {'y acc':>6} {'seconds':>8}"
    )
    for v in args.variants:
        name, steps = v.split(":")
        t0 = time.perf_counter()
        with ctx:
            images = diffusion.sample(
                model, labels, sampler=name, num_steps=int(steps), seed=args.seed
            )
        dt = time.perf_counter() - t0
        s = score(images, labels, cfg.data, tolerance_px=cfg.eval.tolerance_px).summary()
        print(
            f"{name:<12} {int(steps):>13} {s['accuracy']:>9.3f} {s['x_accuracy']:>6.3f} {s['y_accuracy']:>6.3f} {dt:>8.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
