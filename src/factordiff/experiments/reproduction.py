"""The steps of one ``factordiff reproduce`` call (:class:`Reproduction`), run in turn by
:func:`factordiff.experiments.reproduce.reproduce`:

1. ``prepare``: why each experiment runs (:func:`~factordiff.experiments.uptodate.
   reason_to_run`; None: up to date, skipped); the run files of those that run are read,
   so that a garbled one stops the call before anything is written;
2. ``train_in_pool``: the runs left to train of two or more experiments in one pool on the
   executor (the longest first); a run failing there fails its experiment only;
3. ``run_one`` per experiment, in order: skipped, failed (a run failed in the pool), or run
   (its analysis, and unpooled its training); one failing does not stop the others;
4. ``finish``: the record's times, the page (``report.html``) and the failed experiments.

After each step the record (``reproduce.json``, :mod:`factordiff.experiments.record`) is
written again, so an interrupted call leaves it saying where it stopped.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from factordiff.experiments.html_report import write_report
from factordiff.experiments.planning import Planned
from factordiff.experiments.progress import Progress, duration
from factordiff.experiments.record import now, read_record, write_record
from factordiff.experiments.registry import experiment_names
from factordiff.experiments.skeleton import check_run_inputs, finished, prepare_experiment
from factordiff.experiments.sweep import LocalExecutor, SweepFailed, SweepRun
from factordiff.experiments.uptodate import reason_to_run, summary_wall_seconds


class Reproduction:
    """One reproduce call: its plan, its record (``reproduce.json``), each experiment's
    entry in it, and the progress lines; a method per step. ``analyse`` runs one planned
    experiment (``reproduce.analyse_planned``: ``run_experiment`` with its lines prefixed)."""

    def __init__(
        self,
        out: Path,
        planned: list[Planned],
        executor,
        *,
        scale: str,
        command: str,
        device: str | None,
        log,
        progress: bool,
        analysis_workers: int,
        analyse: Callable[..., Any],
    ) -> None:
        from factordiff.hardware import cpu_description

        self.out, self.planned, self.executor = out, planned, executor
        self.command, self.device, self.log = command, device, log
        self.progress, self.analysis_workers = progress, analysis_workers
        self.analyse = analyse
        self.say = log if progress else (lambda *_: None)
        parallel = executor.workers if isinstance(executor, LocalExecutor) else 1
        self.tracker = Progress(planned, parallel=parallel, log=self.say)
        previous = read_record(out) or {}
        self.entries = {e["name"]: e for e in previous.get("experiments", [])}
        self.record: dict[str, Any] = {
            "scale": scale,
            "command": command,
            "executor": executor.describe(),
            "cpu": cpu_description(),
            "started": now(),
            "experiments": [],
            "pools": [dict(pl) for pl in previous.get("pools", [])],
        }
        self.pools: list[dict] = self.record["pools"]
        self.reasons: dict[str, str | None] = {}
        self.pool_failed: dict[str, str] = {}  # run folder -> error, of runs failed in the pool
        self.trained_in_pool: dict[str, int] = {}
        self.t_all = time.perf_counter()

    def save(self) -> None:
        """Write the record with every entry, the registered experiments' first."""
        order = experiment_names()
        names = [n for n in order if n in self.entries]
        names += [n for n in self.entries if n not in order]
        self.record["experiments"] = [self.entries[n] for n in names]
        self.record["updated"] = now()
        write_record(self.out, self.record)

    def base_entry(self, p: Planned) -> dict[str, Any]:
        """Experiment ``p``'s entry in the record before its status is known."""
        return {
            "name": p.name,
            "preset": p.preset,
            "folder": p.name,
            "runs": len(p.runs),
            "to_train": sum(not finished(r) for r in p.runs),
            "total_steps": sum(self.tracker.total[r.key] for r in p.runs),
            "error": None,
            "traceback": None,
            "time": now(),
        }

    def prepare(self, reanalyse: bool) -> None:
        """Step 1: why each experiment runs (None: up to date); the run files of those that
        run are read (a garbled one stops the call before anything is written); ``out`` is
        made."""
        self.t_all = time.perf_counter()
        for p in self.planned:
            last = self.entries.get(p.name, {}).get("status")
            self.reasons[p.name] = reason_to_run(p, last, reanalyse)
        for p in self.planned:
            if self.reasons[p.name] is not None:
                check_run_inputs(p.runs)
        self.out.mkdir(parents=True, exist_ok=True)

    def train_in_pool(self, pool: bool) -> None:
        """Step 2: the runs left to train of every experiment that needs work, in one pool
        (the longest first), so that no worker waits for an experiment's last run; only
        with ``pool`` and two or more such experiments."""
        members = [
            p for p in self.planned if self.reasons[p.name] and any(not finished(r) for r in p.runs)
        ]
        pooled_now = {p.name for p in members} if pool and len(members) > 1 else set()
        # An earlier call's pool is kept unless every experiment of it is pooled again now.
        self.pools[:] = [
            pl for pl in self.pools if not set(pl.get("experiments", [])) <= pooled_now
        ]
        if not pooled_now:
            return
        todo: list[SweepRun] = []
        for p in members:
            runs = prepare_experiment(p.exp, p.cfg, p.out, device=self.device)
            left = [r for r in runs if not finished(r)]
            todo += left
            self.trained_in_pool[p.name] = len(left)
            self.entries[p.name] = {**self.base_entry(p), "status": "training", "wall_seconds": 0.0}
        self.save()
        self.tracker.start_pool(self.trained_in_pool, self.executor.describe())
        self._run_pool(members, todo)

    def _run_pool(self, members: list[Planned], todo: list[SweepRun]) -> None:
        """Train ``todo`` on the executor; each failed run goes in ``pool_failed``; the pool
        is recorded (interrupted: recorded as such, then the interrupt goes on)."""
        t0 = time.perf_counter()

        def pooled_done(run: SweepRun, result: dict | None, error: str | None) -> None:
            if error is not None:
                self.pool_failed[str(run.dir)] = error
            self.tracker.on_done(run, result, error)

        pool_record: dict[str, Any] = {
            "experiments": [p.name for p in members],
            "runs": len(todo),
            "started": now(),
        }
        try:
            self.executor.run(todo, on_done=pooled_done)
        except SweepFailed:
            pass  # each failed run is in pool_failed; its experiment is marked failed
        except Exception as exc:  # the executor itself failed: nothing can be analysed
            error = f"{type(exc).__name__}: {exc}"
            for r in todo:
                self.pool_failed.setdefault(str(r.dir), error)
        except BaseException:  # interrupted: say so in the record, then stop
            for p in members:
                self.entries[p.name] = {**self.entries[p.name], "status": "interrupted"}
            seconds = time.perf_counter() - t0
            self.pools.append({**pool_record, "seconds": seconds, "interrupted": True})
            self.save()
            raise
        finally:
            self.tracker.end_pool()
        failed = len(self.pool_failed)
        self.pools.append({**pool_record, "seconds": time.perf_counter() - t0, "failed": failed})
        self.log(
            f"training: {len(todo)} run(s) of {', '.join(p.name for p in members)} in one "
            f"pool ({duration(self.pools[-1]['seconds'])}"
            + (f"; {failed} failed)" if failed else ")")
        )
        self.save()

    def run_one(self, index: int, p: Planned) -> None:
        """Step 3, for experiment ``p`` (the ``index``-th): skipped when up to date, failed
        when a run of it failed in the pool, else run (its analysis, and unpooled its
        training); its entry saved and one line logged."""
        reason = self.reasons[p.name]
        pooled = self.trained_in_pool.get(p.name)
        if pooled is not None:
            reason = f"{pooled} run(s) trained in the pool; its analysis"
        self.tracker.start(p, index, reason)
        entry = self.base_entry(p)
        if pooled is not None:  # runs to train when this call started
            entry["to_train"] = entry["trained_in_pool"] = pooled
        failed_here = [
            f"{r.key} {r.params}: {self.pool_failed[str(r.dir)]}"
            for r in p.runs
            if str(r.dir) in self.pool_failed
        ]
        t0 = time.perf_counter()
        if reason is None:
            entry["status"] = "up to date"
            # The time it took when it ran (its summary's), not this call's check.
            entry["wall_seconds"] = summary_wall_seconds(p.out)
        elif failed_here:  # not trained again in this call: rerun to retry
            entry["status"] = "failed"
            entry["error"] = (
                f"{len(failed_here)} run(s) failed in the shared training: "
                + "; ".join(failed_here)
            )
        else:
            self._analyse(p, entry, t0)
        entry["call_seconds"] = time.perf_counter() - t0
        entry.setdefault("wall_seconds", entry["call_seconds"])
        self.entries[p.name] = entry
        self.save()
        took = duration(entry["wall_seconds"])
        line = f"{p.name}: {entry['status']} ({took}" + (
            " when it ran)" if entry["status"] == "up to date" else ")"
        )
        self.log(line + (f": {entry['error']}" if entry["error"] else ""))

    def _analyse(self, p: Planned, entry: dict, t0: float) -> None:
        """Run experiment ``p`` (``run_experiment``), its outcome in ``entry``: ``done``, or
        ``failed`` with its error (the others go on); interrupted: recorded, then raised."""
        self.entries[p.name] = {**entry, "status": "running", "wall_seconds": 0.0}
        self.save()
        try:
            self.analyse(
                p,
                self.executor,
                self.command,
                self.device,
                self.say,
                self.tracker,
                self.progress,
                self.analysis_workers,
            )
            entry["status"] = "done"
        except Exception as exc:  # one experiment failing must not stop the others
            entry["status"] = "failed"
            entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["traceback"] = traceback.format_exc()
        except BaseException:  # interrupted: say so in the record, then stop
            seconds = time.perf_counter() - t0
            self.entries[p.name] = {**entry, "status": "interrupted", "wall_seconds": seconds}
            self.save()
            raise

    def finish(self) -> dict:
        """Step 4: the record's times, the page (of what this call left, whatever it holds)
        and the names of this call's failed experiments; returns the record."""
        record = self.record
        record["call_seconds"] = time.perf_counter() - self.t_all
        # The time the page's content took: every listed experiment's own wall time, summed,
        # plus the shared trainings of the pools (where the experiments' runs trained together).
        record["wall_seconds"] = float(
            sum(float(e.get("wall_seconds") or 0.0) for e in self.entries.values())
            + sum(float(pl.get("seconds") or 0.0) for pl in self.pools)
        )
        self.save()  # the page reads the record
        record["page"] = str(write_report(self.out, force=True))
        self.save()
        # failures of this call (an experiment left out by ``only`` keeps its old entry)
        record["failed"] = [
            p.name for p in self.planned if self.entries[p.name]["status"] == "failed"
        ]
        return record


__all__ = ["Reproduction"]
