"""Sweeps: many training runs in one folder, run by any executor, resumed by any other.

A sweep is a list of :class:`RunConfig`. Each run lives in a folder named by a short hash of
its config without the device (:func:`run_key`), so rerunning a sweep skips finished runs,
resumes unfinished ones from their ``checkpoints/latest.pt``, and a changed config is a new
folder, never a silent overwrite. Results pass only through these files, so a run finished
by one executor counts for every other. Layout::

    SWEEP/sweep.json                  the runs: key, the parameters that vary, config
    SWEEP/runs/<key>/                 a training run folder (see factordiff.training)
    SWEEP/runs/<key>/running.json     while a process trains it: pid, host, start time
    SWEEP/runs/<key>/failure.json     the error of its last failed attempt (removed on retry)

Executors: :class:`LocalExecutor` (worker processes x threads per worker, the default) and
:class:`RayExecutor` (``pip install "factordiff[ray]"``; each run a Ray task).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from factordiff.config import RunConfig, from_dict, to_dict
from factordiff.hardware import set_thread_budget
from factordiff.jsonfiles import expect, expect_object, is_type, read_object
from factordiff.migrate import key_dict, stamp

SWEEP_FILE = "sweep.json"
RUNS_DIR = "runs"
LOCK_FILE = "running.json"
FAILURE_FILE = "failure.json"
KEY_LENGTH = 12  # hex digits of sha256: collisions are negligible for any sweep we run
SWEEP_ALLOWED = (
    'a sweep as factordiff writes it: a JSON object with "runs", a list of '
    '{"key", "params", "config"}; run the experiment again to write it'
)
FAILURE_ALLOWED = (
    'a failure record as factordiff writes it: a JSON object with "error" (a string); '
    "delete it to mark the run pending"
)

# Measured by benchmarks/sweep_throughput.py on the 2-core machine (docs/sweeps.md).
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 1


class SweepFailed(RuntimeError):
    """One or more runs of a sweep failed; each error is in its run folder's failure.json."""


# ----------------------------------------------------------------------------- run folders
def run_key(cfg: RunConfig) -> str:
    """A short, stable hash of what a run computes: its config without the device.

    A field a migration added (:data:`factordiff.migrate.MIGRATIONS`) is left out while it
    holds the value the migration gives old runs, so adding a config field renames no
    existing run folder and rerunning an earlier sweep's command resumes it."""
    data = to_dict(cfg)
    data.pop("device", None)
    data = key_dict(data, type(cfg).__name__)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


@dataclass
class SweepRun:
    """One run of a sweep: the parameters that set it apart (e.g. ``{"seed": 1}``), its
    config and its folder ``SWEEP/runs/<key>``."""

    params: dict[str, Any]
    config: RunConfig
    root: Path
    key: str = field(init=False)

    def __post_init__(self) -> None:
        self.key = run_key(self.config)

    @property
    def dir(self) -> Path:
        return Path(self.root) / RUNS_DIR / self.key


def plan_sweep(
    root: str | Path, runs: list[tuple[dict[str, Any], RunConfig]], device: str | None = None
) -> list[SweepRun]:
    """Validate every run config (before anything trains) and place each in its folder.

    ``device`` replaces each config's device (it is not part of a run's identity). Two runs
    with the same config are refused: they would share one folder."""
    from factordiff.data import build_labels
    from factordiff.training import training_budget

    planned = []
    for params, cfg in runs:
        if device is not None:
            cfg = replace(cfg, device=device)
        cfg.validate()
        for section in (cfg.data, cfg.model, cfg.diffusion, cfg.train, cfg.eval):
            section.validate()
        # the epoch count of a step budget depends on the dataset size: check it now
        n = len(build_labels(cfg.data, seed=cfg.seed).labels)
        _, epochs, _ = training_budget(cfg.train, n)
        late = [e for e in cfg.train.checkpoint_epochs if e > epochs]
        if late:
            raise ValueError(
                f"train.checkpoint_epochs = {list(cfg.train.checkpoint_epochs)} is invalid for "
                f"run {params}; allowed: epochs in [0, {epochs}] (its budget on {n} images)"
            )
        planned.append(SweepRun(dict(params), cfg, Path(root)))
    keys = [r.key for r in planned]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        same = [r.params for r in planned if r.key in dupes]
        raise ValueError(f"runs {same} have the same config (key {dupes[0]}); make them differ")
    return planned


def write_sweep(root: str | Path, runs: list[SweepRun], meta: dict | None = None) -> Path:
    """``SWEEP/sweep.json``: the runs, so that ``factordiff sweep status`` can read them."""
    from factordiff.training import atomic_write_text

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    doc = {
        **(meta or {}),
        "runs": [
            {"key": r.key, "params": r.params, "config": stamp(to_dict(r.config))} for r in runs
        ],
    }
    atomic_write_text(root / SWEEP_FILE, json.dumps(doc, indent=2) + "\n")
    return root / SWEEP_FILE


def read_sweep(root: str | Path) -> list[SweepRun]:
    """The runs listed in ``SWEEP/sweep.json``."""
    path = Path(root) / SWEEP_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{root} has no {SWEEP_FILE}: is it a sweep folder?")
    doc = read_object(path, SWEEP_ALLOWED, required={"runs": list})
    runs = []
    for i, r in enumerate(doc["runs"]):
        expect_object(
            r, path, f"runs[{i}]", SWEEP_ALLOWED, required={"params": dict, "config": dict}
        )
        expect(r.get("key", ""), str, path, f"runs[{i}].key")
        try:
            cfg = from_dict(RunConfig, r["config"])
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path}: runs[{i}].config: {e}") from None
        runs.append(SweepRun(r["params"], cfg, Path(root)))
    return runs


# ----------------------------------------------------------------------------- one run
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def read_lock(run_dir: Path) -> dict | None:
    """The ``running.json`` of a run if a live process holds it, else None.

    A lock from this host whose process is gone (a killed worker) is stale and ignored; a
    lock from another host is trusted (we cannot see its processes)."""
    path = Path(run_dir) / LOCK_FILE
    # Deliberately tolerant, unlike every other reader (factordiff.jsonfiles): the lock
    # comes and goes as workers start and stop (gone between a look and a read), and one
    # that is not {"pid": int, "host": str, ...} guards nothing, so it counts as no lock.
    try:
        lock = json.loads(path.read_text())
    except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(lock, dict) or not is_type(lock.get("pid"), int):
        return None
    if lock.get("host") == socket.gethostname() and not _pid_alive(lock["pid"]):
        return None
    return lock


def _take_lock(run_dir: Path) -> None:
    path = run_dir / LOCK_FILE
    held = read_lock(run_dir)
    if held is not None and held.get("pid") != os.getpid():
        raise RuntimeError(
            f"{run_dir} is being trained by pid {held['pid']} on {held['host']} "
            f"(since {held['started']}); wait for it or remove {path} if that process is gone"
        )
    lock = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
    tmp = path.with_name(f"{LOCK_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(lock))
    os.replace(tmp, path)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def train_run(config: dict, run_dir: str, threads: int = 0, force: bool = False) -> dict:
    """Train (or resume, or skip when finished) one run of a sweep. The task of every executor.

    ``config`` is a RunConfig as a plain dict (cheap to send to another process),
    ``threads`` > 0 sets torch's intra-op threads in this process. A failure is written to
    ``run_dir/failure.json`` (error and traceback) and raised again. Returns
    ``{"key", "status": "finished" | "skipped", "step", "seconds"}``."""

    from factordiff.training import run_state, train

    cfg = from_dict(RunConfig, config)
    run_dir_p = Path(run_dir)
    run_dir_p.mkdir(parents=True, exist_ok=True)
    state = run_state(run_dir_p) or {}
    if state.get("finished") and not force:
        return {"key": run_dir_p.name, "status": "skipped", "step": state.get("step"), "seconds": 0}
    if threads > 0:
        set_thread_budget(threads)  # the worker's share of the cores, for num_threads = 0
    t0 = time.perf_counter()
    _take_lock(run_dir_p)
    (run_dir_p / FAILURE_FILE).unlink(missing_ok=True)
    try:
        result = train(cfg, run_dir_p, force=force, progress=False)
    except BaseException as exc:
        from factordiff.training import atomic_write_text

        atomic_write_text(
            run_dir_p / FAILURE_FILE,
            json.dumps(
                {
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(),
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "time": _now(),
                },
                indent=2,
            )
            + "\n",
        )
        raise
    finally:
        (run_dir_p / LOCK_FILE).unlink(missing_ok=True)
    return {
        "key": run_dir_p.name,
        "status": "finished",
        "step": result.step,
        "seconds": time.perf_counter() - t0,
    }


def _record_lost_worker(run_dir: Path, message: str) -> None:
    """A worker that died wrote nothing: record why in the run folder for `sweep status`."""
    from factordiff.training import atomic_write_text

    run_dir.mkdir(parents=True, exist_ok=True)  # the worker may have died before starting it
    if not (run_dir / FAILURE_FILE).is_file():
        atomic_write_text(
            run_dir / FAILURE_FILE,
            json.dumps({"error": message, "time": _now()}, indent=2) + "\n",
        )


# ----------------------------------------------------------------------------- executors
Task = Callable[..., dict]
OnDone = Callable[[SweepRun, dict | None, str | None], None]


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
    needs the usual ``if __name__ == "__main__":`` guard), ``threads`` torch threads in each. With fewer runs to train than workers, the idle workers' threads go to
    the runs that train (one run alone trains in this process, with no start-up cost)."""

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
            import torch

            before = torch.get_num_threads()
            try:
                for r in runs:
                    try:
                        done(
                            r, self.task(stamp(to_dict(r.config)), str(r.dir), threads, force), None
                        )
                    except Exception as exc:  # recorded in failure.json by the task
                        done(r, None, f"{type(exc).__name__}: {exc}")
            finally:
                set_thread_budget(None)
                torch.set_num_threads(before)
            _raise_failures(failures)
            return

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
        _raise_failures(failures)


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

    def run(self, runs: list[SweepRun], force: bool = False, on_done: OnDone | None = None):
        runs = longest_first(runs)
        ray = _import_ray()
        started = False
        if not ray.is_initialized():
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
            started = True
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


# ----------------------------------------------------------------------------- status
def run_status(run: SweepRun) -> dict:
    """``{"key", "params", "status", "step", "total_steps", "error"}`` of one run, from its
    files. ``status``: done | running | failed | pending (never started or interrupted)."""
    from factordiff.data import build_labels
    from factordiff.training import run_state, training_budget

    d = run.dir
    state = run_state(d) or {}
    cfg = run.config
    n = len(build_labels(cfg.data, seed=cfg.seed).labels)
    total = training_budget(cfg.train, n)[2]
    out = {
        "key": run.key,
        "params": run.params,
        "step": int(state.get("step", 0)),
        "total_steps": total,
        "error": None,
    }
    if state.get("finished"):
        out["status"] = "done"
    elif read_lock(d) is not None:
        out["status"] = "running"
    elif (d / FAILURE_FILE).is_file():
        out["status"] = "failed"
        failure = read_object(d / FAILURE_FILE, FAILURE_ALLOWED, optional={"error": str})
        out["error"] = failure.get("error")
    else:
        out["status"] = "pending"
    return out


def sweep_status(root: str | Path) -> dict:
    """Counts of done / running / failed / pending runs, each run's status, and the optimizer
    steps left to train (the step at the last checkpoint counts as done)."""
    runs = [run_status(r) for r in read_sweep(root)]
    counts = {
        s: sum(r["status"] == s for r in runs) for s in ("done", "running", "failed", "pending")
    }
    remaining = sum(max(0, r["total_steps"] - r["step"]) for r in runs if r["status"] != "done")
    return {
        "sweep": str(Path(root).resolve()),
        "runs": runs,
        "counts": counts,
        "remaining_steps": remaining,
        "total_steps": sum(r["total_steps"] for r in runs),
    }
