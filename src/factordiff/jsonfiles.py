"""The JSON files factordiff writes, read back in one place.

Every JSON file the package reads (a sweep's ``sweep.json``, a run's ``failure.json``,
``config.json``, ``state.json`` and ``environment.json``, an experiment's ``summary.json``
and ``experiment.json``, a reproduce folder's ``reproduce.json``, ...) is read by
:func:`read_json` and its shape checked by the helpers below. A garbled or hand-edited file
stops with one ``ValueError`` line that names the file, the bad value (with where it sits,
e.g. ``runs[0].params``) and what is allowed; the command line prints it as ``error: ...``
and exits 2. Never a traceback, never the JSON parser's message without the file's name.

The checks are of what a reader uses, not of every key a writer puts in: files written by
earlier versions (e.g. the summaries under ``docs/results``) keep reading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "SUMMARY_ALLOWED",
    "check_summary",
    "describe",
    "expect",
    "expect_list",
    "expect_object",
    "invalid",
    "read_json",
    "read_object",
    "read_summary",
]

Types = type | tuple[type, ...]

_WORDS: dict[type, str] = {
    dict: "a JSON object",
    list: "a list",
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _tuple(types: Types) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def describe(types: Types) -> str:
    """``(str, type(None))`` -> ``"a string or null"``: the allowed types in words."""
    types = _tuple(types)
    if float in types:  # a number: an integer is one too
        types = tuple(t for t in types if t is not int)
    return " or ".join(_WORDS.get(t, t.__name__) for t in types)


def is_type(value: Any, types: Types) -> bool:
    """``isinstance`` as JSON means it: ``true`` is not a number, ``1`` is one."""
    types = _tuple(types)
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _where(path: Path | str, name: str, value: Any) -> str:
    return f"{path}: {name} = {_short(value)}" if name else f"{path} holds {_short(value)}"


def invalid(path: Path | str, name: str, value: Any, allowed: str) -> ValueError:
    """The error for ``value`` at ``name`` (``""``: the whole file) of the file ``path``."""
    verb = " is invalid" if name else ""
    return ValueError(f"{_where(path, name, value)}{verb}; allowed: {allowed}")


def read_json(path: str | Path, allowed: str) -> Any:
    """The content of the JSON file ``path``. A file that is not UTF-8 text or not valid JSON
    raises ``ValueError`` naming it, where it breaks and ``allowed`` (what the file should
    hold, e.g. ``"a sweep as factordiff writes it"``); a missing file ``FileNotFoundError``
    naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist; allowed: {allowed}") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder; allowed: {allowed}") from None
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {e.start}: {e.reason}); allowed: {allowed}"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
            f"allowed: {allowed}"
        ) from None
    except RecursionError:
        raise ValueError(f"{path} is nested too deeply to read; allowed: {allowed}") from None


def expect(
    value: Any, types: Types, path: str | Path, name: str = "", allowed: str | None = None
) -> Any:
    """``value`` when it is of ``types``, else ``ValueError`` naming the file, the value and
    ``allowed`` (default: the types in words)."""
    if not is_type(value, types):
        raise invalid(path, name, value, allowed or describe(types))
    return value


def expect_object(
    value: Any,
    path: str | Path,
    name: str = "",
    allowed: str | None = None,
    *,
    required: dict[str, Types] | None = None,
    optional: dict[str, Types] | None = None,
) -> dict:
    """``value`` when it is a JSON object holding every key of ``required`` and the keys of
    ``optional`` it holds are of their types; other keys are not looked at."""
    allowed = allowed or "a JSON object"
    expect(value, dict, path, name, allowed)
    for key in required or {}:
        if key not in value:
            raise ValueError(f"{_where(path, name, value)}, without {key!r}; allowed: {allowed}")
    for key, types in {**(required or {}), **(optional or {})}.items():
        if key in value:
            expect(value[key], types, path, f"{name}.{key}" if name else key)
    return value


def expect_list(
    value: Any,
    path: str | Path,
    name: str = "",
    items: Types | None = None,
    allowed: str | None = None,
) -> list:
    """``value`` when it is a list (whose items are of ``items``, when given)."""
    if allowed is None:
        allowed = "a list" if items is None else f"a list, each item {describe(items)}"
    expect(value, list, path, name, allowed)
    if items is not None:
        for i, item in enumerate(value):
            expect(item, items, path, f"{name}[{i}]")
    return value


def read_object(
    path: str | Path,
    allowed: str,
    *,
    required: dict[str, Types] | None = None,
    optional: dict[str, Types] | None = None,
) -> dict:
    """:func:`read_json` of a file that holds one JSON object (see :func:`expect_object`)."""
    return expect_object(
        read_json(path, allowed), path, "", allowed, required=required, optional=optional
    )


# ----------------------------------------------------------------------------- summary.json
SUMMARY_ALLOWED = (
    "an experiment's summary as factordiff experiment writes it (a JSON object with "
    "verdicts, each with a claim and reproduced); rerun the experiment to write it again"
)
_TEXT = (str, type(None))
_NUMBER = (float, type(None))
_SUMMARY_KEYS: dict[str, Types] = {
    "experiment": _TEXT,
    "title": _TEXT,
    "variant": _TEXT,
    "setting": _TEXT,
    "command": _TEXT,
    "device": _TEXT,
    "cpu": _TEXT,
    "executor": _TEXT,
    "runs": list,
    "provenance": (dict, type(None)),
    "figures": list,
    "seeds": list,
    "rows": list,
    "wall_seconds": _NUMBER,
    "train_seconds": _NUMBER,
    "analysis_seconds": _NUMBER,
    "budget_steps": (int, type(None)),
    "sensitivity_map": (dict, type(None)),
}
_VERDICT_KEYS: dict[str, Types] = {
    "paper": _TEXT,
    "rule": _TEXT,
    "not_judged": _TEXT,
    "spread": (dict, type(None)),
}
_RUN_KEYS: dict[str, Types] = {"key": str, "params": dict}
_SPREAD_KEYS: dict[str, Types] = {"seeds": list, "per_seed": list, "reproduced_in": int}


def check_summary(doc: Any, path: str | Path) -> dict:
    """``doc`` (the content of the ``summary.json`` at ``path``) when it has the shape its
    readers use (the report page, ``factordiff variants``, ``reproduce``, ``--rejudge``),
    else ``ValueError`` naming the file and the bad value."""
    expect_object(
        doc, path, "", SUMMARY_ALLOWED, required={"verdicts": list}, optional=_SUMMARY_KEYS
    )
    for i, v in enumerate(doc["verdicts"]):
        expect_object(
            v,
            path,
            f"verdicts[{i}]",
            "a verdict: a JSON object with claim (a string) and reproduced (true or false)",
            required={"claim": str, "reproduced": bool},
            optional=_VERDICT_KEYS,
        )
        if v.get("spread") is not None:
            expect_object(v["spread"], path, f"verdicts[{i}].spread", optional=_SPREAD_KEYS)
    for i, r in enumerate(doc.get("runs", [])):
        expect_object(
            r, path, f"runs[{i}]", "a run: a JSON object with key and params", optional=_RUN_KEYS
        )
    expect_list(doc.get("figures", []), path, "figures", str)
    return doc


def read_summary(path: str | Path) -> dict:
    """The ``summary.json`` at ``path``, checked by :func:`check_summary`."""
    return check_summary(read_json(path, SUMMARY_ALLOWED), path)
