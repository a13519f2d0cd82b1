"""The paper's experiments on one skeleton (``skeleton.py``), run as sweeps (``sweep.py``).

Each experiment is in the registry (:mod:`factordiff.experiments.registry`); the paper's
four are registered here without importing them (:func:`~factordiff.experiments.registry.
register_lazy`), so that ``import factordiff.experiments`` and listing the experiments' names
load no torch. ``resolve_experiment`` turns a command-line name (``exp1``, ``exp1-quick``)
into the experiment and its preset. ``EXPERIMENTS`` (name -> experiment, in reproduction
order), ``Experiment``, ``Verdict`` and ``run_experiment`` are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from factordiff.config.catalog import CATALOG
from factordiff.experiments.registry import (
    experiment_names,
    experiments,
    get_experiment,
    preset_for,
    register_experiment,
    register_lazy,
    unregister_experiment,
)

if TYPE_CHECKING:
    from factordiff.experiments.skeleton import Experiment, Verdict, run_experiment

# The paper's experiments. Each declares the same name, order and help in its own
# experiment.py, with its presets per scale (checked when it is first used).
register_lazy(
    "exp1",
    "factordiff.experiments.exp1.experiment:EXP1",
    order=10,
    help="does the model factorize x and y? (periodic bumps, a torus)",
)
register_lazy(
    "exp2",
    "factordiff.experiments.exp2.experiment:EXP2",
    order=20,
    help="composition versus interpolation",
)
register_lazy(
    "exp3",
    "factordiff.experiments.exp3.experiment:EXP3",
    order=30,
    help="how much data does a model need?",
)
register_lazy(
    "percolation",
    "factordiff.experiments.percolation.experiment:PERCOLATION",
    order=40,
    help="a sudden onset of learning above a critical data share",
)

_SKELETON = ("Experiment", "Verdict", "run_experiment")


def __getattr__(name: str) -> Any:
    """``EXPERIMENTS`` (a snapshot of the registry) and the skeleton's names, on first use."""
    if name == "EXPERIMENTS":
        return {exp.name: exp for exp in experiments()}
    if name in _SKELETON:
        return getattr(importlib.import_module("factordiff.experiments.skeleton"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def preset_names() -> list[str]:
    """Every experiment preset, e.g. ``exp1``, ``exp1-quick``."""
    experiments()  # every experiment loaded, so that the catalog holds all their presets
    return sorted(CATALOG.names("experiment"))


def resolve_experiment(name: str, quick: bool = False) -> tuple[Experiment, str]:
    """``(experiment, preset)`` of a name such as ``exp1`` (``--quick``: ``exp1-quick``)."""
    if quick and name in experiment_names():
        return get_experiment(name), preset_for(name, "quick")
    preset = name + ("-quick" if quick and not name.endswith("-quick") else "")
    experiments()
    if CATALOG.has("experiment", preset):
        return get_experiment(CATALOG.get("experiment", preset).owner), preset
    raise ValueError(f"unknown experiment {name!r}; valid experiments: {preset_names()}")


__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "Verdict",
    "experiment_names",
    "get_experiment",
    "preset_names",
    "register_experiment",
    "resolve_experiment",
    "run_experiment",
    "unregister_experiment",
]
