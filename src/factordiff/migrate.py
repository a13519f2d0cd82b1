"""Schema versions of saved configs, and the one list of migrations between them.

Every config factordiff saves (a run's ``config.json``, the config inside each checkpoint,
each config of a sweep's ``sweep.json``, an experiment's ``experiment.json``) carries
``"schema_version": SCHEMA_VERSION`` at its top. A saved config without it was written before
versions existed and is read as :data:`OLDEST_VERSION`. A config of a newer version than this
code knows is refused (:class:`FutureSchemaError`), naming both versions.

:data:`MIGRATIONS` lists, in order, what changed between versions; the three places that care
about old configs all go through it, and through nothing else:

- loading (:func:`factordiff.config.from_dict`, hence ``read_run_config``, checkpoints,
  ``sweep.json``, ``experiment.json``): an old dict is upgraded (:func:`upgrade`), then read
  strictly;
- resuming (:func:`factordiff.training.train`): the saved config is compared upgraded the same
  way, so a field added since it was written is no change of config;
- run keys (:func:`factordiff.experiments.sweep.run_key`): a field a migration added is left
  out of the key while it holds the value the migration gives old runs (:func:`key_dict`), so
  a new field renames no existing run folder.

Adding a config field is one entry at the end of :data:`MIGRATIONS`, ``added={"section.name":
value every earlier config had}``; :data:`SCHEMA_VERSION` follows from the list. The field's
default may then be anything: old configs load with the migration's value, not the default.

This module works on plain dicts (JSON as saved) and imports nothing of factordiff.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MIGRATIONS",
    "OLDEST_VERSION",
    "SCHEMA_VERSION",
    "VERSION_KEY",
    "FutureSchemaError",
    "Migration",
    "key_dict",
    "saved_version",
    "stamp",
    "upgrade",
]

#: The top-level key of a saved config that holds its schema version.
VERSION_KEY = "schema_version"
#: The version of a saved config without :data:`VERSION_KEY` (written before versions).
OLDEST_VERSION = 1
#: The class a migration applies to when it names none: the run config.
RUN = "RunConfig"


class FutureSchemaError(ValueError):
    """A saved config of a newer schema version than this code reads."""


@dataclass(frozen=True)
class Migration:
    """One step, from schema ``version - 1`` to ``version``, of the saved dicts of one config
    class (``config``: ``"RunConfig"`` or an experiment config such as ``"Exp3Config"``).

    ``added``: dotted paths inside that config (``"model.kind"``) -> the value (as JSON, e.g.
    a list for a tuple) every config written before this version had; a saved config without
    the field loads with it, and a run key leaves the field out while it holds it. ``apply``:
    a step that is not a plain addition (a rename), changing the dict in place; it must leave a
    dict that is already current unchanged (unversioned dicts are read as the oldest)."""

    version: int
    what: str = ""
    added: Mapping[str, Any] = field(default_factory=dict)
    apply: Callable[[dict], None] | None = None
    config: str = RUN

    def describe(self) -> str:
        """One line: ``v2 -> v3 (RunConfig): model.label_encoding added, old value 'periodic'``."""
        parts = [self.what] if self.what else []
        parts += [f"{p} added, old value {v!r}" for p, v in self.added.items()]
        return f"v{self.version - 1} -> v{self.version} ({self.config}): {'; '.join(parts)}"


def _bf16_to_precision(data: dict) -> None:
    # train.bf16 (true/false) was replaced by train.precision; a bf16 that is not a bool is
    # kept, so the strict loader names the bad key
    train = data.get("train")
    if isinstance(train, dict) and "bf16" in train and "precision" not in train:
        if isinstance(train["bf16"], bool):
            train["precision"] = "bf16" if train.pop("bf16") else "fp32"


#: Every change of a saved config's schema, oldest first; one entry per change.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "train.bf16 (true/false) became train.precision ('bf16' | 'fp32')",
        apply=_bf16_to_precision,
    ),
    Migration(3, added={"model.label_encoding": "periodic"}),
    Migration(4, added={"model.kind": "unet"}),
)

#: The schema version this code writes: the version of the last migration.
SCHEMA_VERSION: int = MIGRATIONS[-1].version if MIGRATIONS else OLDEST_VERSION


def check_migrations(migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
    """Raise unless the versions run ``OLDEST_VERSION + 1, + 2, ...`` without a gap."""
    for i, m in enumerate(migrations):
        want = OLDEST_VERSION + 1 + i
        if m.version != want:
            raise ValueError(
                f"migration {m.describe()!r} has version {m.version}; allowed: {want} (each "
                "migration one version after the one before it)"
            )
        for path in m.added:
            if not path or any(not p for p in path.split(".")):
                raise ValueError(f"migration v{m.version}: path {path!r} is invalid")


check_migrations()


def saved_version(data: Mapping[str, Any]) -> int:
    """The schema version of saved config ``data`` (:data:`OLDEST_VERSION` without one).

    Raises :class:`FutureSchemaError` for a version above :data:`SCHEMA_VERSION` and
    ``ValueError`` for one that is not an integer >= :data:`OLDEST_VERSION`."""
    v = data.get(VERSION_KEY, OLDEST_VERSION)
    if isinstance(v, bool) or not isinstance(v, int) or v < OLDEST_VERSION:
        raise ValueError(
            f"{VERSION_KEY} = {v!r} is invalid; allowed: an integer from {OLDEST_VERSION} "
            f"to {SCHEMA_VERSION}"
        )
    if v > SCHEMA_VERSION:
        raise FutureSchemaError(
            f"{VERSION_KEY} = {v}: the config was written by a newer factordiff (schema "
            f"version {v}) than this one reads (schema version {SCHEMA_VERSION}); allowed: "
            f"{VERSION_KEY} <= {SCHEMA_VERSION} (upgrade factordiff to read it)"
        )
    return v


def stamp(data: dict) -> dict:
    """``data`` (a config as saved) with ``schema_version`` first: what files hold."""
    rest = {k: v for k, v in data.items() if k != VERSION_KEY}
    return {VERSION_KEY: SCHEMA_VERSION, **rest}


def upgrade(data: Any, config: str = RUN, version: int | None = None) -> Any:
    """Saved config ``data`` of class ``config`` brought to :data:`SCHEMA_VERSION`: a new dict,
    without ``schema_version``, after every migration of ``config`` above its version.

    ``version``: the version to read it as (the enclosing file's, for a config nested in
    another); by default its own ``schema_version``, else :data:`OLDEST_VERSION`. A field a
    migration added is set only where it is missing. Anything but a dict is returned as it
    is (the strict loader names it)."""
    if not isinstance(data, dict):
        return data
    if VERSION_KEY in data or version is None:
        version = saved_version(data)
    out = copy.deepcopy({k: v for k, v in data.items() if k != VERSION_KEY})
    for m in MIGRATIONS:
        if m.config != config or m.version <= version:
            continue
        for path, value in m.added.items():
            *sections, name = path.split(".")
            node = out
            for s in sections:
                node = node.setdefault(s, {}) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.setdefault(name, copy.deepcopy(value))
        if m.apply is not None:
            m.apply(out)
    return out


def has_migrations(config: str) -> bool:
    """Whether any migration applies to the saved dicts of class ``config``."""
    return any(m.config == config for m in MIGRATIONS)


def key_dict(data: dict, config: str = RUN) -> dict:
    """Current config ``data`` (a plain dict) without every field a migration of ``config``
    added while it holds the value that migration gives old configs: what a run key hashes,
    so that adding a field changes no existing key."""
    out = copy.deepcopy(data)
    for m in MIGRATIONS:
        if m.config != config:
            continue
        for path, value in m.added.items():
            *sections, name = path.split(".")
            node = out
            for s in sections:
                node = node.get(s) if isinstance(node, dict) else None
            if isinstance(node, dict) and name in node and node[name] == value:
                del node[name]
    return out
