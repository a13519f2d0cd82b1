"""The experiment skeleton every paper experiment uses.

An :class:`Experiment` says only what is particular to it: its presets (each with the
result we expect), its sweep (``runs(cfg)``: the list of run configs), how one finished run
is analysed (``analyse``: a row of metrics, plus anything its figures need), its claims
(``verdicts``: one :class:`Verdict` per claim, each with its rule) and its figures.
:func:`run_experiment` does the rest, the same way for every experiment::

    validate every setting -> plan the sweep (run folders from config hashes) -> reach the
    executor and read the runs already there (nothing written before) -> train the
    runs not finished (an executor) -> read them -> analyse each -> results table (CSV +
    Parquet) -> verdicts -> figures -> summary.json + report.md

Layout of ``OUT``::

    OUT/experiment.json      the resolved experiment config, with its schema_version
    OUT/sweep.json           the runs (see factordiff.experiments.sweep)
    OUT/runs/<key>/          one folder per run, named by a hash of its config
    OUT/results.csv|parquet  one row per run: flattened config values and metrics
    OUT/figures/*.png        the experiment's figures
    OUT/summary.json         numbers and verdicts
    OUT/report.md            the same, rendered by factordiff.experiments.report

The parts :func:`run_experiment` calls live beside it, each re-exported here: verdicts over
seeds (``verdict.py``), the analysis of the runs, serial or in spawned workers
(``analysis_pool.py``), the results table, summary and report (``results.py``),
reading a finished folder back and judging it again (``rejudge.py``), and what every
experiment's config uses: seeds, overrides, precision, checks (``configs.py``).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factordiff.config import RunConfig, to_dict
from factordiff.experiments.analysis_pool import analyse_runs
from factordiff.experiments.configs import (
    check_seeds,
    check_shares,
    finish_config,
    precision_used,
)
from factordiff.experiments.rejudge import rejudge_experiment, saved_config_matches
from factordiff.experiments.results import (
    experiment_summary,
    flatten,
    results_table,
    run_deviations,
    train_seconds,
    write_summary,
    write_table,
)
from factordiff.experiments.sweep import SweepRun, make_executor, plan_sweep, write_sweep
from factordiff.experiments.verdict import Verdict, combine_seeds
from factordiff.migrate import stamp

__all__ = [
    "Experiment",
    "ExperimentPreset",
    "Verdict",
    "analyse_runs",
    "check_run_inputs",
    "check_seeds",
    "check_shares",
    "combine_seeds",
    "describe_plan",
    "finish_config",
    "finished",
    "flatten",
    "precision_used",
    "prepare_experiment",
    "rejudge_experiment",
    "results_table",
    "run_deviations",
    "run_experiment",
    "saved_config_matches",
    "train_seconds",
    "write_table",
]


# ----------------------------------------------------------------------------- experiments
@dataclass(frozen=True)
class ExperimentPreset:
    """A named setting of an experiment with the result we expect of it.

    ``build`` (optional) makes the preset's experiment config before seeds and overrides
    (not yet validated): the experiment's ``config`` looks the preset up by name and ends
    with ``finish_config(preset.build(), seeds, overrides)``, so each preset's setting is
    one function beside its record instead of a branch of an if/elif. ``None`` for a
    preset whose experiment builds its config another way (a test's toy). It takes no part
    in equality or the repr: two records of the same setting compare equal."""

    name: str
    description: str
    expected: str
    run_preset: str  # the run preset its training starts from (factordiff.presets)
    build: Callable[[], Any] | None = field(default=None, compare=False, repr=False)


class Experiment:
    """Base of every paper experiment; subclasses fill in the hooks below.

    The experiment config ``cfg`` is a dataclass of the subclass's choosing with a
    ``validate()`` that checks every setting the experiment needs (analysis included), so
    that bad input fails before any training."""

    name: str = ""
    title: str = ""
    presets: dict[str, ExperimentPreset] = {}
    # Registration (factordiff.experiments.registry): the place in `factordiff reproduce`
    # (lower runs first), the preset at each scale (paper, quick, tiny; each one of
    # `presets`) and one line for listings (default: the title with the experiment's name).
    order: int | None = None
    scales: dict[str, str] = {}
    help: str = ""
    # set by run_experiment(progress=...): an analysis that takes minutes per run may show
    # progress bars (stderr) when this is True
    show_progress: bool = False
    #: Whether every claim carries one statistic per seed, so that folders of separately
    #: trained seeds can be judged together (factordiff.experiments.pool) from the per-seed
    #: statistics their verdicts store. (An experiment whose summary stores each run's
    #: results pools through :meth:`stored_results` instead.)
    pools_seeds: bool = False
    # named training variants (factordiff.experiments.variants); the config then has a
    # `variant` field naming the one it was made with
    variants: dict = {}

    # ---- hooks
    def config(self, preset: str, seeds: list[int] | None = None, overrides=None):
        """The resolved, validated experiment config of ``preset``."""
        raise NotImplementedError

    def runs(self, cfg) -> list[tuple[dict[str, Any], RunConfig]]:
        """The sweep: ``(params, run config)`` per run; params say what sets each apart."""
        raise NotImplementedError

    def check(self, cfg, runs: list[SweepRun]) -> None:
        """Settings that need the planned runs (e.g. an analysis layer of the model); raise
        ValueError before anything trains. Default: nothing more to check."""

    def analyse(self, cfg, run: SweepRun, device: str) -> dict:
        """Analyse one finished run: ``{"row": {metric: number}, ...}`` (anything else is
        kept for ``verdicts`` and ``figures``)."""
        raise NotImplementedError

    def verdicts(self, cfg, results: list[dict]) -> list[Verdict]:
        raise NotImplementedError

    def figures(self, cfg, results: list[dict], fig_dir: Path) -> list[str]:
        return []

    def describe_setting(self, cfg) -> str:
        """One line naming the training setting that produced the verdicts."""
        return ""

    def summary_extra(self, cfg, results: list[dict]) -> dict:
        """Experiment-specific summary fields (rendered by ``report_sections``)."""
        return {}

    def stored_results(self, summary: dict) -> list[dict] | None:
        """The per-run results ``verdicts`` and ``summary_extra`` read, rebuilt from a
        summary this experiment wrote, or None where its summary does not hold them. With
        them, folders of separately trained seeds are judged together by the same
        ``verdicts`` one call uses (``factordiff pool``). Default: None."""
        return None

    def report_sections(self, summary: dict) -> list[str]:
        """Experiment-specific Markdown lines after the verdict table."""
        return []


# ----------------------------------------------------------------------------- entry point
def check_run_inputs(runs: list[SweepRun]) -> None:
    """Read what training and analysis read of each run that has a folder: ``state.json``
    and ``metrics.jsonl``, and of a finished run its ``config.json`` and every kept
    checkpoint. A garbled file raises ValueError (FileNotFoundError for a finished run
    without checkpoints) naming the file (and line), before an experiment rewrites
    anything: otherwise a rerun would redo its analysis, rewrite results, figures and
    ``analysis/`` and only then fail."""
    from factordiff.training import (
        list_checkpoints,
        load_checkpoint,
        read_metrics,
        read_run_config,
        run_state,
    )

    for r in runs:
        if not r.dir.is_dir():
            continue
        state = run_state(r.dir) or {}
        try:
            read_metrics(r.dir)
        except ValueError as e:
            raise ValueError(
                f"{e}; allowed: one JSON object per line (repair or remove that line, or delete "
                f"{r.dir} to train the run again)"
            ) from None
        if state.get("finished"):
            read_run_config(r.dir)
            for path in list_checkpoints(r.dir):
                load_checkpoint(path)


def prepare_experiment(
    exp: Experiment,
    cfg,
    out: str | Path,
    *,
    device: str | None = None,
    executor=None,
    force: bool = False,
):
    """Validate ``cfg`` and its sweep, reach ``executor`` (a Ray cluster's address) and
    read the runs already there (:func:`check_run_inputs`; not with ``force``, which
    trains them again), then write ``out/experiment.json`` and ``out/sweep.json``; returns
    the planned runs (:class:`SweepRun`). Bad input thus writes nothing. The first step of
    :func:`run_experiment`, also taken by ``reproduce`` before it trains the runs of several
    experiments in one pool."""
    from factordiff.experiments.sweep import check_executor
    from factordiff.paths import check_writable_folder
    from factordiff.training import atomic_write_text

    cfg.validate()
    runs = plan_sweep(out, exp.runs(cfg), device=device)  # validates every run config
    exp.check(cfg, runs)
    check_writable_folder(out)  # a file in the way: refused as train refuses it
    if executor is not None:
        check_executor(executor)
    if not force:
        check_run_inputs(runs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    saved = stamp(to_dict(cfg))  # with its schema_version (factordiff.migrate)
    atomic_write_text(out / "experiment.json", json.dumps(saved, indent=2) + "\n")
    write_sweep(out, runs, {"experiment": exp.name, "preset": getattr(cfg, "name", "")})
    return runs


def run_experiment(
    exp: Experiment,
    cfg,
    out: str | Path,
    *,
    executor=None,
    force: bool = False,
    command: str = "",
    device: str | None = None,
    log=print,
    on_run_done=None,
    progress: bool = False,
    analysis_workers: int = 1,
    analysed: dict[str, dict] | None = None,
) -> dict:
    """Run experiment ``exp`` with config ``cfg`` into ``out``; rerunning resumes.

    Nothing is written before the config is validated, the executor reached and the runs
    already there read (:func:`prepare_experiment`); the runs trained now are read again
    before the analysis rewrites anything (:func:`check_run_inputs`).

    ``executor``: a LocalExecutor or RayExecutor (default: the local one). ``force`` deletes
    the sweep's run folders and trains every run again. ``device`` places the runs (not
    part of their identity). ``on_run_done(run, result, error)`` is called as each run
    finishes or fails instead of the default ``log`` line (e.g. a progress line). ``progress``:
    a ``log`` line as each run's analysis starts and ends, and the experiment's own progress
    bars inside a long analysis (``Experiment.show_progress``). ``analysis_workers`` > 1
    analyses that many runs at once in spawned processes (:func:`analyse_runs`);
    ``analysed`` (run key -> ``exp.analyse`` result) holds runs already analysed by the
    caller (``run_variants``). Returns the summary (also written to ``out/summary.json``
    and ``out/report.md``)."""
    from factordiff.training import resolve_device

    executor = executor if executor is not None else make_executor("local")
    runs = prepare_experiment(exp, cfg, out, device=device, executor=executor, force=force)
    out = Path(out)
    t_start = time.perf_counter()
    train_missing(runs, out, executor, force=force, log=log, on_run_done=on_run_done)
    device_used = str(resolve_device(runs[0].config.device))

    t_an = time.perf_counter()
    results = analysed_results(
        exp, cfg, runs, analysed, workers=analysis_workers, log=log, progress=progress
    )
    analysis_seconds = time.perf_counter() - t_an
    table_paths = write_table(results_table(results), out)
    verdicts = exp.verdicts(cfg, results)
    figures = exp.figures(cfg, results, out / "figures")
    summary = experiment_summary(
        exp,
        cfg,
        runs,
        results,
        command=command,
        device_used=device_used,
        executor=executor,
        t_start=t_start,
        analysis_seconds=analysis_seconds,
        table_paths=table_paths,
        verdicts=verdicts,
        figures=figures,
    )
    return write_summary(exp, summary, out)


def train_missing(
    runs: list[SweepRun], out: Path, executor, *, force: bool, log=print, on_run_done=None
) -> None:
    """The training step of :func:`run_experiment`: with ``force`` delete every run folder
    first; train the runs not finished on ``executor`` (a ``log`` line per run, or
    ``on_run_done(run, result, error)``), then read what they wrote
    (:func:`check_run_inputs`) before any analysis."""
    if force:
        # Start the runs over here, once: an executor's retry of a lost task then resumes
        # from the new checkpoints instead of starting over again.
        for r in runs:
            shutil.rmtree(r.dir, ignore_errors=True)
    todo = [r for r in runs if not finished(r)]
    log(f"{len(runs)} run(s) in {out / 'runs'}; {len(todo)} to train ({executor.describe()})")

    def on_done(r: SweepRun, result: dict | None, error: str | None) -> None:
        if on_run_done is not None:  # the callback reports the run (e.g. a progress line)
            on_run_done(r, result, error)
        elif error is None:
            log(f"  {result['status']} {r.key} {r.params} in {result['seconds']:.0f} s")
        else:
            log(f"  FAILED {r.key} {r.params}: {error}")

    if todo:
        executor.run(todo, on_done=on_done)
        check_run_inputs(todo)  # what the runs trained now wrote, before any analysis


def analysed_results(
    exp: Experiment,
    cfg,
    runs: list[SweepRun],
    analysed: dict[str, dict] | None,
    *,
    workers: int = 1,
    log=print,
    progress: bool = False,
) -> list[dict]:
    """The analysis step of :func:`run_experiment`: ``{"run": run, **exp.analyse(...)}`` per
    run, in order; taken from ``analysed`` (run key -> result) when the caller analysed
    every run already, else from :func:`analyse_runs`."""
    if analysed is not None and all(r.key in analysed for r in runs):
        return [{"run": r, **analysed[r.key]} for r in runs]  # analysed by the caller
    return [
        {"run": r, **a}
        for r, a in zip(
            runs,
            analyse_runs(
                exp, [(cfg, r) for r in runs], workers=workers, log=log, progress=progress
            ),
            strict=True,
        )
    ]


def finished(run: SweepRun) -> bool:
    """Whether the run's state says it finished its budget."""
    from factordiff.training import run_state

    return bool((run_state(run.dir) or {}).get("finished"))


def describe_plan(exp: Experiment, cfg, out: str | Path) -> str:
    """The dry run of :func:`run_experiment`: the resolved config ``cfg`` as JSON and a line
    on what a run would write into ``out``. Every run config is validated first, so a dry
    run refuses what the real run would refuse (a ValueError naming the bad value); nothing
    is written."""
    runs = exp.runs(cfg)
    for _, run_cfg in runs:
        run_cfg.validate()
    return (
        json.dumps(to_dict(cfg), indent=2)
        + f"\n(dry run: would write {Path(out).resolve()} with {len(runs)} run(s))"
    )
