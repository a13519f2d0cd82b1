"""The strict loader of configs: mapping <-> dataclass, with every field type-checked.

:func:`from_dict` builds a config dataclass from a mapping (a saved ``config.json``, a
checkpoint's config, ``--set`` overrides): an unknown key or a value of the wrong type raises
``ValueError`` naming the key, the value and what is allowed; nothing is silently fixed. A
saved config is first upgraded through :mod:`factordiff.migrate`. :func:`to_dict` is the way
back (what run keys hash, so its output must not change). :func:`check_fields` and
:func:`check` are the building blocks of the sections' ``validate()``
(:mod:`factordiff.config.validate`).

Standard library and :mod:`factordiff.migrate` only: ``import factordiff.config`` stays light.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

from factordiff import migrate

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, path: str, version: int | None = None) -> Any:
    """Check ``value`` against annotation ``tp`` and convert lossless cases (int -> float,
    list -> tuple). Raises ``ValueError`` naming ``path`` on a mismatch. ``version``: the
    schema version of the saved file a nested config comes from (:func:`from_dict`)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, path, version)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(f"{path}: value {value!r} matches none of {tp}")
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"{path}: {value!r} is not allowed; choose one of {list(args)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{path}: expected a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            out = [_coerce(v, args[0], f"{path}[{i}]") for i, v in enumerate(value)]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise ValueError(f"{path}: expected {len(args)} items, got {len(value)}: {value!r}")
            out = [_coerce(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
        else:
            sub = args[0] if args else Any
            out = [_coerce(v, sub, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected a mapping for {_type_name(tp)}, got {value!r}")
        return from_dict(tp, value, path, version)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{path}: expected a number, got {value!r}")
        if not math.isfinite(value):
            # NaN/inf would train on constant images or diverge, and are not valid JSON
            raise ValueError(f"{path} = {value!r} is invalid; allowed: a finite number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{path}: unsupported annotation {tp!r}")


def from_dict(cls: type[T], data: dict[str, Any], path: str = "", version: int | None = None) -> T:
    """Build dataclass ``cls`` from a mapping, strictly.

    Unknown keys and wrongly typed values raise ``ValueError`` listing the valid keys. A saved
    config is first upgraded to the current schema (:mod:`factordiff.migrate`): its
    ``schema_version`` (top level; absent: the oldest) says which migrations it needs, and a
    newer one than this code knows is refused. ``version``: the schema version of the file
    a nested config comes from (passed down by the loader itself)."""
    if not isinstance(data, dict):
        raise ValueError(f"{path or cls.__name__}: expected a mapping, got {data!r}")
    if not path or migrate.has_migrations(cls.__name__):  # a saved file's top, or a run config
        if migrate.VERSION_KEY in data or version is None:
            version = migrate.saved_version(data)
        data = migrate.upgrade(data, cls.__name__, version)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{path}." if path else ""
        raise ValueError(
            f"unknown config key(s) {[where + k for k in unknown]}; "
            f"valid keys{' of ' + path if path else ''}: {sorted(fields)}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], f"{path}.{name}" if path else name, version)
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain JSON-ready structures (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def saved_as_current(cls: type, saved: Any) -> Any:
    """Saved config ``saved`` of class ``cls`` as the current code reads it: upgraded through
    its migrations (:mod:`factordiff.migrate`) and loaded (defaults for fields it does not
    hold), as a plain dict. What resume and "is this the same config" compare. A config that
    no longer loads is returned upgraded but as it is, so that a comparison names what
    differs; one of a newer schema raises ``migrate.FutureSchemaError``."""
    try:
        return to_dict(from_dict(cls, saved))
    except migrate.FutureSchemaError:
        raise
    except (ValueError, TypeError):
        try:
            return migrate.upgrade(saved, cls.__name__)
        except ValueError:  # a garbled schema_version: compared as saved
            return saved


def json_ready(value: Any) -> Any:
    """NaN/inf -> None and numpy scalars -> Python numbers, recursively: what ``json.dump``
    and ``torch.load(weights_only=True)`` both accept."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy / torch scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def check_fields(obj: Any, section: str = "") -> None:
    """Check every field of dataclass ``obj`` against its annotation (types, finite numbers,
    choices), as :func:`from_dict` does; nested dataclasses are checked by their own
    ``validate``. Lets ``validate()`` refuse a config mutated after construction."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            continue
        _coerce(value, hints[f.name], f"{section}.{f.name}" if section else f.name)


def check(cond: bool, field_name: str, value: Any, allowed: str) -> None:
    """Raise ``ValueError`` naming ``field_name``, its ``value`` and what is ``allowed``
    unless ``cond`` holds."""
    if not cond:
        raise ValueError(f"{field_name} = {value!r} is invalid; allowed: {allowed}")
