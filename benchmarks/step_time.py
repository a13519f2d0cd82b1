"""Median time of one training step for variants of a preset, side by side in one process.

    python benchmarks/step_time.py                                   # model and optimizer variants
    python benchmarks/step_time.py --compile                         # also torch.compile (slow)
    python benchmarks/step_time.py --variant "3 levels|model.block_out_channels=[16,32,64];model.attention=[false,false,false]"
    python benchmarks/step_time.py --ladder --set train.precision=fp32  # rung0 ... rung7

Each variant is the preset with ``--set``-style overrides (``;``-separated) and runs
``factordiff.training.Trainer.train_step`` on the preset's data: two warm-up steps, then
``--steps`` timed steps. The variants take turns for ``--rounds`` rounds so that a slow spell
of a shared machine hits them alike; the table gives each variant's median over all its steps
(wall time, and the process's CPU time: on a busy machine with one torch thread the CPU time
is close to what the step takes on an idle core) and its ratio to the first variant. Optimizer variants swap the Trainer's AdamW (for-loop,
``foreach`` or ``fused``) and diffusers' ``EMAModel`` (per-parameter or ``foreach``).
``--compile`` adds the first variant with ``torch.compile`` on the UNet and reports the
compilation time (the first step) separately. ``--eval`` also times one accuracy evaluation
during training (``Trainer.evaluate``: ``train.eval_num_conditions`` samples, ``eval_steps``
sampler steps) of each variant.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from diffusers.training_utils import EMAModel

from factordiff.config import apply_overrides
from factordiff.hardware import cpu_description
from factordiff.presets import preset_config
from factordiff.training import Trainer

DEFAULT_VARIANTS = [
    "preset|",
    "attention at 4 x 4, no coordinates|model.attention=[false,false,false,true];"
    "model.coord_frequencies=0",
    "coordinates K = 4|model.coord_frequencies=4",
    "3 levels (16-32-64)|model.block_out_channels=[16,32,64];model.attention=[false,false,false]",
    "widths 16-32-32-32|model.block_out_channels=[16,32,32,32]",
    "fp32|train.precision=fp32",
    "bf16|train.precision=bf16",
    "foreach AdamW + foreach EMA|optimizer:foreach",
    "fused AdamW + foreach EMA|optimizer:fused",
]


def build(preset: str, spec: str) -> tuple[str, Trainer]:
    name, sep, rest = spec.partition("|")
    if not sep:
        raise ValueError(f"variant {spec!r} is invalid; expected NAME|key=value;key=value")
    overrides, optimizer = [], None
    for item in filter(None, rest.split(";")):
        if item.startswith("optimizer:"):
            optimizer = item.split(":", 1)[1]
        else:
            overrides.append(item)
    cfg = apply_overrides(preset_config(preset), overrides)
    trainer = Trainer(cfg, "/nonexistent-benchmark-run", progress=False)
    if optimizer is not None:
        if optimizer not in ("foreach", "fused"):
            raise ValueError(f"optimizer:{optimizer} is invalid; allowed: foreach, fused")
        params = trainer.model.parameters()
        kw = {"foreach": True} if optimizer == "foreach" else {"fused": True}
        trainer.optimizer = torch.optim.AdamW(
            params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, **kw
        )
        trainer.ema = EMAModel(trainer.model.parameters(), decay=cfg.train.ema_decay, foreach=True)
    return name, trainer


def _batch(trainer: Trainer, gen: torch.Generator) -> torch.Tensor:
    return torch.randperm(len(trainer.images), generator=gen)[: trainer.cfg.train.batch_size]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--preset", default="small")
    p.add_argument(
        "--variant",
        action="append",
        default=None,
        help="NAME|key=value;key=value (default: a set of model and optimizer variants)",
    )
    p.add_argument("--steps", type=int, default=6, help="timed steps per variant and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--compile", action="store_true", help="add torch.compile of the first variant")
    p.add_argument("--eval", action="store_true", help="also time one evaluation per variant")
    p.add_argument(
        "--ladder",
        action="store_true",
        help="the variants are the ladder's rung presets (factordiff.ladder), rung0 first",
    )
    p.add_argument("--set", action="append", default=[], help="key=value applied to every variant")
    args = p.parse_args(argv)

    common = ";".join(args.set)
    if args.ladder:
        from factordiff.ladder import DEVIATIONS

        presets = [f"rung{k}" for k in range(len(DEVIATIONS) + 1)]
        specs = [f"{r}|{common}" for r in presets]
    else:
        specs = [f"{s};{common}" if common else s for s in (args.variant or DEFAULT_VARIANTS)]
        presets = [args.preset] * len(specs)
    trainers = [build(pr, s) for pr, s in zip(presets, specs)]
    if args.compile:
        name, trainer = build(presets[0], specs[0])
        trainer.model.unet = torch.compile(trainer.model.unet)
        trainers.append((f"{name} + torch.compile", trainer))
    print(
        f"preset {'rung0 ... rung7' if args.ladder else args.preset}, threads {torch.get_num_threads()}, torch {torch.__version__}, "
        f"CPU {cpu_description()}"
    )

    times: dict[str, list[float]] = {name: [] for name, _ in trainers}
    cpu: dict[str, list[float]] = {name: [] for name, _ in trainers}
    first: dict[str, float] = {}
    for name, trainer in trainers:
        gen = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        trainer.train_step(_batch(trainer, gen))
        first[name] = time.perf_counter() - t0
        trainer.train_step(_batch(trainer, gen))
    for _ in range(args.rounds):
        for name, trainer in trainers:
            gen = torch.Generator().manual_seed(1)
            for _ in range(args.steps):
                idx = _batch(trainer, gen)
                t0, c0 = time.perf_counter(), time.process_time()
                trainer.train_step(idx)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)

    evals: dict[str, tuple[float, float]] = {}
    if args.eval:
        for name, trainer in trainers:
            t0, c0 = time.perf_counter(), time.process_time()
            trainer.evaluate()
            evals[name] = (time.perf_counter() - t0, time.process_time() - c0)

    base = statistics.median(times[trainers[0][0]])
    print(
        f"{'variant':<40} {'step ms':>8} {'cpu ms':>8} {'images/s':>9} {'vs first':>9} "
        f"{'first step s':>13}" + (f" {'eval s':>8} {'eval cpu s':>11}" if evals else "")
    )
    for name, trainer in trainers:
        med = statistics.median(times[name])
        bs = trainer.cfg.train.batch_size
        line = (
            f"{name:<40} {med * 1000:>8.1f} {statistics.median(cpu[name]) * 1000:>8.1f} "
            f"{bs / med:>9.0f} {med / base:>8.2f}x {first[name]:>13.1f}"
        )
        if name in evals:
            line += f" {evals[name][0]:>8.1f} {evals[name][1]:>11.1f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
