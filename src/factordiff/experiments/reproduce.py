"""The whole paper in one call: every registered experiment (Experiments 1, 2, 3 and the
percolation experiment), then the page.

:func:`reproduce` runs each experiment through :func:`~factordiff.experiments.skeleton.
run_experiment` (its sweep on one executor) into its own folder, and ends with
``OUT/report.html`` (:mod:`factordiff.experiments.html_report`). Layout of ``OUT``::

    OUT/exp1/, OUT/exp2/, OUT/exp3/, OUT/percolation/   one experiment folder each
    OUT/reproduce.json                                  each experiment's status, error, wall time
    OUT/report.html                                     the page

The experiments, their order and their preset at each scale come from the registry
(:mod:`factordiff.experiments.registry`). Scales: ``quick`` (``NAME-quick``, a 2-core CPU;
the default, here and on the command line), ``paper`` (the presets ``NAME``, meant for a
GPU: only when asked for) and ``tiny`` (the seconds-long smoke presets the tests use).

The steps, each a method of one call's
:class:`~factordiff.experiments.reproduction.Reproduction`: plan every experiment
(:func:`~factordiff.experiments.planning.plan_reproduce`; bad input fails before anything
trains), check the inputs, train the runs left in one pool, run (or skip) each experiment,
write the record and the page.

Rerunning the same call skips what is finished. The sweeps skip finished runs and resume
unfinished ones; on top of that an experiment is left alone, not even analysed again, when
it is up to date (:mod:`factordiff.experiments.uptodate`). Anything else (a new or changed
config, a run left to train, a summary older than a run) runs the experiment again, which
trains what is left and redoes its analysis; ``reanalyse=True`` redoes the analysis of
up-to-date experiments too.

One experiment failing does not stop the others: its error is recorded in
``reproduce.json`` (:mod:`factordiff.experiments.record`) and listed on the page, and
:func:`reproduce` reports it in its result (the command line then exits non-zero).

When two or more experiments have runs to train, their runs train first in one pool on the
executor (the longest first), then each experiment is analysed in turn: on a 2-core machine
Experiment 1's one long run then trains on one core beside the other experiments' short runs
instead of alone on two (docs/reproduce.md gives the measured difference). ``pool=False``
runs the experiments one after another, each training its own sweep.

Before anything is written, the executor is reached (a Ray cluster's address must answer
within a few seconds) and the run folders of every experiment to be trained or analysed are
read (``skeleton.check_run_inputs``): an unreachable cluster or a garbled ``metrics.jsonl``
stops the call with a ValueError naming it, and no file is written or changed.

Progress lines name the experiment and the run and give an estimate of the training time
left (:mod:`factordiff.experiments.progress`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factordiff.experiments.html_report import PAGE_FILE
from factordiff.experiments.planning import Planned, plan_experiment, plan_reproduce
from factordiff.experiments.progress import (
    Progress,
    Ticker,
    experiment_progress,
    run_experiment_with_progress,
)
from factordiff.experiments.record import RECORD_FILE, read_record
from factordiff.experiments.registry import SCALES, check_scale, experiment_names, preset_for
from factordiff.experiments.reproduction import Reproduction
from factordiff.experiments.skeleton import run_experiment
from factordiff.experiments.uptodate import needs_work
from factordiff.paths import check_writable_folder


def __getattr__(name: str) -> Any:
    """``ORDER`` (the registered experiments in reproduction order) and ``TINY_PRESETS``
    (each one's ``tiny`` preset), read from the registry when asked for."""
    if name == "ORDER":
        return tuple(experiment_names())
    if name == "TINY_PRESETS":
        return {n: preset_for(n, "tiny") for n in experiment_names()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------- arguments
def default_out(scale: str) -> Path:
    """``runs/reproduce`` (paper), ``runs/reproduce-quick``, ``runs/reproduce-tiny``."""
    check_scale(scale)
    return Path("runs") / ("reproduce" if scale == "paper" else f"reproduce-{scale}")


def parse_only(text: str | None) -> list[str]:
    """``"exp1,exp3"`` -> ``["exp1", "exp3"]`` (kept in reproduction order); None -> all."""
    order = experiment_names()
    if text is None:
        return order
    names = [x.strip() for x in text.split(",") if x.strip()]
    bad = [n for n in names if n not in order]
    if not names or bad:
        raise ValueError(
            f"--only {text!r} is invalid; allowed: a comma-separated subset of {', '.join(order)}"
        )
    return [n for n in order if n in names]


def resolve_scale(scale: str | None, quick: bool = False) -> str:
    """The scale of ``factordiff reproduce [--quick] [--scale SCALE]``: quick unless ``scale``
    says otherwise, since the paper scale is meant for a GPU and only an explicit
    ``--scale paper`` starts it."""
    if scale is not None and scale not in SCALES:
        raise ValueError(f"--scale {scale!r} is invalid; allowed: {', '.join(SCALES)}")
    if quick and scale not in (None, "quick"):
        raise ValueError(f"--quick and --scale {scale} contradict; give one of them")
    return scale or "quick"


def failure_message(record: dict, out: str | Path) -> str:
    """One line naming each failed experiment of a :func:`reproduce` ``record`` with its
    error (each error on one line), and where the details are."""
    errors = {e.get("name"): e.get("error") for e in record.get("experiments", [])}
    parts = []
    for name in record["failed"]:
        error = str(errors.get(name) or "no error recorded").strip()
        parts.append(f"{name}: {' '.join(error.split())}")
    return (
        f"{len(parts)} experiment(s) failed: "
        + "; ".join(parts)
        + f" (details in {Path(out).resolve() / RECORD_FILE})"
    )


# ----------------------------------------------------------------------------- entry point
def reproduce(
    out: str | Path | None = None,
    *,
    scale: str = "quick",
    only: list[str] | None = None,
    executor=None,
    device: str | None = None,
    reanalyse: bool = False,
    command: str = "",
    progress: bool = True,
    heartbeat_seconds: float = 60.0,
    log=print,
    analysis_workers: int = 1,
    pool: bool = True,
) -> dict:
    """Run every experiment of ``only`` (default all, in reproduction order) at ``scale`` into
    ``out`` (default :func:`default_out`), then write ``out/report.html``.

    ``executor``: a LocalExecutor or RayExecutor shared by every sweep (default local).
    ``pool`` (default): when two or more experiments have runs to train, their runs train
    first in one pool on ``executor`` (the longest first, so that a long run trains beside
    short ones instead of alone), then each experiment is analysed in order; a run that
    fails there marks its experiment failed (not analysed, not trained again in this call).
    ``pool=False`` trains each experiment's runs in its own sweep, one experiment after
    another.
    ``analysis_workers``: runs of one experiment analysed at once (``run_experiment``).
    ``progress=False`` prints only one line per experiment; ``heartbeat_seconds`` > 0 adds
    a line per run in training that often. Returns the record also written to
    ``out/reproduce.json``: ``{"scale", "experiments": [{"name", "preset", "status", "error",
    "wall_seconds", "call_seconds", ...}], "wall_seconds", "call_seconds", "failed": [names],
    "page": path}``; ``status`` is ``done``, ``up to date`` (skipped) or ``failed``. An
    experiment's ``wall_seconds`` is the time it took when it ran (for a skipped one, the one
    its summary.json records), ``call_seconds`` the time of this call; with a pool, an
    experiment's times are those of its analysis, and ``pools`` lists the shared trainings
    (``experiments``, ``runs``, ``seconds``, ``failed``) of this call and of earlier calls
    whose experiments were not pooled again. The record's ``wall_seconds`` sums the
    experiments' and the pools', its ``call_seconds`` is this call's."""
    from factordiff.experiments.sweep import check_executor, make_executor

    out = Path(out) if out is not None else default_out(scale)
    executor = executor if executor is not None else make_executor("local")
    planned = plan_reproduce(scale, out, only, device=device)  # bad input: nothing written
    check_writable_folder(out)  # a file in the way: refused as train refuses it
    check_executor(executor)  # an unreachable Ray cluster: nothing written either
    call = Reproduction(
        out,
        planned,
        executor,
        scale=scale,
        command=command,
        device=device,
        log=log,
        progress=progress,
        analysis_workers=analysis_workers,
        analyse=analyse_planned,
    )
    call.prepare(reanalyse)  # unreadable run files: refused, nothing written
    with Ticker(call.tracker.heartbeat, heartbeat_seconds if progress else 0):
        call.train_in_pool(pool)
        for i, p in enumerate(planned, start=1):
            call.run_one(i, p)
    return call.finish()


def analyse_planned(
    p: Planned, executor, command: str, device, say, tracker, progress: bool, workers
) -> dict:
    """One planned experiment's :func:`run_experiment` after a shared training pool (its
    runs are finished, so nothing trains): its lines prefixed by its name, its runs counted
    by ``tracker``. Used by :func:`reproduce` and ``gpu_paper``."""
    return run_experiment(
        p.exp,
        p.cfg,
        p.out,
        executor=executor,
        command=command,
        device=device,
        log=lambda m, n=p.name: say(f"[{n}] {m.strip()}"),
        on_run_done=tracker.on_done,
        progress=progress,
        analysis_workers=workers,
    )


__all__ = [  # with the names other modules define that callers read from here
    "PAGE_FILE",
    "RECORD_FILE",
    "SCALES",
    "Planned",
    "Progress",
    "analyse_planned",
    "default_out",
    "experiment_progress",
    "failure_message",
    "needs_work",
    "parse_only",
    "plan_experiment",
    "plan_reproduce",
    "preset_for",
    "read_record",
    "reproduce",
    "resolve_scale",
    "run_experiment_with_progress",
]
