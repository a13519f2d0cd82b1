"""The entry point of training, :func:`train`: one call that starts, resumes, extends or
restarts the run in a folder (``factordiff train``, sweeps, notebooks).

It checks the folder (:func:`factordiff.training_resume.check_run_folder`), builds the
:class:`~factordiff.training.Trainer`, writes ``config.json`` and ``environment.json``, and
trains with the log also written to ``RUN/train.log``. Import it from
:mod:`factordiff.training`, which re-exports it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from factordiff.config import RunConfig
from factordiff.hardware import environment_record
from factordiff.paths import check_writable_folder
from factordiff.run_folder import atomic_write_text, remove_tree
from factordiff.training_resume import check_run_folder

if TYPE_CHECKING:
    from factordiff.training import TrainResult

log = logging.getLogger("factordiff.train")


def setup_file_log(run_dir: Path) -> logging.Handler:
    """Send the ``factordiff`` loggers' INFO and above to ``RUN/train.log`` too."""
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("factordiff").addHandler(handler)
    logging.getLogger("factordiff").setLevel(logging.INFO)
    return handler


def train(
    cfg: RunConfig,
    run_dir: str | Path,
    *,
    force: bool = False,
    extend: bool = False,
    progress: bool = True,
    on_eval: Callable[[dict], None] | None = None,
    tensorboard: bool = False,
) -> TrainResult:
    """Start, resume or (with ``force``) restart the run in ``run_dir``.

    - empty or new folder: start; ``config.json`` is written first.
    - same config, not finished: resume from ``checkpoints/latest.pt``.
    - with ``extend``, a config that only raises the budget (see
      :func:`~factordiff.training_resume.extension_problem`):
      continue from ``latest.pt`` to the new budget; the result equals a run trained to that
      budget from the start.
    - finished, or a different config: ``RunExistsError`` unless ``force`` (which clears
      the folder's run files and starts over).

    ``tensorboard=True`` also writes every ``metrics.jsonl`` record and a sample grid per
    evaluation as TensorBoard events in ``RUN/tensorboard/`` (:mod:`factordiff.sinks`; needs
    ``pip install -e ".[tensorboard]"``, checked before anything is written)."""
    run_dir = Path(run_dir)
    cfg.validate()
    if tensorboard:
        from factordiff.sinks import require_tensorboard

        require_tensorboard()  # before --force clears anything
    check_writable_folder(run_dir)  # a file in the way or a read-only place: fail first
    check_run_folder(cfg, run_dir, force=force, extend=extend)
    cfg_path = run_dir / "config.json"
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    # Looked up when called, not imported above: factordiff.training re-exports train(), and
    # a caller may swap factordiff.training.Trainer (a test, for a recording one).
    from factordiff import training

    try:
        trainer = training.Trainer(cfg, run_dir, progress=progress, tensorboard=tensorboard)
    except Exception:
        if created:
            remove_tree(run_dir)
        raise
    if not cfg_path.is_file():
        atomic_write_text(cfg_path, cfg.to_json() + "\n")
    # Where this (part of the) run computed: device, CPU, threads, precision and why.
    env = environment_record(trainer.device, trainer.precision)
    atomic_write_text(run_dir / "environment.json", json.dumps(env, indent=2) + "\n")
    handler = setup_file_log(run_dir)
    try:
        log.info("run %s in %s on %s", cfg.name, run_dir, trainer.device)
        log.info(
            "precision %s (%s); %d threads; %s",
            trainer.precision.used,
            trainer.precision.reason,
            env["num_threads"],
            env["cpu"],
        )
        return trainer.train(on_eval=on_eval)
    finally:
        logging.getLogger("factordiff").removeHandler(handler)
        handler.close()
        if trainer.sink is not None:
            trainer.sink.close()
