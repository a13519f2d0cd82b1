"""Sweeps: many training runs in one folder, run by any executor, resumed by any other.

A sweep is a list of :class:`RunConfig`. Each run lives in a folder named by a short hash of
its config without the device (:func:`run_key`), so rerunning a sweep skips finished runs,
resumes unfinished ones from their ``checkpoints/latest.pt``, and a changed config is a new
folder, never a silent overwrite. Results pass only through these files, so a run finished
by one executor counts for every other. Layout::

    SWEEP/sweep.json                  the runs: key, the parameters that vary, config
    SWEEP/runs/<key>/                 a training run folder (see factordiff.training)
    SWEEP/runs/<key>/running.json     while a process trains it: pid, host, start time
    SWEEP/runs/<key>/failure.json     the error of its last failed attempt (removed on retry)

Executors (:class:`LocalExecutor`, the default, and :class:`RayExecutor`) live in
:mod:`factordiff.experiments.executors`, and the task they run per run, with the lock and
failure files it keeps, in :mod:`factordiff.experiments.run_task`; both are re-exported here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from factordiff.config import RunConfig, from_dict, to_dict
from factordiff.experiments.executors import (
    DEFAULT_THREADS,
    DEFAULT_WORKERS,
    RAY_ADDRESS_ALLOWED,
    RAY_CONNECT_TIMEOUT,
    LocalExecutor,
    OnDone,
    RayExecutor,
    SweepFailed,
    Task,
    _set_threads,
    check_executor,
    check_ray_address,
    longest_first,
    make_executor,
    run_budget,
    run_cost,
    step_weight,
)
from factordiff.experiments.run_task import (
    FAILURE_ALLOWED,
    FAILURE_FILE,
    LOCK_FILE,
    _record_lost_worker,
    read_lock,
    train_run,
)
from factordiff.jsonfiles import expect, expect_object, read_object
from factordiff.migrate import key_dict, stamp

__all__ = [  # what this module defines, and what it re-exports from executors and run_task
    "DEFAULT_THREADS",
    "DEFAULT_WORKERS",
    "FAILURE_ALLOWED",
    "FAILURE_FILE",
    "KEY_LENGTH",
    "LOCK_FILE",
    "RAY_ADDRESS_ALLOWED",
    "RAY_CONNECT_TIMEOUT",
    "RUNS_DIR",
    "SWEEP_ALLOWED",
    "SWEEP_FILE",
    "LocalExecutor",
    "OnDone",
    "RayExecutor",
    "SweepFailed",
    "SweepRun",
    "Task",
    "_record_lost_worker",
    "_set_threads",
    "check_executor",
    "check_ray_address",
    "longest_first",
    "make_executor",
    "plan_sweep",
    "read_lock",
    "read_sweep",
    "run_budget",
    "run_cost",
    "run_key",
    "run_status",
    "step_weight",
    "sweep_status",
    "train_run",
    "write_sweep",
]

SWEEP_FILE = "sweep.json"
RUNS_DIR = "runs"
KEY_LENGTH = 12  # hex digits of sha256: collisions are negligible for any sweep we run
SWEEP_ALLOWED = (
    'a sweep as factordiff writes it: a JSON object with "runs", a list of '
    '{"key", "params", "config"}; run the experiment again to write it'
)


# ----------------------------------------------------------------------------- run folders
def run_key(cfg: RunConfig) -> str:
    """A short, stable hash of what a run computes: its config without the device.

    A field a migration added (:data:`factordiff.migrate.MIGRATIONS`) is left out while it
    holds the value the migration gives old runs, so adding a config field renames no
    existing run folder and rerunning an earlier sweep's command resumes it."""
    data = to_dict(cfg)
    data.pop("device", None)
    data = key_dict(data, type(cfg).__name__)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


@dataclass
class SweepRun:
    """One run of a sweep: the parameters that set it apart (e.g. ``{"seed": 1}``), its
    config and its folder ``SWEEP/runs/<key>``."""

    params: dict[str, Any]
    config: RunConfig
    root: Path
    key: str = field(init=False)

    def __post_init__(self) -> None:
        self.key = run_key(self.config)

    @property
    def dir(self) -> Path:
        return Path(self.root) / RUNS_DIR / self.key


def plan_sweep(
    root: str | Path, runs: list[tuple[dict[str, Any], RunConfig]], device: str | None = None
) -> list[SweepRun]:
    """Validate every run config (before anything trains) and place each in its folder.

    ``device`` replaces each config's device (it is not part of a run's identity). Two runs
    with the same config are refused: they would share one folder."""
    from factordiff.data import build_labels
    from factordiff.training import training_budget

    planned = []
    for params, cfg in runs:
        if device is not None:
            cfg = replace(cfg, device=device)
        cfg.validate()
        for section in (cfg.data, cfg.model, cfg.diffusion, cfg.train, cfg.eval):
            section.validate()
        # the epoch count of a step budget depends on the dataset size: check it now
        n = len(build_labels(cfg.data, seed=cfg.seed).labels)
        _, epochs, _ = training_budget(cfg.train, n)
        late = [e for e in cfg.train.checkpoint_epochs if e > epochs]
        if late:
            raise ValueError(
                f"train.checkpoint_epochs = {list(cfg.train.checkpoint_epochs)} is invalid for "
                f"run {params}; allowed: epochs in [0, {epochs}] (its budget on {n} images)"
            )
        planned.append(SweepRun(dict(params), cfg, Path(root)))
    keys = [r.key for r in planned]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        same = [r.params for r in planned if r.key in dupes]
        raise ValueError(f"runs {same} have the same config (key {dupes[0]}); make them differ")
    return planned


def write_sweep(root: str | Path, runs: list[SweepRun], meta: dict | None = None) -> Path:
    """``SWEEP/sweep.json``: the runs, so that ``factordiff sweep status`` can read them."""
    from factordiff.training import atomic_write_text

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    doc = {
        **(meta or {}),
        "runs": [
            {"key": r.key, "params": r.params, "config": stamp(to_dict(r.config))} for r in runs
        ],
    }
    atomic_write_text(root / SWEEP_FILE, json.dumps(doc, indent=2) + "\n")
    return root / SWEEP_FILE


def read_sweep(root: str | Path) -> list[SweepRun]:
    """The runs listed in ``SWEEP/sweep.json``."""
    path = Path(root) / SWEEP_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{root} has no {SWEEP_FILE}: is it a sweep folder?")
    doc = read_object(path, SWEEP_ALLOWED, required={"runs": list})
    runs = []
    for i, r in enumerate(doc["runs"]):
        expect_object(
            r, path, f"runs[{i}]", SWEEP_ALLOWED, required={"params": dict, "config": dict}
        )
        expect(r.get("key", ""), str, path, f"runs[{i}].key")
        try:
            cfg = from_dict(RunConfig, r["config"])
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path}: runs[{i}].config: {e}") from None
        runs.append(SweepRun(r["params"], cfg, Path(root)))
    return runs


# ----------------------------------------------------------------------------- status
def run_status(run: SweepRun) -> dict:
    """``{"key", "params", "status", "step", "total_steps", "error"}`` of one run, from its
    files. ``status``: done | running | failed | pending (never started or interrupted)."""
    from factordiff.data import build_labels
    from factordiff.training import run_state, training_budget

    d = run.dir
    state = run_state(d) or {}
    cfg = run.config
    n = len(build_labels(cfg.data, seed=cfg.seed).labels)
    total = training_budget(cfg.train, n)[2]
    out = {
        "key": run.key,
        "params": run.params,
        "step": int(state.get("step", 0)),
        "total_steps": total,
        "error": None,
    }
    if state.get("finished"):
        out["status"] = "done"
    elif read_lock(d) is not None:
        out["status"] = "running"
    elif (d / FAILURE_FILE).is_file():
        out["status"] = "failed"
        failure = read_object(d / FAILURE_FILE, FAILURE_ALLOWED, optional={"error": str})
        out["error"] = failure.get("error")
    else:
        out["status"] = "pending"
    return out


def sweep_status(root: str | Path) -> dict:
    """Counts of done / running / failed / pending runs, each run's status, and the optimizer
    steps left to train (the step at the last checkpoint counts as done)."""
    runs = [run_status(r) for r in read_sweep(root)]
    counts = {
        s: sum(r["status"] == s for r in runs) for s in ("done", "running", "failed", "pending")
    }
    remaining = sum(max(0, r["total_steps"] - r["step"]) for r in runs if r["status"] != "done")
    return {
        "sweep": str(Path(root).resolve()),
        "runs": runs,
        "counts": counts,
        "remaining_steps": remaining,
        "total_steps": sum(r["total_steps"] for r in runs),
    }
