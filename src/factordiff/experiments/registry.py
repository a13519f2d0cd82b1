"""The registry of experiments: which experiments exist, in what order they run, and which
preset each runs at every scale of a reproduction.

An experiment declares, beside its hooks (:class:`~factordiff.experiments.skeleton.
Experiment`)::

    name = "exp1"                   # folder and command-line name
    order = 10                      # its place in `factordiff reproduce` (lower runs first)
    scales = {"paper": "exp1", "quick": "exp1-quick", "tiny": "exp1-tiny"}  # one per SCALES
    help = "does the model factorize x and y?"  # one line for listings (default: its title)

and is added with :func:`register_experiment` (``unregister_experiment`` takes it out).
Everything that lists experiments reads this registry: ``factordiff list`` and ``factordiff
experiment --help``, the reproduce plan and its scale map (``factordiff reproduce``), the
report page's experiment folders and ``gpu-paper``'s presets. A new experiment is one
:func:`register_experiment` call and no edit elsewhere.

The experiment packages under ``factordiff/experiments/`` (the paper's four) are registered
by ``factordiff.experiments`` with :func:`register_packaged`: each has a ``listing.toml``
(name, order, help and the ``module:ATTRIBUTE`` of its instance), read without importing the
package, so that listing their names (``factordiff --help``) loads no torch and a new package
needs no edit elsewhere; the package is imported only when the experiment itself is needed
(:func:`register_lazy`). A lazily registered experiment must declare the same ``name``,
``order`` and ``help`` as its entry (checked when it loads; the packages read them from their
listing). Each experiment's presets and variants go into the one catalog of named
settings (:mod:`factordiff.config.catalog`) when it is registered or loaded. This module
imports nothing but the standard library and that catalog.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factordiff.config.catalog import CATALOG, CatalogEntry

#: The scales of a reproduction: the paper's presets (meant for a GPU), the reduced CPU
#: presets (``NAME-quick``) and the seconds-long smoke presets the tests use.
SCALES = ("paper", "quick", "tiny")
NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_]*"  # a folder name and a command-line word


@dataclass
class _Entry:
    """One registered experiment: its listing fields, and the experiment once loaded."""

    name: str
    order: int
    help: str
    target: str | None = None  # "module:attribute" of a lazily registered experiment
    exp: Any = None


_REGISTRY: dict[str, _Entry] = {}


# ----------------------------------------------------------------------------- checks
def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise ValueError(
            f"experiment name = {name!r} is invalid; allowed: a letter, then letters, digits "
            "or underscores (a folder name; presets add -quick, -tiny)"
        )
    if name in _REGISTRY:
        raise ValueError(
            f"experiment {name!r} is registered already; allowed: a new name, or "
            f"unregister_experiment({name!r}) first"
        )
    return name


def _check_order(name: str, order: Any) -> int:
    if isinstance(order, bool) or not isinstance(order, int):
        raise ValueError(
            f"experiment {name!r}: order = {order!r} is invalid; allowed: an integer (its place "
            "in the reproduction, lower first; the paper's experiments are 10, 20, 30, 40)"
        )
    return order


def _help_of(exp: Any) -> str:
    """The experiment's one-line help: its ``help``, else its title with its own name."""
    text = getattr(exp, "help", "") or str(getattr(exp, "title", "")).format(name=exp.name)
    if not isinstance(text, str) or not text.strip() or "\n" in text:
        raise ValueError(
            f"experiment {exp.name!r}: help = {text!r} is invalid; allowed: one non-empty line"
        )
    return text


def check_experiment(exp: Any) -> None:
    """``ValueError`` naming the bad field unless ``exp`` declares what the registry needs:
    a preset for every scale of :data:`SCALES`, each one of its ``presets``."""
    from factordiff.experiments.skeleton import Experiment

    if not isinstance(exp, Experiment):
        raise ValueError(
            f"{exp!r} is invalid; allowed: an instance of "
            "factordiff.experiments.skeleton.Experiment (a subclass with its hooks)"
        )
    presets, scales = getattr(exp, "presets", None), getattr(exp, "scales", None)
    if not isinstance(presets, dict) or not presets:
        raise ValueError(
            f"experiment {exp.name!r}: presets = {presets!r} is invalid; allowed: a dict of "
            "preset name -> ExperimentPreset, one for each scale at least"
        )
    if not isinstance(scales, dict) or sorted(scales) != sorted(SCALES):
        raise ValueError(
            f"experiment {exp.name!r}: scales = {scales!r} is invalid; allowed: a dict with "
            f"one preset for each scale of {', '.join(SCALES)}"
        )
    bad = {s: p for s, p in scales.items() if p not in presets}
    if bad:
        raise ValueError(
            f"experiment {exp.name!r}: scales {bad} name presets it does not have; allowed: "
            f"{sorted(presets)}"
        )
    _check_order(exp.name, getattr(exp, "order", None))
    _help_of(exp)


# ----------------------------------------------------------------------------- registering
def register_experiment(exp: Any) -> Any:
    """Add experiment ``exp`` (an :class:`~factordiff.experiments.skeleton.Experiment`
    instance declaring ``name``, ``order``, ``scales`` and optionally ``help``); returns it.
    ``ValueError`` for a name already registered or a declaration the registry cannot use."""
    _check_name(getattr(exp, "name", None))
    check_experiment(exp)
    _catalog(exp)
    _REGISTRY[exp.name] = _Entry(exp.name, exp.order, _help_of(exp), exp=exp)
    return exp


def _catalog(exp: Any) -> None:
    """Put ``exp``'s presets (with the scale each serves) and its variants into the one
    catalog of named settings; a preset name another experiment holds is refused, and
    nothing of ``exp`` is left behind then."""
    scale_of = {preset: scale for scale, preset in exp.scales.items()}
    try:
        for name, preset in exp.presets.items():
            CATALOG.register(
                CatalogEntry(
                    "experiment",
                    name,
                    preset.description,
                    preset.expected,
                    value=preset,
                    owner=exp.name,
                    scale=scale_of.get(name, ""),
                )
            )
        for name, variant in (getattr(exp, "variants", None) or {}).items():
            CATALOG.register(
                CatalogEntry("variant", name, variant.description, value=variant, owner=exp.name)
            )
    except ValueError:
        CATALOG.remove_owner(exp.name)
        raise


def register_lazy(name: str, target: str, *, order: int, help: str) -> None:
    """Register the experiment at ``target`` (``"package.module:ATTRIBUTE"``) without
    importing it: ``name``, ``order`` and ``help`` serve listings until it is needed."""
    _check_name(name)
    _check_order(name, order)
    if not re.fullmatch(r"[\w.]+:\w+", target):
        raise ValueError(
            f"experiment {name!r}: target = {target!r} is invalid; allowed: "
            "'package.module:ATTRIBUTE'"
        )
    _REGISTRY[name] = _Entry(name, order, help, target=target)


#: The keys of an experiment package's ``listing.toml``, all required.
LISTING_KEYS = ("name", "order", "help", "target")


def read_listing(path: str | Path) -> dict[str, Any]:
    """The ``listing.toml`` of an experiment package (``name``, ``order``, ``help``,
    ``target``), read strictly: a missing or unknown key, or a value of the wrong type, is a
    ``ValueError`` naming the file."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{path}: not a readable listing ({e}); allowed: a TOML file") from None
    if sorted(data) != sorted(LISTING_KEYS):
        raise ValueError(
            f"{path}: keys {sorted(data)} are invalid; allowed: exactly {list(LISTING_KEYS)}"
        )
    for key, kind in (("name", str), ("order", int), ("help", str), ("target", str)):
        if not isinstance(data[key], kind) or isinstance(data[key], bool):
            what = "an integer" if kind is int else "a string"
            raise ValueError(f"{path}: {key} = {data[key]!r} is invalid; allowed: {what}")
    return data


def register_packaged(folder: str | Path) -> list[str]:
    """Register lazily every experiment package under ``folder`` that has a
    ``listing.toml`` (the paper's four, and any package added beside them: a new one needs
    no edit elsewhere); returns their names."""
    names = []
    for listing in sorted(Path(folder).glob("*/listing.toml")):
        meta = read_listing(listing)
        register_lazy(meta["name"], meta["target"], order=meta["order"], help=meta["help"])
        names.append(meta["name"])
    return names


def unregister_experiment(name: str) -> None:
    """Take experiment ``name`` out of the registry (``ValueError`` when it is not in it)."""
    if name not in _REGISTRY:
        raise ValueError(
            f"experiment {name!r} is not registered; allowed: {', '.join(experiment_names())}"
        )
    CATALOG.remove_owner(name)
    del _REGISTRY[name]


# ----------------------------------------------------------------------------- reading
def experiment_names() -> list[str]:
    """The registered experiments' names in reproduction order (``order``, then name)."""
    return [e.name for e in sorted(_REGISTRY.values(), key=lambda e: (e.order, e.name))]


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise ValueError(
            f"experiment {name!r} is invalid; allowed: {', '.join(experiment_names())}"
        )
    return _REGISTRY[name]


def experiment_help(name: str) -> str:
    """The one-line help of experiment ``name`` (loads nothing)."""
    return _entry(name).help


def get_experiment(name: str) -> Any:
    """The experiment registered as ``name``, imported on first use when registered lazily."""
    entry = _entry(name)
    if entry.exp is None:
        module, attribute = entry.target.split(":")
        exp = getattr(importlib.import_module(module), attribute)
        declared = {"name": exp.name, "order": getattr(exp, "order", None), "help": _help_of(exp)}
        for field, value in declared.items():
            if value != getattr(entry, field):
                raise ValueError(
                    f"{entry.target} declares {field} = {value!r} but is registered with "
                    f"{field} = {getattr(entry, field)!r}; allowed: the same value in both"
                )
        check_experiment(exp)
        _catalog(exp)
        entry.exp = exp
    return entry.exp


def experiments() -> list[Any]:
    """Every registered experiment in reproduction order (each imported if it was not)."""
    return [get_experiment(n) for n in experiment_names()]


def check_scale(scale: str) -> str:
    """``scale`` when it is one of :data:`SCALES`, else ``ValueError`` naming it."""
    if scale not in SCALES:
        raise ValueError(f"scale = {scale!r} is invalid; allowed: {', '.join(SCALES)}")
    return scale


def preset_for(name: str, scale: str) -> str:
    """The preset of experiment ``name`` at ``scale`` (``exp2``, ``quick`` -> ``exp2-quick``;
    ``exp2``, ``tiny`` -> ``exp2-smoke``)."""
    check_scale(scale)
    get_experiment(name)  # loaded, so that its presets are in the catalog
    return CATALOG.at_scale(name, scale).name


__all__ = [
    "SCALES",
    "check_experiment",
    "check_scale",
    "experiment_help",
    "experiment_names",
    "experiments",
    "get_experiment",
    "preset_for",
    "register_experiment",
    "register_lazy",
    "register_packaged",
    "read_listing",
    "unregister_experiment",
]
