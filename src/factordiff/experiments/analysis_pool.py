"""The analysis of an experiment's runs (``Experiment.analyse``), serial or in a pool of
spawned worker processes (:func:`analyse_runs`). Re-exported by
:mod:`factordiff.experiments.skeleton`."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

from factordiff.experiments.sweep import SweepRun

if TYPE_CHECKING:
    from factordiff.experiments.skeleton import Experiment


def analyse_runs(
    exp: Experiment, jobs: list, *, workers: int = 1, log=print, progress: bool = False
) -> list[dict]:
    """``exp.analyse(cfg, run, device)`` of every ``(cfg, run)`` in ``jobs``, in order.

    ``workers`` > 1 analyses up to that many runs at once, each in a spawned process with
    an equal share of the cores (an analysis is single-run work: forward passes, then PCA,
    homology and UMAP on the CPU; a sweep's runs are independent). The experiment is looked
    up by name in each process (:func:`~factordiff.experiments.registry.get_experiment`), so
    one registered at runtime must be registered when its module is imported. With
    ``progress``, a line as each run's analysis starts (serial) or is handed out (parallel)
    and as it ends; the experiment's own progress bars only in serial mode (bars of several
    processes would interleave)."""
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
    from factordiff.experiments.registry import experiment_names, get_experiment

    if name not in experiment_names():
        raise ValueError(
            f"experiment {name!r} is not registered in the spawned analysis worker; allowed: "
            "an experiment registered when its module is imported (register_experiment at "
            "the module's top level, as docs/architecture.md 'How to add an experiment' "
            "shows), or analysis_workers = 1"
        )
    return get_experiment(name).analyse(cfg, run, run.config.device)
