"""The one registry of named settings: run presets, dataset presets, experiment presets (with
the scale each serves) and experiment variants.

Every named setting a user can ask for by name lives here, as a :class:`CatalogEntry` of one
:data:`KINDS`:

- ``run``: a full :class:`~factordiff.config.RunConfig` (``factordiff train --preset NAME``;
  registered by :mod:`factordiff.presets`);
- ``data``: a :class:`~factordiff.config.DataConfig` (``factordiff data NAME``; registered by
  :mod:`factordiff.data.presets`);
- ``experiment``: an experiment's preset (``factordiff experiment NAME``), ``owner`` naming the
  experiment and ``scale`` the reproduction scale it serves (``paper``, ``quick``, ``tiny``,
  or ``""`` for an extra preset);
- ``variant``: an experiment's training variant (``--variant NAME``), ``owner`` naming it.

Experiments' presets and variants enter when the experiment is registered
(:func:`factordiff.experiments.registry.register_experiment`) and leave when it is
unregistered, so the scale map of ``factordiff reproduce``, ``factordiff list`` and the
lookups by name all read one table. Names are unique within a kind (a variant's within its
experiment). This module imports nothing but the standard library: ``factordiff --help``
may read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The kinds of named settings, in the order ``factordiff list`` shows them.
KINDS = ("run", "data", "experiment", "variant")


@dataclass(frozen=True)
class CatalogEntry:
    """One named setting: what it is, what we expect of it, and the object itself."""

    kind: str  # one of KINDS
    name: str
    description: str
    expected: str = ""  # the result we expect of it ("" where nothing is claimed)
    value: Any = None  # the setting: a RunConfig, DataConfig, ExperimentPreset, ...
    owner: str = ""  # the experiment an experiment preset or a variant belongs to
    scale: str = ""  # an experiment preset's reproduction scale ("" for none)


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind = {kind!r} is invalid; allowed: {', '.join(KINDS)}")
    return kind


class PresetCatalog:
    """Named settings by kind. ``register`` refuses a name already taken within its kind
    (for variants: within its experiment); ``get`` names the allowed names when it fails."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], CatalogEntry] = {}

    @staticmethod
    def _key(kind: str, name: str, owner: str) -> tuple[str, str, str]:
        # experiment presets are unique across experiments (a command-line word);
        # variants only within their experiment
        return (kind, owner if kind == "variant" else "", name)

    def register(self, entry: CatalogEntry, *, replace: bool = False) -> CatalogEntry:
        """Add ``entry``; ``ValueError`` when its name is taken (unless ``replace``)."""
        _check_kind(entry.kind)
        if not isinstance(entry.name, str) or not entry.name:
            raise ValueError(
                f"{entry.kind} preset name = {entry.name!r} is invalid; allowed: a non-empty string"
            )
        if entry.kind in ("experiment", "variant") and not entry.owner:
            raise ValueError(
                f"{entry.kind} {entry.name!r} has no owner; allowed: the name of its experiment"
            )
        key = self._key(entry.kind, entry.name, entry.owner)
        old = self._entries.get(key)
        if old is not None and not replace:
            where = f" (of {old.owner})" if old.owner else ""
            raise ValueError(
                f"{entry.kind} preset {entry.name!r} is already registered{where}; allowed: a "
                "new name"
            )
        self._entries[key] = entry
        return entry

    def remove_owner(self, owner: str) -> None:
        """Take out every experiment preset and variant of experiment ``owner``."""
        for key in [k for k, e in self._entries.items() if e.owner == owner]:
            del self._entries[key]

    def entries(self, kind: str, owner: str | None = None) -> list[CatalogEntry]:
        """The entries of ``kind`` (of experiment ``owner`` only, if given), in the order
        they were registered (the order their module declares them in)."""
        _check_kind(kind)
        return [
            e
            for e in self._entries.values()
            if e.kind == kind and (owner is None or e.owner == owner)
        ]

    def names(self, kind: str, owner: str | None = None) -> list[str]:
        return [e.name for e in self.entries(kind, owner)]

    def get(self, kind: str, name: str, owner: str = "") -> CatalogEntry:
        """The entry ``name`` of ``kind`` (a variant: of experiment ``owner``)."""
        entry = self._entries.get(self._key(_check_kind(kind), name, owner))
        if entry is None:
            allowed = self.names(kind, owner if kind == "variant" else None)
            what = f"{kind} preset" if kind != "variant" else f"variant of {owner or '?'}"
            raise ValueError(f"unknown {what} {name!r}; allowed: {allowed}")
        return entry

    def has(self, kind: str, name: str, owner: str = "") -> bool:
        return self._key(_check_kind(kind), name, owner) in self._entries

    def at_scale(self, owner: str, scale: str) -> CatalogEntry:
        """Experiment ``owner``'s preset for reproduction ``scale``."""
        for e in self.entries("experiment", owner):
            if e.scale == scale:
                return e
        raise ValueError(
            f"experiment {owner!r} has no preset at scale {scale!r}; its presets: "
            f"{self.names('experiment', owner)}"
        )


#: The one catalog every lookup by name reads.
CATALOG = PresetCatalog()

__all__ = ["CATALOG", "KINDS", "CatalogEntry", "PresetCatalog"]
