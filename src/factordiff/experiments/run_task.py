"""One run of a sweep in its folder: :func:`train_run`, the task every executor runs.

It trains (or resumes, or skips when finished) one run, and keeps the two files that tell
other processes what happens to it (read by ``factordiff sweep status``)::

    SWEEP/runs/<key>/running.json     while a process trains it: pid, host, start time
    SWEEP/runs/<key>/failure.json     the error of its last failed attempt (removed on retry)

Split from :mod:`factordiff.experiments.sweep` (which re-exports these names), so that the
executors (:mod:`factordiff.experiments.executors`) and the sweep both build on it.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from pathlib import Path

from factordiff.config import RunConfig, from_dict
from factordiff.hardware import set_thread_budget
from factordiff.jsonfiles import is_type

LOCK_FILE = "running.json"
FAILURE_FILE = "failure.json"
FAILURE_ALLOWED = (
    'a failure record as factordiff writes it: a JSON object with "error" (a string); '
    "delete it to mark the run pending"
)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def read_lock(run_dir: Path) -> dict | None:
    """The ``running.json`` of a run if a live process holds it, else None.

    A lock from this host whose process is gone (a killed worker) is stale and ignored; a
    lock from another host is trusted (we cannot see its processes)."""
    path = Path(run_dir) / LOCK_FILE
    # Deliberately tolerant, unlike every other reader (factordiff.jsonfiles): the lock
    # comes and goes as workers start and stop (gone between a look and a read), and one
    # that is not {"pid": int, "host": str, ...} guards nothing, so it counts as no lock.
    try:
        lock = json.loads(path.read_text())
    except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(lock, dict) or not is_type(lock.get("pid"), int):
        return None
    if lock.get("host") == socket.gethostname() and not _pid_alive(lock["pid"]):
        return None
    return lock


def _take_lock(run_dir: Path) -> None:
    path = run_dir / LOCK_FILE
    held = read_lock(run_dir)
    if held is not None and held.get("pid") != os.getpid():
        raise RuntimeError(
            f"{run_dir} is being trained by pid {held['pid']} on {held['host']} "
            f"(since {held['started']}); wait for it or remove {path} if that process is gone"
        )
    lock = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
    tmp = path.with_name(f"{LOCK_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(lock))
    os.replace(tmp, path)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def train_run(config: dict, run_dir: str, threads: int = 0, force: bool = False) -> dict:
    """Train (or resume, or skip when finished) one run of a sweep. The task of every executor.

    ``config`` is a RunConfig as a plain dict (cheap to send to another process),
    ``threads`` > 0 sets torch's intra-op threads in this process. A failure is written to
    ``run_dir/failure.json`` (error and traceback) and raised again. Returns
    ``{"key", "status": "finished" | "skipped", "step", "seconds"}``."""

    from factordiff.training import run_state, train

    cfg = from_dict(RunConfig, config)
    run_dir_p = Path(run_dir)
    run_dir_p.mkdir(parents=True, exist_ok=True)
    state = run_state(run_dir_p) or {}
    if state.get("finished") and not force:
        return {"key": run_dir_p.name, "status": "skipped", "step": state.get("step"), "seconds": 0}
    if threads > 0:
        set_thread_budget(threads)  # the worker's share of the cores, for num_threads = 0
    t0 = time.perf_counter()
    _take_lock(run_dir_p)
    (run_dir_p / FAILURE_FILE).unlink(missing_ok=True)
    try:
        result = train(cfg, run_dir_p, force=force, progress=False)
    except BaseException as exc:
        from factordiff.training import atomic_write_text

        atomic_write_text(
            run_dir_p / FAILURE_FILE,
            json.dumps(
                {
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(),
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "time": _now(),
                },
                indent=2,
            )
            + "\n",
        )
        raise
    finally:
        (run_dir_p / LOCK_FILE).unlink(missing_ok=True)
    return {
        "key": run_dir_p.name,
        "status": "finished",
        "step": result.step,
        "seconds": time.perf_counter() - t0,
    }


def _record_lost_worker(run_dir: Path, message: str) -> None:
    """A worker that died wrote nothing: record why in the run folder for `sweep status`."""
    from factordiff.training import atomic_write_text

    run_dir.mkdir(parents=True, exist_ok=True)  # the worker may have died before starting it
    if not (run_dir / FAILURE_FILE).is_file():
        atomic_write_text(
            run_dir / FAILURE_FILE,
            json.dumps({"error": message, "time": _now()}, indent=2) + "\n",
        )
