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
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from factordiff.config import RunConfig, json_ready, to_dict
from factordiff.experiments.judgement import (
    METHOD,
    NOT_JUDGED,
    NOT_REPRODUCED,
    REPRODUCED,
    Rule,
    combine,
    judge,
)
from factordiff.experiments.sweep import SweepRun, make_executor, plan_sweep, write_sweep
from factordiff.migrate import stamp
from factordiff.provenance import provenance


# ----------------------------------------------------------------------------- configs
def finish_config(cfg, seeds=None, overrides=None):
    """An experiment preset's config with ``seeds`` (a list: one run each) and dotted
    ``key=value`` overrides applied, then validated: what every experiment's ``config``
    ends with."""
    from dataclasses import replace

    from factordiff.config import apply_overrides

    if seeds:
        cfg = replace(cfg, seeds=tuple(seeds))
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    cfg.validate()
    return cfg


def precision_used(run: RunConfig) -> str:
    """The precision ``run`` computes in on this machine (``train.precision`` resolved), for
    the setting line of a report."""
    from factordiff.hardware import resolve_precision
    from factordiff.training import resolve_device

    return resolve_precision(run.train.precision, resolve_device(run.device)).used


def check_shares(name: str, values) -> None:
    """2 or more strictly increasing shares in (0, 1] (data shares, kept shares lambda)."""
    if (
        len(values) < 2
        or list(values) != sorted(set(values))
        or not all(0 < v <= 1 for v in values)
    ):
        raise ValueError(
            f"{name} = {list(values)} is invalid; allowed: 2 or more strictly increasing "
            "shares in (0, 1]"
        )


def check_seeds(seeds) -> None:
    """Distinct seeds >= 0."""
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds = {list(seeds)} is invalid; allowed: distinct integers >= 0")


# ----------------------------------------------------------------------------- verdicts
@dataclass
class Verdict:
    """One claim of the paper, judged. Data, not prose: the report renders it.

    ``value`` is the measured value (over seeds: the per-seed values), ``control`` the value
    of a control or reference it is read against (None if none), ``control_passes`` whether
    a control judged by the same rule passes it (None when no control rule applies; over
    seeds: the per-seed values, ``control`` then too), ``spread`` its spread over
    seeds (``{"mean", "std", "min", "max", "reproduced_in", "seeds"}``; None for one run),
    ``detail`` anything else worth keeping (e.g. a trajectory over training)."""

    claim: str
    paper: str  # the paper's statement
    rule: str  # how the measured value is judged (stated before the run, not tuned)
    value: Any
    reproduced: bool
    control: Any = None
    spread: dict | None = None
    detail: dict = field(default_factory=dict)
    control_passes: bool | list[bool] | None = None
    # Why the claim cannot be judged from this run (e.g. its precondition, the step-budget
    # check, failed); None when it is judged. A claim not judged is never reproduced.
    not_judged: str | None = None
    # Three answers (factordiff.experiments.judgement): the rules the claim is judged by over
    # seeds and this seed's statistic for each, in the same order; over seeds, each rule's
    # judgement (values per seed, n, interval, verdict). A verdict without rules is judged
    # per run only (``reproduced``), as summaries written before the rules were.
    rules: list[Rule] = field(default_factory=list)
    statistics: list[float | None] = field(default_factory=list)
    judgements: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.not_judged is not None and self.reproduced:
            raise ValueError(f"claim {self.claim!r}: a claim not judged cannot be reproduced")
        if self.rules and len(self.statistics) != len(self.rules):
            raise ValueError(
                f"claim {self.claim!r}: {len(self.statistics)} statistic(s) for "
                f"{len(self.rules)} rule(s); allowed: one per rule"
            )

    @property
    def verdict(self) -> str:
        """reproduced | not reproduced | inconclusive | not judged."""
        if self.not_judged is not None:
            return NOT_JUDGED
        if self.judgements:
            return combine([j["verdict"] for j in self.judgements])
        return REPRODUCED if self.reproduced else NOT_REPRODUCED

    def to_dict(self) -> dict:
        out = asdict(self)
        out["verdict"] = self.verdict
        return json_ready(out)


def _numbers(values: list) -> list[float] | None:
    """Per-seed values as floats (lists elementwise), or None when they are not numbers."""
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def _stats(values: list[float]) -> dict:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1))
    return {"mean": mean, "std": std, "min": min(values), "max": max(values)}


def _judged(claims: tuple[Verdict, ...], seeds: list[int]) -> list[dict]:
    """Each rule of a claim judged over its per-seed statistics (empty without rules)."""
    first = claims[0]
    for c in claims[1:]:
        if [r.describe() for r in c.rules] != [r.describe() for r in first.rules]:
            raise ValueError(f"claim {first.claim!r}: the seeds were judged by different rules")
    return [
        judge(rule, [c.statistics[i] for c in claims], seeds).to_dict()
        for i, rule in enumerate(first.rules)
    ]


def _holds(judgements: list[dict]) -> bool:
    """Whether the rules' judgements together say reproduced."""
    return combine([j["verdict"] for j in judgements]) == REPRODUCED


def combine_seeds(per_seed: list[list[Verdict]], seeds: list[int]) -> list[Verdict]:
    """One verdict per claim over the seeds (one seed included).

    A claim with rules (:mod:`factordiff.experiments.judgement`) is judged from the interval of
    each rule's statistic over seeds: reproduced, not reproduced or inconclusive (fewer seeds
    than a rule's minimum: inconclusive). A claim without rules keeps the older rule over
    seeds: reproduced when the per-run rule holds for every seed. The spread gives how many
    seeds passed the per-run rule; numbers get mean / std / min / max (lists elementwise)."""
    if len(per_seed) == 1:
        out1 = []
        for c in per_seed[0]:
            if c.rules:
                judgements = _judged((c,), list(seeds))
                reproduced = _holds(judgements) and c.not_judged is None
                c = replace(c, judgements=judgements, reproduced=reproduced)
            out1.append(c)
        return out1
    out = []
    for claims in zip(*per_seed):
        first = claims[0]
        judgements = _judged(claims, list(seeds))
        values = [c.value for c in claims]
        spread: dict[str, Any] = {
            "seeds": list(seeds),
            "reproduced_in": sum(c.reproduced for c in claims),
        }
        flat = _numbers(values)
        if flat is not None:
            spread.update(_stats(flat))
        elif (
            all(isinstance(v, list | tuple) for v in values) and len({len(v) for v in values}) == 1
        ):
            cols = [_numbers([v[i] for v in values]) for i in range(len(values[0]))]
            if all(c is not None for c in cols):
                stats = [_stats(c) for c in cols]
                spread.update({k: [s[k] for s in stats] for k in ("mean", "std", "min", "max")})
        over = (
            f"; over seeds: the {METHOD} of each statistic on the claim's side"
            if judgements
            else "; over seeds: reproduced when it holds for every seed"
        )
        not_judged = _not_judged_over_seeds(claims, seeds)
        reproduced = (
            _holds(judgements) if judgements else all(c.reproduced for c in claims)
        ) and not_judged is None
        out.append(
            Verdict(
                claim=first.claim,
                paper=first.paper,
                rule=first.rule + over,
                value=values,
                reproduced=reproduced,
                control=first.control
                if first.control_passes is None
                else [c.control for c in claims],
                spread=spread,
                detail={"per_seed": [c.detail for c in claims]}
                if any(c.detail for c in claims)
                else {},
                control_passes=None
                if first.control_passes is None
                else [c.control_passes for c in claims],
                not_judged=not_judged,
                rules=list(first.rules),
                statistics=[[c.statistics[i] for c in claims] for i in range(len(first.rules))],
                judgements=judgements,
            )
        )
    return out


def _not_judged_over_seeds(claims, seeds) -> str | None:
    """Why a claim is not judged over seeds: any seed where it is not judged makes it so."""
    reasons = [f"seed {s}: {c.not_judged}" for s, c in zip(seeds, claims) if c.not_judged]
    return "; ".join(reasons) if reasons else None


# ----------------------------------------------------------------------------- experiments
@dataclass(frozen=True)
class ExperimentPreset:
    """A named setting of an experiment with the result we expect of it."""

    name: str
    description: str
    expected: str
    run_preset: str  # the run preset its training starts from (factordiff.presets)


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

    def report_sections(self, summary: dict) -> list[str]:
        """Experiment-specific Markdown lines after the verdict table."""
        return []


# ----------------------------------------------------------------------------- results table
def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dict -> ``{"a.b.c": value}``; lists become JSON text (one cell each)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{name}."))
        elif isinstance(v, list | tuple):
            out[name] = json.dumps(to_dict(v))
        else:
            out[name] = v
    return out


def results_table(results: list[dict]):
    """One row per run: ``key``, ``run_dir``, the params, the flattened config
    (``config.<section>.<field>``) and the metrics of ``analyse``. A pandas DataFrame."""
    import pandas as pd

    rows = []
    for r in results:
        run: SweepRun = r["run"]
        row: dict[str, Any] = {"key": run.key, "run_dir": str(run.dir)}
        row.update({f"param.{k}": v for k, v in run.params.items()})
        cfg = to_dict(run.config)
        cfg.pop("device", None)
        row.update(flatten(cfg, "config."))
        row.update(json_ready(r["row"]))
        rows.append(row)
    return pd.DataFrame(rows)


def write_table(table, out: Path) -> list[Path]:
    """``results.csv`` and ``results.parquet`` (read back with ``pd.read_parquet(path)``)."""
    csv, parquet = out / "results.csv", out / "results.parquet"
    for path, write in ((csv, table.to_csv), (parquet, table.to_parquet)):
        tmp = path.with_name(path.name + ".tmp")
        write(tmp, index=False)
        tmp.replace(path)
    return [csv, parquet]


# ----------------------------------------------------------------------------- entry point
def run_deviations(runs: list[SweepRun]) -> list[str]:
    """The deviations from the paper's network that remain in any run of the sweep
    (:func:`factordiff.ladder.deviations`), each once, in ladder order."""
    from factordiff.ladder import deviations

    return list(dict.fromkeys(d for r in runs for d in deviations(r.config)))


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
    the sweep's run folders and trains every run again. ``device`` places the runs (not part of their identity). ``on_run_done(run, result, error)`` is called as each run
    finishes or fails instead of the default ``log`` line (e.g. a progress line). ``progress``:
    a ``log`` line as each run's analysis starts and ends, and the experiment's own progress
    bars inside a long analysis (``Experiment.show_progress``). ``analysis_workers`` > 1
    analyses that many runs at once in spawned processes (:func:`analyse_runs`);
    ``analysed`` (run key -> ``exp.analyse`` result) holds runs already analysed by the
    caller (``run_variants``). Returns the summary (also written to ``out/summary.json``
    and ``out/report.md``)."""
    from factordiff.experiments.report import render_report
    from factordiff.hardware import machine_description
    from factordiff.training import atomic_write_text, resolve_device

    executor = executor if executor is not None else make_executor("local")
    runs = prepare_experiment(exp, cfg, out, device=device, executor=executor, force=force)
    out = Path(out)
    t_start = time.perf_counter()

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
    device_used = str(resolve_device(runs[0].config.device))

    t_an = time.perf_counter()
    if analysed is not None and all(r.key in analysed for r in runs):
        results = [{"run": r, **analysed[r.key]} for r in runs]  # analysed by the caller
    else:
        results = [
            {"run": r, **a}
            for r, a in zip(
                runs,
                analyse_runs(
                    exp,
                    [(cfg, r) for r in runs],
                    workers=analysis_workers,
                    log=log,
                    progress=progress,
                ),
                strict=True,
            )
        ]
    analysis_seconds = time.perf_counter() - t_an
    table = results_table(results)
    table_paths = write_table(table, out)
    verdicts = exp.verdicts(cfg, results)
    figures = exp.figures(cfg, results, out / "figures")

    name = getattr(cfg, "name", "") or exp.name
    summary = {
        "experiment": name,
        "title": exp.title.format(name=name),
        "command": command,
        "device": device_used,
        "machine": machine_description(device_used),
        "provenance": provenance(),
        "setting": exp.describe_setting(cfg),
        "deviations": run_deviations(runs),
        **({"variant": cfg.variant} if hasattr(cfg, "variant") else {}),
        "wall_seconds": time.perf_counter() - t_start,
        "train_seconds": float(sum(_train_seconds(r.dir) for r in runs)),
        "analysis_seconds": analysis_seconds,
        "executor": executor.describe(),
        "seeds": sorted({r.config.seed for r in runs}),
        "runs": [{"key": r.key, "params": r.params, "run_dir": str(r.dir)} for r in runs],
        "table": [p.name for p in table_paths],
        **exp.summary_extra(cfg, results),
        "verdicts": [v.to_dict() for v in verdicts],
        "figures": figures,
    }
    summary = json_ready(summary)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / "report.md", render_report(summary, exp.report_sections(summary)))
    return summary


def analyse_runs(
    exp: Experiment, jobs: list, *, workers: int = 1, log=print, progress: bool = False
) -> list[dict]:
    """``exp.analyse(cfg, run, device)`` of every ``(cfg, run)`` in ``jobs``, in order.

    ``workers`` > 1 analyses up to that many runs at once, each in a spawned process with
    an equal share of the cores (an analysis is single-run work: forward passes, then PCA,
    homology and UMAP on the CPU; a sweep's runs are independent). The experiment is looked
    up by name in each process (``EXPERIMENTS``). With ``progress``, a line as each run's
    analysis starts (serial) or is handed out (parallel) and as it ends; the experiment's
    own progress bars only in serial mode (bars of several processes would interleave)."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"analysis workers = {workers!r} is invalid; allowed: an integer >= 1")
    n = len(jobs)
    exp = copy.copy(exp)  # the registered instance stays as it is
    if workers == 1 or n <= 1:
        exp.show_progress = progress
        out = []
        for i, (cfg, r) in enumerate(jobs, 1):
            t_run = time.perf_counter()
            if progress:
                log(f"analysing run {i}/{n} {r.key} {r.params}")
            out.append(exp.analyse(cfg, r, r.config.device))
            if progress:
                log(f"analysed run {i}/{n} in {time.perf_counter() - t_run:.0f} s")
        return out

    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from factordiff.hardware import usable_cores

    procs = min(workers, n)
    threads = max(1, usable_cores() // procs)
    if progress:
        log(f"analysing {n} runs, {procs} at a time ({threads} thread(s) each)")
    t0 = time.perf_counter()
    results: list[dict | None] = [None] * n
    ctx = mp.get_context("spawn")  # fork after torch (or CUDA) has started is unsafe
    with ProcessPoolExecutor(
        max_workers=procs, mp_context=ctx, initializer=_analysis_worker_init, initargs=(threads,)
    ) as pool:
        futures = {
            pool.submit(_analyse_in_worker, exp.name, cfg, r): i for i, (cfg, r) in enumerate(jobs)
        }
        for done, fut in enumerate(as_completed(futures), 1):
            i = futures[fut]
            results[i] = fut.result()  # a failed analysis fails the call, as in serial mode
            if progress:
                r = jobs[i][1]
                log(
                    f"analysed run {done}/{n} {r.key} {r.params} "
                    f"({time.perf_counter() - t0:.0f} s since the start)"
                )
    return results  # type: ignore[return-value]


def _analysis_worker_init(threads: int) -> None:
    from factordiff.experiments.orphans import exit_with_parent
    from factordiff.hardware import set_thread_budget

    exit_with_parent()  # an analysis worker ends with the experiment

    set_thread_budget(threads)
    try:  # numpy's BLAS too (PCA, homology): one share of the cores per process
        import threadpoolctl

        threadpoolctl.threadpool_limits(threads)
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        pass


def _analyse_in_worker(name: str, cfg, run: SweepRun) -> dict:
    from factordiff.experiments import EXPERIMENTS

    return EXPERIMENTS[name].analyse(cfg, run, run.config.device)


def finished(run: SweepRun) -> bool:
    """Whether the run's state says it finished its budget."""
    from factordiff.training import run_state

    return bool((run_state(run.dir) or {}).get("finished"))


def _train_seconds(run_dir: Path) -> float:
    """Training wall time recorded in a run's metrics (last logged ``train_seconds``)."""
    from factordiff.training import read_metrics  # names file and line on a bad record

    last = 0.0
    if (Path(run_dir) / "metrics.jsonl").is_file():
        for rec in read_metrics(run_dir):
            last = max(last, float(rec.get("train_seconds", 0.0)))
    return last


def saved_config_matches(out: str | Path, cfg) -> bool:
    """Whether ``out/experiment.json`` holds config ``cfg``. The saved config is read back
    through ``cfg``'s class first, upgraded through its migrations (factordiff.migrate), so
    a field added since it was saved counts at the value the migration gives old configs (or
    at its default where no migration names it); a saved config the class no longer reads
    does not match. A missing file raises FileNotFoundError, an unreadable one or one of a
    newer schema version ValueError (both naming it)."""
    from factordiff.config import from_dict
    from factordiff.jsonfiles import read_json
    from factordiff.migrate import FutureSchemaError

    path = Path(out) / "experiment.json"
    saved = read_json(
        path, "an experiment config as factordiff experiment writes it (a JSON object)"
    )
    try:
        saved = to_dict(from_dict(type(cfg), saved))
    except FutureSchemaError as e:
        raise ValueError(f"{path}: {e}") from None
    except (ValueError, TypeError):
        return False
    return json.loads(json.dumps(saved)) == json.loads(json.dumps(to_dict(cfg)))


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


def rejudge_experiment(exp: Experiment, cfg, out: str | Path, why: str) -> dict:
    """Judge a finished experiment in ``out`` again with the current rules, from the rows its
    summary.json stores: nothing is trained or scored. For a rule change made after the run
    (``why`` says which, and the report says it too). Only experiments whose summary keeps
    one row per run (``rows``: Experiment 3, percolation) can be judged again this way."""
    from factordiff.experiments.report import render_report
    from factordiff.jsonfiles import expect_list, read_summary
    from factordiff.training import atomic_write_text

    out = Path(out)
    path = out / "summary.json"
    if not path.is_file():
        raise ValueError(f"--rejudge: {path} does not exist; allowed: a finished experiment folder")
    summary = read_summary(path)
    if not saved_config_matches(out, cfg):
        raise ValueError(
            f"--rejudge: the config in {out / 'experiment.json'} differs from {cfg.name!r}; "
            "allowed: the preset, seeds and --set values the experiment ran with"
        )
    if "rows" not in summary:
        raise ValueError(
            f"--rejudge: {path} keeps no per-run rows ({summary.get('experiment')}); allowed: "
            "experiments whose summary stores them (exp3, percolation)"
        )
    rows = expect_list(summary["rows"], path, "rows", dict)
    verdicts = exp.verdicts(cfg, [{"row": r} for r in rows])
    summary["verdicts"] = [v.to_dict() for v in verdicts]
    date = time.strftime("%Y-%m-%d", time.gmtime())
    summary["rejudged"] = [*summary.get("rejudged", []), {"date": date, "why": why}]
    summary = json_ready(summary)
    atomic_write_text(path, json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / "report.md", render_report(summary, exp.report_sections(summary)))
    return summary
