"""The plan of a reproduce: each experiment's resolved config and its sweep's runs, checked
before anything is written (:class:`Planned`). Read by ``reproduce``, ``gpu_paper`` and the
progress lines (:mod:`factordiff.experiments.progress`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factordiff.experiments.registry import experiment_names, get_experiment, preset_for
from factordiff.experiments.skeleton import Experiment
from factordiff.experiments.sweep import SweepRun, plan_sweep


@dataclass
class Planned:
    """One experiment of a reproduce: its resolved config and its planned runs."""

    name: str
    exp: Experiment
    preset: str
    cfg: Any
    out: Path
    runs: list[SweepRun]


def plan_reproduce(
    scale: str, out: str | Path, only: list[str] | None = None, device: str | None = None
) -> list[Planned]:
    """Resolve and validate every experiment's config and sweep (nothing is written):
    ``only`` (default every registered experiment, in reproduction order) at ``scale``."""
    return [
        plan_experiment(n, preset_for(n, scale), out, device) for n in only or experiment_names()
    ]


def plan_experiment(
    name: str, preset: str, out: str | Path, device: str | None = None, seeds=None, overrides=None
) -> Planned:
    """One experiment's config (``preset`` with ``seeds`` and ``overrides``) and sweep in
    ``out/name``, resolved and checked (nothing is written)."""
    exp = get_experiment(name)
    cfg = exp.config(preset, seeds=seeds, overrides=overrides)
    folder = Path(out) / name
    runs = plan_sweep(folder, exp.runs(cfg), device=device)
    exp.check(cfg, runs)
    return Planned(name, exp, preset, cfg, folder, runs)


__all__ = ["Planned", "plan_experiment", "plan_reproduce"]
