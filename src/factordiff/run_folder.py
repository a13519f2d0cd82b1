"""The files of a run folder besides its checkpoints (:mod:`factordiff.checkpoints`)::

    RUN/config.json          the resolved RunConfig, with its schema_version (factordiff.migrate)
    RUN/metrics.jsonl        one JSON line per logging tick and per evaluation
    RUN/train.log            the log
    RUN/state.json           {"finished": bool, "epoch": int, "step": int}
    RUN/environment.json     where the run computed (factordiff.hardware.environment_record)

Reading them (garbled files raise ``ValueError`` naming the file), writing text files
atomically, repairing ``metrics.jsonl`` on resume, and clearing a run for ``--force``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from factordiff.checkpoints import checkpoint_dir
from factordiff.config import RunConfig, from_dict

log = logging.getLogger("factordiff.train")

#: The files of a run that ``--force`` deletes (with its checkpoints and TensorBoard events).
RUN_FILES = ("config.json", "metrics.jsonl", "train.log", "state.json", "environment.json")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``path.tmp`` then rename, so ``path`` is never a half-written file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_metrics(path: str | Path) -> list[dict]:
    """The records of a run's ``metrics.jsonl`` (a run folder or the file itself).

    Replayed records (a resumed run logs the steps after its checkpoint again) are merged:
    the last record per ``(step, kind)`` is kept, ``kind`` being ``eval`` for evaluation
    records, ``threads`` for thread choices, ``warning`` for loss spikes
    (:mod:`factordiff.loss_watch`) and ``train`` otherwise, in the order of first
    appearance. An unterminated last
    line (a write cut short) is skipped; any other line that is not a JSON object raises
    ``ValueError`` naming the file and the line."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        return []
    text = path.read_text()
    lines = text.split("\n")
    last = lines.pop()  # "" after a final newline, else a partial record
    records: dict[tuple, dict] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}, line {number}: not a JSON record ({e.msg})") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{path}, line {number}: {rec!r} is not a JSON object")
        kind = (
            "eval"
            if any(k.startswith("eval/") for k in rec)
            else ("threads" if "threads" in rec else ("warning" if "warning" in rec else "train"))
        )
        key = (rec.get("step"), kind)
        records[key] = rec
    if last.strip():
        log.warning("%s: skipped an unterminated last line (a write cut short)", path)
    return list(records.values())


def read_json(path: Path) -> Any:
    """A JSON file of a run folder (:func:`factordiff.jsonfiles.read_json`); a garbled file
    raises ``ValueError`` naming it."""
    from factordiff.jsonfiles import read_json as read

    return read(
        path,
        "the file as factordiff train writes it; repair or delete it (delete the run "
        "folder to start over)",
    )


def read_run_config(run_dir: str | Path) -> RunConfig:
    """The strictly validated ``config.json`` of a run; errors name the file."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no config.json: is it a factordiff run folder?")
    data = read_json(path)
    try:
        return from_dict(RunConfig, data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def run_state(run_dir: str | Path) -> dict | None:
    """``state.json`` of a run (None when there is none); a garbled file is named."""
    path = Path(run_dir) / "state.json"
    if not path.is_file():
        return None
    from factordiff.jsonfiles import expect_object

    return expect_object(
        read_json(path),
        path,
        "",
        "a JSON object (finished, epoch, step) as factordiff train writes it",
        optional={"finished": bool, "epoch": int, "step": int},
    )


def repair_metrics(run_dir: Path, step: int) -> None:
    """Drop a partial last line of ``metrics.jsonl`` (a crash mid-write would glue the
    next record onto it) and the records of steps after ``step``, which the resumed
    run logs again."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return
    text = path.read_text()
    lines = text.split("\n")
    partial = lines.pop()  # "" when the file ends with a newline
    keep, replayed = [], 0
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            keep.append(line)  # not ours to judge here; readers name the line
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), int | float):
            if rec["step"] > step:
                replayed += 1
                continue
        keep.append(line)
    if partial or replayed:
        atomic_write_text(path, "".join(line + "\n" for line in keep))
        log.warning(
            "metrics.jsonl: dropped %s and %d record(s) of steps after %d (replayed)",
            "a partial last line" if partial else "no partial line",
            replayed,
            step,
        )


def clear_run(run_dir: Path) -> None:
    """Delete the run files of ``run_dir`` (``--force``); anything else in it is kept."""
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    remove_tree(checkpoint_dir(run_dir))
    from factordiff.sinks import TENSORBOARD_DIR

    remove_tree(run_dir / TENSORBOARD_DIR)  # events of the old run would mix with the new


def remove_tree(path: Path) -> None:
    """Delete a folder and everything in it; nothing when it is not there."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)
