"""``--set section.key=value`` overrides: parsing the value and applying it to a config.

Overrides are applied to the config as a dict and the result is loaded again strictly
(:func:`factordiff.config.schema.from_dict`), so an override can never produce a config that
a saved file could not hold. ``--config FILE`` (:mod:`factordiff.config_files`) becomes such
overrides too.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from factordiff.config.schema import from_dict, to_dict

T = TypeVar("T")


def parse_value(text: str) -> Any:
    """Parse the right-hand side of ``--set key=value``: JSON if it parses, else a string.

    ``3e-4`` -> 0.0003, ``true`` -> True, ``[1,2]`` -> [1, 2], ``bump`` -> "bump"."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        low = text.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        if low in ("none", "null"):
            return None
        return text


def apply_overrides(cfg: T, overrides: list[str] | None) -> T:
    """Return a copy of ``cfg`` with dotted ``key=value`` overrides applied (strictly)."""
    data = to_dict(cfg)
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like section.key=value")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for i, p in enumerate(parts[:-1]):
            if not isinstance(node, dict) or p not in node or not isinstance(node[p], dict):
                valid = sorted(k for k, v in node.items() if isinstance(v, dict))
                raise ValueError(
                    f"unknown config section {'.'.join(parts[: i + 1])!r}; valid sections: {valid}"
                )
            node = node[p]
        if parts[-1] not in node:
            sect = ".".join(parts[:-1]) or "top level"
            raise ValueError(f"unknown config key {key!r}; valid keys of {sect}: {sorted(node)}")
        node[parts[-1]] = parse_value(text)
    return from_dict(type(cfg), data)
