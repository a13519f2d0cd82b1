"""``reproduce.json``: the record a reproduce folder keeps of each experiment's last attempt
(status, error, times) and of its shared training pools.

Written by :func:`factordiff.experiments.reproduce.reproduce`, read back by it (to skip what
is up to date) and by the report page (:mod:`factordiff.experiments.page_content`), which
both import it from here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from factordiff.jsonfiles import expect_list, expect_object, read_json

RECORD_FILE = "reproduce.json"
RECORD_ALLOWED = (
    "a reproduce record as factordiff reproduce writes it (a JSON object with experiments, "
    "each with a name); remove it to start over"
)


def now() -> str:
    """The time now as the record writes it (UTC, ``2024-05-01T12:00:00Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_record(out: str | Path) -> dict | None:
    """``OUT/reproduce.json`` (None when there is none)."""
    path = Path(out) / RECORD_FILE
    if not path.is_file():
        return None
    return check_record(read_json(path, RECORD_ALLOWED), path)


def check_record(record: Any, path: str | Path) -> dict:
    """``record`` (the content of the ``reproduce.json`` at ``path``) when it has the shape
    its readers use (``reproduce`` and the report page), else ``ValueError`` naming the file
    and the bad value."""
    text, number = (str, type(None)), (float, type(None))
    expect_object(
        record,
        path,
        "",
        RECORD_ALLOWED,
        optional={"experiments": list, "pools": list, "scale": text, "command": text},
    )
    for i, e in enumerate(record.get("experiments", [])):
        expect_object(
            e,
            path,
            f"experiments[{i}]",
            "an experiment's entry: a JSON object with name (a string)",
            required={"name": str},
            optional={
                "status": text,
                "error": text,
                "preset": text,
                "wall_seconds": number,
                "total_steps": (int, type(None)),
            },
        )
    for i, pl in enumerate(record.get("pools", [])):
        expect_object(
            pl,
            path,
            f"pools[{i}]",
            "a pool's entry: a JSON object with experiments (a list) and seconds",
            optional={"experiments": list, "seconds": number, "runs": (int, type(None))},
        )
        expect_list(pl.get("experiments", []), path, f"pools[{i}].experiments", str)
    return record


def write_record(out: Path, record: dict) -> None:
    """Write ``record`` to ``OUT/reproduce.json`` atomically."""
    from factordiff.training import atomic_write_text

    atomic_write_text(out / RECORD_FILE, json.dumps(record, indent=2) + "\n")


__all__ = ["RECORD_ALLOWED", "RECORD_FILE", "check_record", "now", "read_record", "write_record"]
