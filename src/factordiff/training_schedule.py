"""The schedule of a training run: its step budget, the learning rate at each step, and the
seeds of each epoch and step.

Determinism: the data order of epoch ``e`` is a permutation drawn from a generator seeded
with ``(seed, e)``, and the timesteps and noise of step ``s`` from one seeded with
``(seed, s)`` (:func:`seed_for`). Nothing depends on RNG state carried across steps, so a
resumed run replays exactly the steps an uninterrupted one would have taken.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from factordiff.config import TrainConfig


def seed_for(*parts: int) -> int:
    """A 63-bit seed from integers (SplitMix64 mixing), for per-epoch / per-step generators."""
    z = 0x9E3779B97F4A7C15
    for p in parts:
        z = (z ^ (int(p) + 0x9E3779B97F4A7C15 + (z << 6) + (z >> 2))) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        z ^= z >> 31
    return z & 0x7FFFFFFFFFFFFFFF


def lr_at(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``cfg.lr`` over ``warmup_steps``, then constant or cosine to 0."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "cosine":
        span = max(1, total_steps - cfg.warmup_steps)
        frac = min(1.0, (step - cfg.warmup_steps) / span)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * frac))
    return cfg.lr


def training_budget(train_cfg: TrainConfig, num_images: int) -> tuple[int, int, int]:
    """``(steps_per_epoch, num_epochs, total_steps)`` of a run on ``num_images`` images.

    An epoch is ``num_images // batch_size`` steps (the last partial batch is dropped, at
    least one step). With ``train_cfg.max_steps > 0`` the run takes exactly that many steps
    and ``num_epochs = ceil(max_steps / steps_per_epoch)`` (the last epoch may be partial);
    otherwise it takes ``train_cfg.epochs`` full epochs."""
    steps_per_epoch = max(1, num_images // train_cfg.batch_size)
    if train_cfg.max_steps > 0:
        total = train_cfg.max_steps
        return steps_per_epoch, math.ceil(total / steps_per_epoch), total
    return steps_per_epoch, train_cfg.epochs, steps_per_epoch * train_cfg.epochs
