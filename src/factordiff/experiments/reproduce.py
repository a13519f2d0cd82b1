"""The whole paper in one call: Experiments 1, 2, 3 and the percolation experiment, then the page.

:func:`reproduce` runs each experiment through :func:`~factordiff.experiments.skeleton.
run_experiment` (its sweep on one executor) into its own folder, and ends with
``OUT/report.html`` (:mod:`factordiff.experiments.html_report`). Layout of ``OUT``::

    OUT/exp1/, OUT/exp2/, OUT/exp3/, OUT/percolation/   one experiment folder each
    OUT/reproduce.json                                  each experiment's status, error, wall time
    OUT/report.html                                     the page

Scales: ``quick`` (``NAME-quick``, a 2-core CPU; the default, here and on the command
line), ``paper`` (the presets ``NAME``, meant for a GPU: only when asked for) and ``tiny``
(the seconds-long smoke presets the tests use).

Rerunning the same call skips what is finished. The sweeps skip finished runs and resume
unfinished ones; on top of that an experiment is left alone, not even analysed again, when
it is up to date: its ``summary.json`` exists, its ``experiment.json`` is the config asked
for now, the summary lists exactly the runs this config plans, every one of them is
finished, none finished after the summary was written, and ``reproduce.json`` does not
record its last attempt as failed or interrupted. Anything else (a new or changed
config, a run left to train, a summary older than a run) runs the experiment again, which
trains what is left and redoes its analysis; ``reanalyse=True`` redoes the analysis of
up-to-date experiments too.

One experiment failing does not stop the others: its error is recorded in
``reproduce.json`` and listed on the page, and :func:`reproduce` reports it in its result
(the command line then exits non-zero). Bad input (an unknown experiment, an invalid
config) fails before anything trains.

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
left: the optimizer steps left in the runs not finished, each step weighted by its batch
size x image pixels, times the seconds per weighted step measured on the finished runs
(those of the same experiment when it has any, else all), divided by the local executor's
workers. It is an estimate: analysis time is not included, and the rate changes with the
model, the machine's load and the threads.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factordiff.experiments.skeleton import (
    Experiment,
    finished,
    prepare_experiment,
    run_experiment,
    saved_config_matches,
)
from factordiff.experiments.sweep import (
    SweepFailed,
    SweepRun,
    plan_sweep,
    run_budget,
    step_weight,
)
from factordiff.jsonfiles import expect_list, expect_object, read_json, read_summary
from factordiff.paths import check_writable_folder

#: The experiments of the paper, in the order they run.
ORDER = ("exp1", "exp2", "exp3", "percolation")
SCALES = ("paper", "quick", "tiny")
#: The smoke preset of each experiment (``tiny`` scale).
TINY_PRESETS = {
    "exp1": "exp1-tiny",
    "exp2": "exp2-smoke",
    "exp3": "exp3-tiny",
    "percolation": "percolation-tiny",
}
RECORD_FILE = "reproduce.json"
PAGE_FILE = "report.html"


def preset_for(name: str, scale: str) -> str:
    """The preset of experiment ``name`` at ``scale`` (``exp2``, ``quick`` -> ``exp2-quick``)."""
    if scale not in SCALES:
        raise ValueError(f"scale = {scale!r} is invalid; allowed: {', '.join(SCALES)}")
    if name not in ORDER:
        raise ValueError(f"experiment {name!r} is invalid; allowed: {', '.join(ORDER)}")
    return {"paper": name, "quick": f"{name}-quick", "tiny": TINY_PRESETS[name]}[scale]


def default_out(scale: str) -> Path:
    """``runs/reproduce`` (paper), ``runs/reproduce-quick``, ``runs/reproduce-tiny``."""
    preset_for(ORDER[0], scale)  # validates the scale
    return Path("runs") / ("reproduce" if scale == "paper" else f"reproduce-{scale}")


def parse_only(text: str | None) -> list[str]:
    """``"exp1,exp3"`` -> ``["exp1", "exp3"]`` (kept in :data:`ORDER`); None -> all."""
    if text is None:
        return list(ORDER)
    names = [x.strip() for x in text.split(",") if x.strip()]
    bad = [n for n in names if n not in ORDER]
    if not names or bad:
        raise ValueError(
            f"--only {text!r} is invalid; allowed: a comma-separated subset of {', '.join(ORDER)}"
        )
    return [n for n in ORDER if n in names]


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


@dataclass
class Planned:
    """One experiment of a reproduce: its resolved config and its planned runs."""

    name: str
    exp: Experiment
    preset: str
    cfg: Any
    out: Path
    runs: list[SweepRun]


def plan_reproduce(
    scale: str, out: str | Path, only: list[str] | None = None, device: str | None = None
) -> list[Planned]:
    """Resolve and validate every experiment's config and sweep (nothing is written)."""

    return [plan_experiment(n, preset_for(n, scale), out, device) for n in only or ORDER]


def plan_experiment(
    name: str, preset: str, out: str | Path, device: str | None = None, seeds=None, overrides=None
) -> Planned:
    """One experiment's config (``preset`` with ``seeds`` and ``overrides``) and sweep in
    ``out/name``, resolved and checked (nothing is written)."""
    from factordiff.experiments import EXPERIMENTS

    exp = EXPERIMENTS[name]
    cfg = exp.config(preset, seeds=seeds, overrides=overrides)
    folder = Path(out) / name
    runs = plan_sweep(folder, exp.runs(cfg), device=device)
    exp.check(cfg, runs)
    return Planned(name, exp, preset, cfg, folder, runs)


# ----------------------------------------------------------------------------- up to date
def needs_work(p: Planned) -> str | None:
    """Why experiment ``p`` must run (a short reason), or None when it is up to date (see
    the module docstring)."""
    summary_path = p.out / "summary.json"
    if not summary_path.is_file():
        return "no summary.json yet"
    # Deliberately tolerant: an unreadable summary.json or experiment.json (factordiff.jsonfiles
    # names it) is a reason to run the experiment again, which writes both anew.
    try:
        summary = read_summary(summary_path)
        same_config = saved_config_matches(p.out, p.cfg)
    except (OSError, ValueError) as e:
        return f"an unreadable file, written again ({e})"
    if not same_config:
        return "the config differs from the one in experiment.json"
    if sorted(r.get("key") for r in summary.get("runs", [])) != sorted(r.key for r in p.runs):
        return "summary.json lists other runs than this config plans"
    left = sum(not finished(r) for r in p.runs)
    if left:
        return f"{left} run(s) to train"
    stamp = summary_path.stat().st_mtime
    if any((r.dir / "state.json").stat().st_mtime > stamp for r in p.runs):
        return "a run finished after summary.json was written"
    return None


def _summary_wall_seconds(folder: Path) -> float | None:
    """The wall time an experiment's summary.json records (None when unreadable)."""
    try:  # tolerant: only a number shown on the page
        value = read_summary(folder / "summary.json").get("wall_seconds")
    except (OSError, ValueError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


# ----------------------------------------------------------------------------- progress
def _current_step(run: SweepRun) -> int:
    """The last optimizer step a run logged (its checkpoint's step when it logged none)."""
    from factordiff.training import read_metrics, run_state

    step = int((run_state(run.dir) or {}).get("step", 0))
    try:
        records = read_metrics(run.dir)
    except ValueError:  # a garbled record: the checkpoint's step is still an estimate
        records = []
    return max([step] + [int(r.get("step", 0)) for r in records])


class Progress:
    """Progress lines of a reproduce: which experiment and run, and an estimate of the
    training time left (see the module docstring). ``parallel``: runs trained at once."""

    def __init__(self, planned: list[Planned], parallel: int = 1, log=print) -> None:
        self.planned = planned
        self.parallel = max(1, parallel)
        self.log = log
        budgets = {r.key: (r, run_budget(r)) for p in planned for r in p.runs}
        self.total = {k: steps for k, (_, (_, steps)) in budgets.items()}
        self.weight = {k: step_weight(r, images) for k, (r, (images, _)) in budgets.items()}
        self.current: Planned | None = None
        # Each run's experiment, and the runs finished per experiment: run lines name their
        # own experiment also when the runs of several train in one pool (``start_pool``).
        self.owner = {str(r.dir): p for p in planned for r in p.runs}
        self.done: dict[str, int] = {}
        self.pooled = False  # in a pool the heartbeat covers every experiment

    def _rates(self) -> tuple[dict[str, float], float | None]:
        """Seconds per weighted step of the finished runs: per experiment and over all."""
        from factordiff.experiments.skeleton import _train_seconds

        per: dict[str, float] = {}
        all_s = all_w = 0.0
        for p in self.planned:
            s = w = 0.0
            for r in p.runs:
                if finished(r):
                    secs = _train_seconds(r.dir)
                    if secs > 0:
                        s += secs
                        w += self.total[r.key] * self.weight[r.key]
            if w > 0:
                per[p.name] = s / w
            all_s, all_w = all_s + s, all_w + w
        return per, (all_s / all_w if all_w > 0 else None)

    def estimate(self) -> tuple[int, int, float | None]:
        """``(runs left, optimizer steps left, seconds left or None)`` over every experiment."""
        per, overall = self._rates()
        runs_left = steps_left = 0
        seconds = 0.0
        for p in self.planned:
            rate = per.get(p.name, overall)
            for r in p.runs:
                if finished(r):
                    continue
                left = max(0, self.total[r.key] - _current_step(r))
                runs_left += 1
                steps_left += left
                if rate is not None:
                    seconds += left * self.weight[r.key] * rate
        if overall is None:
            return runs_left, steps_left, None
        return runs_left, steps_left, seconds / self.parallel

    def eta_text(self) -> str:
        runs_left, steps_left, seconds = self.estimate()
        if runs_left == 0:
            return "no training left"
        head = f"{runs_left} run(s) left in all ({steps_left:,} steps)"
        if seconds is None:
            return f"{head}; time left: no estimate until a run has finished"
        return (
            f"{head}; estimated training time left {_duration(seconds)} "
            "(an estimate from the finished runs' seconds per step; analysis not included)"
        )

    def begin(self, p: Planned) -> None:
        """Count the runs of ``p`` from here on, without a line."""
        self.current, self.done[p.name] = p, 0

    def start_pool(self, to_train: dict[str, int], executor: str) -> None:
        """A line as the runs of several experiments (name -> runs to train) start training
        in one pool."""
        self.pooled, self.current, self.done = True, None, {}
        parts = ", ".join(f"{name} {n}" for name, n in to_train.items())
        self.log(
            f"[training] {sum(to_train.values())} run(s) of {len(to_train)} experiments in "
            f"one pool ({executor}; {parts}); {self.eta_text()}"
        )

    def end_pool(self) -> None:
        self.pooled = False

    def start(self, p: Planned, index: int, reason: str | None) -> None:
        self.current, self.done[p.name] = p, 0
        todo = sum(not finished(r) for r in p.runs)
        what = "up to date, skipped" if reason is None else reason
        self.log(
            f"[{p.name} {index}/{len(self.planned)}] {p.preset} into {p.out}: {len(p.runs)} "
            f"run(s), {todo} to train ({what}); {self.eta_text()}"
        )

    def on_done(self, run: SweepRun, result: dict | None, error: str | None) -> None:
        p = self.owner.get(str(run.dir), self.current)
        name = p.name if p else "?"
        self.done[name] = done = self.done.get(name, 0) + 1
        total = len(p.runs) if p else "?"
        what = (
            f"FAILED ({error})"
            if error
            else f"{result['status']} in {_duration(result['seconds'])}"
        )
        self.log(f"[{name}] run {done}/{total} {run.key} {run.params} {what}; {self.eta_text()}")

    def heartbeat(self) -> None:
        """A line for each run being trained now (a live lock): its step and total."""
        from factordiff.experiments.sweep import read_lock

        members = self.planned if self.pooled else [self.current] if self.current else []
        for p in members:
            for i, r in enumerate(p.runs, start=1):
                if r.dir.is_dir() and read_lock(r.dir) is not None:
                    self.log(
                        f"[{p.name}] training run {i}/{len(p.runs)} {r.params}: step "
                        f"{_current_step(r):,}/{self.total[r.key]:,}; {self.eta_text()}"
                    )


def experiment_progress(
    name: str, exp, preset: str, cfg, out: str | Path, *, executor, device=None, log=print
) -> Progress:
    """Progress lines (run i/n, estimated time left) for one ``factordiff experiment``."""
    from factordiff.experiments.sweep import LocalExecutor

    folder = Path(out)
    runs = plan_sweep(folder, exp.runs(cfg), device=device)
    p = Planned(name, exp, preset, cfg, folder, runs)
    parallel = executor.workers if isinstance(executor, LocalExecutor) else 1
    tracker = Progress([p], parallel=parallel, log=log)
    tracker.begin(p)
    return tracker


def run_experiment_with_progress(
    exp,
    preset: str,
    cfg,
    out: str | Path,
    *,
    executor,
    progress: bool = True,
    device: str | None = None,
    heartbeat_seconds: float = 60.0,
    log=print,
    **kwargs,
) -> dict:
    """:func:`run_experiment` of one ``factordiff experiment`` (``exp`` at ``preset``) with
    its progress lines. ``progress``: a line per finished run and one per run in training
    every ``heartbeat_seconds``, each with an estimate of the training time left
    (:func:`experiment_progress`), and the analysis' own lines; without it, a line per failed
    run only. ``kwargs`` go to :func:`run_experiment` (``force``, ``command``,
    ``analysis_workers``). Returns the experiment's summary."""
    if progress:
        tracker = experiment_progress(
            exp.name, exp, preset, cfg, out, executor=executor, device=device, log=log
        )
        on_run_done, heartbeat, every = tracker.on_done, tracker.heartbeat, heartbeat_seconds
    else:  # failures only, no line per finished run

        def on_run_done(run: SweepRun, result: dict | None, error: str | None) -> None:
            if error is not None:
                log(f"  FAILED {run.key} {run.params}: {error}")

        heartbeat, every = None, 0.0
    with _Ticker(heartbeat, every):
        return run_experiment(
            exp,
            cfg,
            out,
            executor=executor,
            device=device,
            log=log,
            on_run_done=on_run_done,
            progress=progress,
            **kwargs,
        )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _Ticker:
    """Calls ``fn`` every ``every`` seconds in a daemon thread until stopped."""

    def __init__(self, fn, every: float) -> None:
        self.fn, self.every = fn, every
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop_event.wait(self.every):
            try:
                self.fn()
            except Exception:  # a progress line must never stop the runs
                pass

    def __enter__(self):
        if self.every > 0:
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join()


# ----------------------------------------------------------------------------- record
def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_record(out: str | Path) -> dict | None:
    """``OUT/reproduce.json`` (None when there is none)."""
    path = Path(out) / RECORD_FILE
    if not path.is_file():
        return None
    return check_record(read_json(path, RECORD_ALLOWED), path)


RECORD_ALLOWED = (
    "a reproduce record as factordiff reproduce writes it (a JSON object with experiments, "
    "each with a name); remove it to start over"
)


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


def _write_record(out: Path, record: dict) -> None:
    from factordiff.training import atomic_write_text

    atomic_write_text(out / RECORD_FILE, json.dumps(record, indent=2) + "\n")


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
    """Run every experiment of ``only`` (default all, in :data:`ORDER`) at ``scale`` into
    ``out`` (default :func:`default_out`), then write ``out/report.html``.

    ``executor``: a LocalExecutor or RayExecutor shared by every sweep (default local).
    ``pool`` (default): when two or more experiments have runs to train, their runs train
    first in one pool on ``executor`` (the longest first, so that a long run trains beside
    short ones instead of alone), then each experiment is analysed in :data:`ORDER`; a run
    that fails there marks its experiment failed (not analysed, not trained again in this
    call). ``pool=False`` trains each experiment's runs in its own sweep, one experiment
    after another.
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
    from factordiff.experiments.html_report import write_report
    from factordiff.experiments.skeleton import check_run_inputs
    from factordiff.experiments.sweep import LocalExecutor, check_executor, make_executor
    from factordiff.hardware import cpu_description

    out = Path(out) if out is not None else default_out(scale)
    executor = executor if executor is not None else make_executor("local")
    planned = plan_reproduce(scale, out, only, device=device)  # bad input: nothing written
    check_writable_folder(out)  # a file in the way: refused as train refuses it
    check_executor(executor)  # an unreachable Ray cluster: nothing written either
    quiet = lambda *_: None  # noqa: E731
    say = log if progress else quiet
    tracker = Progress(
        planned, parallel=executor.workers if isinstance(executor, LocalExecutor) else 1, log=say
    )

    previous = read_record(out) or {}
    entries = {e["name"]: e for e in previous.get("experiments", [])}
    record = {
        "scale": scale,
        "command": command,
        "executor": executor.describe(),
        "cpu": cpu_description(),
        "started": _now(),
        "experiments": [],
        "pools": [dict(pl) for pl in previous.get("pools", [])],
    }
    pools: list[dict] = record["pools"]

    def save() -> None:
        names = [n for n in ORDER if n in entries] + [n for n in entries if n not in ORDER]
        record["experiments"] = [entries[n] for n in names]
        record["updated"] = _now()
        _write_record(out, record)

    def why(p: Planned) -> str | None:
        reason = needs_work(p)
        last = entries.get(p.name, {}).get("status")
        if reason is None and last in ("failed", "interrupted", "running", "training"):
            reason = f"its last attempt is recorded as {last}"
        if reason is None and reanalyse:
            reason = "analysis asked again (reanalyse)"
        return reason

    def base_entry(p: Planned) -> dict[str, Any]:
        return {
            "name": p.name,
            "preset": p.preset,
            "folder": p.name,
            "runs": len(p.runs),
            "to_train": sum(not finished(r) for r in p.runs),
            "total_steps": sum(tracker.total[r.key] for r in p.runs),
            "error": None,
            "traceback": None,
            "time": _now(),
        }

    t_all = time.perf_counter()
    reasons = {p.name: why(p) for p in planned}
    for p in planned:  # the runs of what will be trained or analysed: unreadable, nothing written
        if reasons[p.name] is not None:
            check_run_inputs(p.runs)
    out.mkdir(parents=True, exist_ok=True)
    pool_failed: dict[str, str] = {}  # run folder -> error, of runs that failed in the pool
    trained_in_pool: dict[str, int] = {}
    with _Ticker(tracker.heartbeat, heartbeat_seconds if progress else 0):
        # 1. The runs left to train of every experiment that needs work, in one pool (the
        #    longest first), so that no worker waits for an experiment's last run.
        members = [p for p in planned if reasons[p.name] and any(not finished(r) for r in p.runs)]
        pooled_now = {p.name for p in members} if pool and len(members) > 1 else set()
        # An earlier call's pool is kept unless every experiment of it is pooled again now.
        pools[:] = [pl for pl in pools if not set(pl.get("experiments", [])) <= pooled_now]
        if pooled_now:
            todo: list[SweepRun] = []
            for p in members:
                runs = prepare_experiment(p.exp, p.cfg, p.out, device=device)
                left = [r for r in runs if not finished(r)]
                todo += left
                trained_in_pool[p.name] = len(left)
                entries[p.name] = {**base_entry(p), "status": "training", "wall_seconds": 0.0}
            save()
            tracker.start_pool(trained_in_pool, executor.describe())
            t0 = time.perf_counter()

            def pooled_done(run: SweepRun, result: dict | None, error: str | None) -> None:
                if error is not None:
                    pool_failed[str(run.dir)] = error
                tracker.on_done(run, result, error)

            pool_record: dict[str, Any] = {
                "experiments": [p.name for p in members],
                "runs": len(todo),
                "started": _now(),
            }
            try:
                executor.run(todo, on_done=pooled_done)
            except SweepFailed:
                pass  # each failed run is in pool_failed; its experiment is marked failed
            except Exception as exc:  # the executor itself failed: nothing can be analysed
                error = f"{type(exc).__name__}: {exc}"
                for r in todo:
                    pool_failed.setdefault(str(r.dir), error)
            except BaseException:  # interrupted: say so in the record, then stop
                for p in members:
                    entries[p.name] = {**entries[p.name], "status": "interrupted"}
                pools.append(
                    {**pool_record, "seconds": time.perf_counter() - t0, "interrupted": True}
                )
                save()
                raise
            finally:
                tracker.end_pool()
            pools.append(
                {**pool_record, "seconds": time.perf_counter() - t0, "failed": len(pool_failed)}
            )
            log(
                f"training: {len(todo)} run(s) of {', '.join(p.name for p in members)} in one "
                f"pool ({_duration(pools[-1]['seconds'])}"
                + (f"; {len(pool_failed)} failed)" if pool_failed else ")")
            )
            save()

        # 2. Each experiment: its analysis (and, unpooled, its training) in ORDER.
        for i, p in enumerate(planned, start=1):
            reason = reasons[p.name]
            if p.name in trained_in_pool:
                reason = f"{trained_in_pool[p.name]} run(s) trained in the pool; its analysis"
            tracker.start(p, i, reason)
            entry = base_entry(p)
            if p.name in trained_in_pool:  # runs to train when this call started
                entry["to_train"] = entry["trained_in_pool"] = trained_in_pool[p.name]
            failed_here = [
                f"{r.key} {r.params}: {pool_failed[str(r.dir)]}"
                for r in p.runs
                if str(r.dir) in pool_failed
            ]
            t0 = time.perf_counter()
            if reason is None:
                entry["status"] = "up to date"
                # The time it took when it ran (its summary's), not this call's check.
                entry["wall_seconds"] = _summary_wall_seconds(p.out)
            elif failed_here:  # not trained again in this call: rerun to retry
                entry["status"] = "failed"
                entry["error"] = (
                    f"{len(failed_here)} run(s) failed in the shared training: "
                    + "; ".join(failed_here)
                )
            else:
                entries[p.name] = {**entry, "status": "running", "wall_seconds": 0.0}
                save()
                try:
                    analyse_planned(
                        p, executor, command, device, say, tracker, progress, analysis_workers
                    )
                    entry["status"] = "done"
                except Exception as exc:  # one experiment failing must not stop the others
                    entry["status"] = "failed"
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                    entry["traceback"] = traceback.format_exc()
                except BaseException:  # interrupted: say so in the record, then stop
                    entries[p.name] = {
                        **entry,
                        "status": "interrupted",
                        "wall_seconds": time.perf_counter() - t0,
                    }
                    save()
                    raise
            entry["call_seconds"] = time.perf_counter() - t0
            entry.setdefault("wall_seconds", entry["call_seconds"])
            entries[p.name] = entry
            save()
            took = _duration(entry["wall_seconds"])
            line = f"{p.name}: {entry['status']} ({took}" + (
                " when it ran)" if entry["status"] == "up to date" else ")"
            )
            log(line + (f": {entry['error']}" if entry["error"] else ""))

    record["call_seconds"] = time.perf_counter() - t_all
    # The time the page's content took: every listed experiment's own wall time, summed,
    # plus the shared trainings of the pools (where the experiments' runs trained together).
    record["wall_seconds"] = float(
        sum(float(e.get("wall_seconds") or 0.0) for e in entries.values())
        + sum(float(pl.get("seconds") or 0.0) for pl in pools)
    )
    save()  # the page reads the record
    page = write_report(out, force=True)  # the page of what this call left, whatever it held
    record["page"] = str(page)
    save()
    # failures of this call (an experiment left out by ``only`` keeps its old entry)
    record["failed"] = [p.name for p in planned if entries[p.name]["status"] == "failed"]
    return record


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
