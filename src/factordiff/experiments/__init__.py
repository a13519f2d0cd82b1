"""The paper's experiments on one skeleton (``skeleton.py``), run as sweeps (``sweep.py``).

``EXPERIMENTS`` maps an experiment name to its :class:`~factordiff.experiments.skeleton.
Experiment`; ``resolve_experiment`` turns a command-line name (``exp1``, ``exp1-quick``)
into the experiment and its preset.
"""

from __future__ import annotations

from factordiff.experiments.exp1 import EXP1
from factordiff.experiments.exp2 import EXP2
from factordiff.experiments.exp3 import EXP3
from factordiff.experiments.percolation import PERCOLATION
from factordiff.experiments.skeleton import Experiment, Verdict, run_experiment

EXPERIMENTS: dict[str, Experiment] = {
    EXP1.name: EXP1,
    EXP2.name: EXP2,
    EXP3.name: EXP3,
    PERCOLATION.name: PERCOLATION,
}


def preset_names() -> list[str]:
    """Every experiment preset, e.g. ``exp1``, ``exp1-quick``."""
    return sorted(p for exp in EXPERIMENTS.values() for p in exp.presets)


def resolve_experiment(name: str, quick: bool = False) -> tuple[Experiment, str]:
    """``(experiment, preset)`` of a name such as ``exp1`` (``--quick``: ``exp1-quick``)."""
    preset = name + ("-quick" if quick and not name.endswith("-quick") else "")
    for exp in EXPERIMENTS.values():
        if preset in exp.presets:
            return exp, preset
    raise ValueError(f"unknown experiment {name!r}; valid experiments: {preset_names()}")


__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "Verdict",
    "preset_names",
    "resolve_experiment",
    "run_experiment",
]
