"""Executors: what trains the runs of a sweep, on this machine or on a Ray cluster.

An executor's ``run(runs, force, on_done)`` trains the runs given (each by
:func:`~factordiff.experiments.run_task.train_run`, in its folder), the costliest first
(:func:`longest_first`), calls ``on_done(run, result, error)`` as each ends and raises
:class:`SweepFailed` naming the runs that failed. Results pass only through the run folders,
so a run finished by one executor counts for every other.

- :class:`LocalExecutor` (the default): worker processes x torch threads per worker.
- :class:`RayExecutor` (``pip install "factordiff[ray]"``): each run a Ray task. Ray is
  imported only when this executor checks its cluster or runs, never at import.

:func:`make_executor` builds either from command-line style options. Split from
:mod:`factordiff.experiments.sweep`, which re-exports these names.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from factordiff.config import RunConfig, to_dict
from factordiff.experiments.run_task import _record_lost_worker, train_run
from factordiff.hardware import set_thread_budget
from factordiff.migrate import stamp

if TYPE_CHECKING:
    from factordiff.experiments.sweep import SweepRun

# Measured by benchmarks/sweep_throughput.py on the 2-core machine (docs/sweeps.md).
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 1


class SweepFailed(RuntimeError):
    """One or more runs of a sweep failed; each error is in its run folder's failure.json."""


Task = Callable[..., dict]
OnDone = Callable[["SweepRun", dict | None, str | None], None]


def _raise_failures(failures: list[tuple[SweepRun, str]]) -> None:
    if failures:
        lines = "; ".join(f"{r.params} ({r.dir}): {err}" for r, err in failures)
        raise SweepFailed(f"{len(failures)} run(s) failed: {lines}")


def _set_threads(threads: int) -> None:
    """A training worker's initializer: its thread budget, and it ends with the sweep."""
    from factordiff.experiments.orphans import exit_with_parent

    exit_with_parent()
    if threads > 0:
        set_thread_budget(threads)


def run_budget(run: SweepRun) -> tuple[int, int]:
    """``(images in the run's dataset, optimizer steps of its budget)``."""
    from factordiff.data import build_labels
    from factordiff.training import training_budget

    cfg = run.config
    n = len(build_labels(cfg.data, seed=cfg.seed).labels)
    return n, training_budget(cfg.train, n)[2]


def step_weight(run: SweepRun, images: int) -> int:
    """Relative cost of one optimizer step of ``run`` on a dataset of ``images``: images per
    step (the batch, or the whole dataset when it is smaller) x image pixels."""
    return min(run.config.train.batch_size, images) * run.config.data.image_size**2


def run_cost(run: SweepRun) -> float:
    """A relative cost of training ``run``: optimizer steps x :func:`step_weight`."""
    images, steps = run_budget(run)
    return float(steps) * step_weight(run, images)


def longest_first(runs: list[SweepRun]) -> list[SweepRun]:
    """``runs`` by :func:`run_cost`, largest first (ties keep their order): with several
    workers the cheap runs fill the last round instead of one long run training alone."""
    return sorted(runs, key=run_cost, reverse=True)


@dataclass
class LocalExecutor:
    """Runs a sweep on this machine: ``workers`` processes (spawned: a script that calls it
    needs the usual ``if __name__ == "__main__":`` guard), ``threads`` torch threads in
    each. With fewer runs to train than workers, the idle workers' threads go to the runs
    that train (one run alone trains in this process, with no start-up cost)."""

    workers: int = DEFAULT_WORKERS
    threads: int = DEFAULT_THREADS
    task: Task = train_run  # the function run per run (tests swap in one that crashes)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers = {self.workers} is invalid; allowed: an integer >= 1")
        if self.threads < 0:
            raise ValueError(f"threads = {self.threads} is invalid; allowed: an integer >= 0")

    def describe(self) -> str:
        return f"local, {self.workers} worker(s) x {self.threads} thread(s)"

    def run(self, runs: list[SweepRun], force: bool = False, on_done: OnDone | None = None):
        runs = longest_first(runs)
        failures: list[tuple[SweepRun, str]] = []

        def done(r: SweepRun, result: dict | None, error: str | None) -> None:
            if error is not None:
                failures.append((r, error))
            if on_done is not None:
                on_done(r, result, error)

        workers = max(1, min(self.workers, len(runs)))
        threads = self.threads * self.workers // workers  # spare workers' cores, not idle
        if workers == 1:
            self._run_here(runs, threads, force, done)
        else:
            self._run_pool(runs, workers, threads, force, done)
        _raise_failures(failures)

    def _run_here(self, runs: list[SweepRun], threads: int, force: bool, done: OnDone) -> None:
        """One worker: the runs one after another in this process (no start-up cost), with
        torch's thread count put back afterwards."""
        import torch

        before = torch.get_num_threads()
        try:
            for r in runs:
                try:
                    done(r, self.task(stamp(to_dict(r.config)), str(r.dir), threads, force), None)
                except Exception as exc:  # recorded in failure.json by the task
                    done(r, None, f"{type(exc).__name__}: {exc}")
        finally:
            set_thread_budget(None)
            torch.set_num_threads(before)

    def _run_pool(
        self, runs: list[SweepRun], workers: int, threads: int, force: bool, done: OnDone
    ) -> None:
        """Several workers: spawned processes, each run a task; a worker that dies fails its
        run with a record in the run folder."""
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        ctx = mp.get_context("spawn")  # fork after torch has started threads is unsafe
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_set_threads,
            initargs=(threads,),
        ) as pool:
            futures = {
                pool.submit(self.task, stamp(to_dict(r.config)), str(r.dir), threads, force): r
                for r in runs
            }
            for fut in as_completed(futures):
                r = futures[fut]
                try:
                    done(r, fut.result(), None)
                except BrokenProcessPool:
                    msg = "worker process died (killed or out of memory); rerun to resume"
                    _record_lost_worker(r.dir, msg)
                    done(r, None, msg)
                except Exception as exc:
                    done(r, None, f"{type(exc).__name__}: {exc}")


@dataclass
class RayExecutor:
    """Runs each run of a sweep as a Ray task (``pip install "factordiff[ray]"``).

    A task asks for the CPUs (``threads``, or the config's ``train.num_threads``) and GPUs
    (1 when the config's device is ``cuda...``) its config names. ``address`` joins an
    existing cluster (``ray start --head`` / ``"auto"``); :meth:`check` (called by every
    entry point before it writes) refuses one that does not answer within
    :data:`RAY_CONNECT_TIMEOUT` seconds. Without it Ray starts locally with
    ``num_cpus`` CPUs (default: all). A task whose worker dies is retried up to
    ``max_retries`` times, resuming from the run folder's last checkpoint; a finished run is
    skipped, so nothing is trained twice. The sweep folder must be visible to every node."""

    address: str | None = None
    threads: int = 1
    max_retries: int = 3
    num_cpus: int | None = None
    task: Task = train_run

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"threads = {self.threads} is invalid; allowed: an integer >= 1")
        if self.max_retries < 0:
            raise ValueError(f"max_retries = {self.max_retries} is invalid; allowed: >= 0")

    def describe(self) -> str:
        where = f"cluster at {self.address}" if self.address else "local Ray"
        return f"ray ({where}), {self.threads} CPU(s) per run"

    def resources(self, cfg: RunConfig) -> dict:
        gpus = 1 if cfg.device.startswith("cuda") else 0
        return {"num_cpus": cfg.train.num_threads or self.threads, "num_gpus": gpus}

    def check(self) -> None:
        """Ray is installed and ``address`` (when given) answers within
        :data:`RAY_CONNECT_TIMEOUT` seconds; else a ValueError saying what is allowed. Called
        before anything is written (``run_experiment``, ``reproduce``, ``run_variants``): an
        unreachable cluster then fails at once and leaves no files, where ``ray.init`` would
        wait for it without end."""
        _import_ray()
        if self.address:
            check_ray_address(self.address)

    def _start_ray(self, ray) -> bool:
        """Join ``address``, or start Ray on this machine, unless Ray is running in this
        process already; whether it started here (and so is shut down after the sweep)."""
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address:
            kwargs["address"] = self.address
        else:
            kwargs["num_cpus"] = self.num_cpus
            # local workers import factordiff the way this process did
            path = os.environ.get("PYTHONPATH")
            if path:
                kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}
        ray.init(**kwargs)
        return True

    def run(self, runs: list[SweepRun], force: bool = False, on_done: OnDone | None = None):
        runs = longest_first(runs)
        ray = _import_ray()
        started = self._start_ray(ray)
        failures: list[tuple[SweepRun, str]] = []
        try:
            remote = ray.remote(max_retries=self.max_retries)(self.task)
            refs = {
                remote.options(**self.resources(r.config)).remote(
                    stamp(to_dict(r.config)),
                    str(r.dir),
                    self.resources(r.config)["num_cpus"],
                    force,
                ): r
                for r in runs
            }
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    r = refs[ref]
                    try:
                        result, error = ray.get(ref), None
                    except ray.exceptions.RayTaskError as exc:  # raised inside train_run
                        result, error = None, str(exc.cause if exc.cause else exc).splitlines()[0]
                    except ray.exceptions.RayError as exc:  # worker died, retries spent
                        result, error = None, f"{type(exc).__name__}: worker lost after retries"
                        _record_lost_worker(r.dir, error)
                    if error is not None:
                        failures.append((r, error))
                    if on_done is not None:
                        on_done(r, result, error)
        finally:
            if started:
                ray.shutdown()
        _raise_failures(failures)


#: Seconds :meth:`RayExecutor.check` waits for a cluster's address to answer.
RAY_CONNECT_TIMEOUT = 5.0
RAY_ADDRESS_ALLOWED = (
    "allowed: the address of a running Ray cluster (HOST:PORT as `ray start --head` prints "
    "it, ray://HOST:PORT or auto), or no --address for Ray on this machine"
)


def _import_ray():
    try:
        import ray
    except ImportError as e:
        raise ValueError(
            'executor = "ray" needs Ray, which is not installed; allowed: pip install '
            '"factordiff[ray]", or --executor local'
        ) from e
    return ray


def check_ray_address(address: str, timeout: float = RAY_CONNECT_TIMEOUT) -> None:
    """A TCP connection to the Ray cluster at ``address`` (``HOST:PORT``,
    ``ray://HOST:PORT`` or ``auto``) opens within ``timeout`` seconds, else a ValueError
    naming the address and what is allowed."""
    target = address.strip()
    if target == "auto":
        try:  # the address `ray start` recorded (or RAY_ADDRESS), as ray.init would find it
            from ray._private.services import canonicalize_bootstrap_address_or_die

            target = canonicalize_bootstrap_address_or_die("auto")
        except (ImportError, AttributeError):  # another Ray version: ray.init decides
            return
        except Exception as e:  # noqa: BLE001 - Ray's ConnectionError: no cluster found
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ValueError(
                f"--address 'auto' finds no running Ray cluster ({reason}); " + RAY_ADDRESS_ALLOWED
            ) from None
    hostport = target.removeprefix("ray://").rstrip("/")
    host, sep, port = hostport.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--address {address!r} is invalid; " + RAY_ADDRESS_ALLOWED)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except TimeoutError:
        raise ValueError(
            f"--address {address!r}: no Ray cluster answers there (no reply within "
            f"{timeout:g} s); " + RAY_ADDRESS_ALLOWED
        ) from None
    except OSError as e:
        reason = e.strerror or str(e) or type(e).__name__
        raise ValueError(
            f"--address {address!r}: no Ray cluster answers there ({reason}); "
            + RAY_ADDRESS_ALLOWED
        ) from None


def check_executor(executor) -> None:
    """Reach ``executor`` before anything is written (a Ray cluster's address; nothing for
    the local executor or one without a ``check`` method)."""
    check = getattr(executor, "check", None)
    if callable(check):
        check()


def make_executor(
    name: str = "local",
    *,
    workers: int | None = None,
    threads: int | None = None,
    address: str | None = None,
    max_retries: int | None = None,
):
    """``local`` (default) or ``ray``, from command-line style options (None: not given).

    ``max_retries`` (default 3) is Ray's: the local executor does not retry a run (rerun the
    command to resume it), so giving it there is refused, as is an option of the other
    executor or a count below its minimum."""
    if threads is not None and threads < 1:
        raise ValueError(
            f"--threads {threads} is invalid; allowed: an integer >= 1 (torch threads per "
            "local worker, CPUs per Ray task)"
        )
    if max_retries is not None and max_retries < 0:
        raise ValueError(
            f"--max-retries {max_retries} is invalid; allowed: an integer >= 0 (with "
            "--executor ray)"
        )
    if name == "local":
        if address is not None:
            raise ValueError("--address is for --executor ray; the local executor has none")
        if max_retries is not None:
            raise ValueError(
                f"--max-retries {max_retries} is for --executor ray; the local executor does "
                "not retry a failed run (rerun the command to resume it)"
            )
        return LocalExecutor(
            workers=DEFAULT_WORKERS if workers is None else workers,
            threads=DEFAULT_THREADS if threads is None else threads,
        )
    if name == "ray":
        if workers is not None:
            raise ValueError(
                "--workers is for --executor local; with ray, each run is a task and Ray "
                "runs as many at once as the cluster's CPUs allow"
            )
        return RayExecutor(
            address=address,
            threads=1 if threads is None else threads,
            max_retries=3 if max_retries is None else max_retries,
        )
    raise ValueError(f"executor = {name!r} is invalid; allowed: local, ray")
