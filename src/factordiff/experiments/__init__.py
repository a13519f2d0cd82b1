"""The paper's experiments on one skeleton (``skeleton.py``), run as sweeps (``sweep.py``).

Each experiment is in the registry (:mod:`factordiff.experiments.registry`); the paper's
four are registered here from their ``listing.toml`` without importing them
(:func:`~factordiff.experiments.registry.register_packaged`), so that ``import factordiff.experiments`` and listing the experiments' names
load no torch. ``resolve_experiment`` turns a command-line name (``exp1``, ``exp1-quick``)
into the experiment and its preset. ``EXPERIMENTS`` (name -> experiment, in reproduction
order), ``Experiment``, ``Verdict`` and ``run_experiment`` are imported on first use.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from factordiff.config.catalog import CATALOG
from factordiff.experiments.registry import (
    experiment_names,
    experiments,
    get_experiment,
    preset_for,
    register_experiment,
    register_packaged,
    unregister_experiment,
)

if TYPE_CHECKING:
    from factordiff.experiments.skeleton import Experiment, Verdict, run_experiment

# Every experiment package here with a listing.toml (the paper's four), registered without
# importing it; its experiment.py reads the same name, order and help from that file.
register_packaged(Path(__file__).parent)

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
