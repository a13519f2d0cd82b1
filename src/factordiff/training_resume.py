"""Starting over, resuming or extending a run: what an existing run folder allows.

:func:`check_run_folder` is the decision :func:`factordiff.training.train` makes before it
builds a trainer: a new folder starts; the same config, not finished, resumes; with
``--extend`` a config that only raises the budget continues (:func:`extension_problem`);
``--force`` clears the run; anything else is a :class:`RunExistsError`. Configs are compared
upgraded through their migrations (:mod:`factordiff.migrate`), so a field added since a run
was written is no change.
"""

from __future__ import annotations

import logging
from pathlib import Path

from factordiff.config import RunConfig, from_dict, saved_as_current, to_dict
from factordiff.migrate import FutureSchemaError
from factordiff.run_folder import atomic_write_text, clear_run, read_json, run_state

log = logging.getLogger("factordiff.train")


class RunExistsError(RuntimeError):
    """A finished run (or one with another config) is in the way."""


# Keys of a RunConfig that say where a run is computed, not what it computes: a run started on
# one machine may be resumed on another.
PLACEMENT_KEYS = ("device",)


def config_diff(a: dict, b: dict, prefix: str = "", ignore: tuple[str, ...] = ()) -> list[str]:
    """``section.key: old -> new`` for each value that differs between config dicts ``a``
    (a saved one, upgraded: :func:`factordiff.config.saved_as_current`) and ``b``; top-level
    keys in ``ignore`` are skipped."""
    out = []
    for k in sorted(set(a) | set(b)):
        if not prefix and k in ignore:
            continue
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: {va!r} -> {vb!r}")
    return out


# What --extend may change: the budget, and which epochs keep a checkpoint.
EXTENDABLE_KEYS = ("train.epochs", "train.max_steps", "train.checkpoint_epochs")


def extension_problem(saved: dict, cfg: RunConfig, state: dict) -> str | None:
    """Why ``cfg`` cannot continue the run saved as ``saved`` (None when it can).

    A run can be extended when the configs differ only in :data:`EXTENDABLE_KEYS`, the new
    budget is larger (in the same unit: epochs, or ``max_steps``), the learning rate does not
    depend on the budget (``lr_schedule = constant``; a cosine schedule would have decayed
    differently) and every epoch the run kept a checkpoint for is still kept. Each step's
    randomness depends only on ``(seed, step)``, so the continued run equals one trained to
    the new budget from the start."""
    old = from_dict(type(cfg), saved)  # upgraded through its migrations (factordiff.migrate)
    diff = config_diff(to_dict(old), to_dict(cfg), ignore=PLACEMENT_KEYS)
    other = [d for d in diff if d.split(":")[0] not in EXTENDABLE_KEYS]
    if other:
        return f"{'; '.join(other[:8])} changed; allowed: {', '.join(EXTENDABLE_KEYS)} only"
    a, b = old.train, cfg.train
    if a.lr_schedule != "constant" or b.lr_schedule != "constant":
        return (
            f"lr_schedule = {b.lr_schedule!r}: the learning rate depends on the budget; "
            "allowed: 'constant'"
        )
    if (a.max_steps > 0) != (b.max_steps > 0):
        return "the budget changes unit (epochs <-> max_steps); allowed: the same unit, larger"
    before, after = (a.max_steps, b.max_steps) if a.max_steps > 0 else (a.epochs, b.epochs)
    unit = "max_steps" if a.max_steps > 0 else "epochs"
    if after <= before:
        return f"train.{unit} = {after} is not above the run's {before}; allowed: > {before}"
    kept = set(a.checkpoint_epochs)
    if state.get("finished") and state.get("epoch") is not None:
        kept.add(int(state["epoch"]))  # the last epoch always keeps its checkpoint
    missing = sorted(kept - set(b.checkpoint_epochs))
    if missing:
        allowed = sorted(kept | set(b.checkpoint_epochs))
        return (
            f"train.checkpoint_epochs = {list(b.checkpoint_epochs)} drops the kept epochs "
            f"{missing}; allowed: a list that keeps them, e.g. {allowed}"
        )
    return None


def check_run_folder(cfg: RunConfig, run_dir: Path, *, force: bool, extend: bool) -> None:
    """Make ``run_dir`` ready for ``cfg``, or refuse: see the module's docstring.

    Nothing to do for a folder without ``config.json``. With ``force`` the run files are
    deleted; with ``extend`` and an allowed change the new ``config.json`` is written."""
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        return
    old = read_json(cfg_path)
    if not isinstance(old, dict):
        raise ValueError(f"{cfg_path} holds {old!r}; allowed: a run config (a JSON object)")
    try:  # compared upgraded (factordiff.migrate): a field added since is no change
        old = saved_as_current(type(cfg), old)
    except FutureSchemaError as e:
        if not force:  # --force clears the folder: no need to read what it held
            raise ValueError(f"{cfg_path}: {e}; or --force to train it again") from None
    diff = config_diff(old, to_dict(cfg), ignore=PLACEMENT_KEYS)
    state = run_state(run_dir) or {}
    if force:
        clear_run(run_dir)
    elif diff and extend:
        problem = extension_problem(old, cfg, state)
        if problem:
            raise RunExistsError(f"{run_dir} cannot be extended: {problem}")
        atomic_write_text(cfg_path, cfg.to_json() + "\n")
        log.info("extended %s: %s", run_dir, "; ".join(diff))
    elif diff:
        raise RunExistsError(
            f"{run_dir} holds a run with another config ({'; '.join(diff[:8])}); "
            "use --force to overwrite it or --out for a new folder"
        )
    elif state.get("finished"):
        raise RunExistsError(
            f"{run_dir} holds a finished run (epoch {state.get('epoch')}); "
            "use --force to train it again or --out for a new folder"
        )
