"""Progress lines of a reproduce or of one ``factordiff experiment``: which experiment and
run, and an estimate of the training time left.

The estimate: the optimizer steps left in the runs not finished, each step weighted by its
batch size x image pixels, times the seconds per weighted step measured on the finished runs
(those of the same experiment when it has any, else all), divided by the local executor's
workers. It is an estimate: analysis time is not included, and the rate changes with the
model, the machine's load and the threads. :class:`Ticker` calls a heartbeat (a line per run
in training) every minute in a thread of its own.
"""

from __future__ import annotations

import threading
from pathlib import Path

from factordiff.experiments.planning import Planned
from factordiff.experiments.skeleton import finished, run_experiment
from factordiff.experiments.sweep import (
    LocalExecutor,
    SweepRun,
    plan_sweep,
    read_lock,
    run_budget,
    step_weight,
)


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
        from factordiff.experiments.results import train_seconds

        per: dict[str, float] = {}
        all_s = all_w = 0.0
        for p in self.planned:
            s = w = 0.0
            for r in p.runs:
                if finished(r):
                    secs = train_seconds(r.dir)
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
            f"{head}; estimated training time left {duration(seconds)} "
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
            f"FAILED ({error})" if error else f"{result['status']} in {duration(result['seconds'])}"
        )
        self.log(f"[{name}] run {done}/{total} {run.key} {run.params} {what}; {self.eta_text()}")

    def heartbeat(self) -> None:
        """A line for each run being trained now (a live lock): its step and total."""
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
    with Ticker(heartbeat, every):
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


def duration(seconds: float | None) -> str:
    """``42 s``, ``12 min`` or ``2.5 h`` (``n/a`` for None)."""
    if seconds is None:
        return "n/a"
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Ticker:
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


__all__ = [
    "Progress",
    "Ticker",
    "duration",
    "experiment_progress",
    "run_experiment_with_progress",
]
