"""Config files: ``--config FILE`` (TOML) beside ``--set``, for runs and experiments.

A file holds the keys ``--set`` takes, as TOML tables: for ``factordiff train`` the fields
of a :class:`~factordiff.config.RunConfig`::

    seed = 1
    [train]
    lr = 1e-3
    epochs = 50

and for ``factordiff experiment`` those of the experiment's config (``run`` is its run)::

    seeds = [0, 1]
    grid = 24
    [run.train]
    precision = "fp32"

The file becomes ``key=value`` overrides (:func:`factordiff.config.apply_overrides`), placed
after the preset and before the command line's own, so a ``--set`` of the same key wins.
Standard library only (``tomllib``): ``factordiff --help`` stays light.
"""

from __future__ import annotations

import datetime
import json
import tomllib
from pathlib import Path
from typing import Any

ALLOWED = "a TOML file of config keys, e.g. '[train]' then 'lr = 1e-3'"


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The TOML tables of ``path`` as a dict; ``ValueError`` naming the file when it is
    missing, unreadable or not TOML."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"--config {path}: no such file; allowed: {ALLOWED}") from None
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise ValueError(
            f"--config {path}: cannot be read ({reason}); allowed: {ALLOWED}"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"--config {path}: not valid TOML ({e}); allowed: {ALLOWED}") from None


def toml_overrides(table: dict[str, Any], fields: dict[str, Any], prefix: str = "") -> list[str]:
    """``table`` (from a TOML file) as dotted ``key=value`` strings in the form ``--set``
    takes. A sub-table is followed into the config section of the same name (``fields``:
    the config as :func:`factordiff.config.to_dict` gives it); anything else is one value,
    written as JSON so that :func:`factordiff.config.parse_value` reads it back unchanged."""
    out = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(fields.get(key), dict):
            out += toml_overrides(value, fields[key], f"{name}.")
            continue
        if isinstance(value, datetime.date | datetime.time):
            raise ValueError(
                f"{name} = {value} is invalid; allowed: numbers, strings, booleans, arrays "
                "(TOML dates and times are no config values)"
            )
        out.append(f"{name}={json.dumps(value)}")
    return out


def config_file_overrides(
    path: str | Path | None,
    base: Any,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    seeds: list[int] | None = None,
) -> list[str]:
    """The overrides of config file ``path`` followed by ``overrides`` (the command line's
    ``--set``): what to apply to ``base`` (the preset's config, a dataclass), in that order.

    The file's overrides are checked against ``base`` here, so that an unknown key or a
    value of the wrong type is a ``ValueError`` naming the file and the key before anything
    is written. ``seeds`` (an experiment's ``--seeds``, applied by its ``config`` before
    any override) is repeated after the file's when the file sets ``seeds`` too: the
    command line wins. ``path`` None: ``overrides`` unchanged."""
    from factordiff.config import apply_overrides, to_dict

    if path is None:
        return list(overrides)
    table = read_config_file(path)
    try:
        items = toml_overrides(table, to_dict(base))
    except ValueError as e:
        raise ValueError(f"--config {path}: {e}") from None
    try:
        apply_overrides(base, items)
    except (ValueError, TypeError) as e:
        # a check across fields that --set settles (it raises the epochs the file's
        # checkpoints need) passes: the config as resolved is what counts
        if not _fixed_by(base, items, overrides):
            raise ValueError(f"--config {path}: {e}") from None
    if seeds is not None and "seeds" in table:
        items.append(f"seeds={json.dumps(list(seeds))}")
    return [*items, *overrides]


def _fixed_by(base: Any, items: list[str], overrides) -> bool:
    """Whether the file's ``items`` that fail on ``base`` alone (a check across fields) pass
    once ``overrides`` follow them."""
    from factordiff.config import apply_overrides

    if not overrides:
        return False
    try:
        apply_overrides(base, [*items, *overrides])
    except (ValueError, TypeError):
        return False
    return True
