"""The paper's scale on one GPU machine: Experiment 1 (seeds 0, 1, 2) and Experiment 2's main
comparison, trained and analysed there, and one small archive of what a reader needs.

:func:`run_gpu_paper` resolves both experiments (:data:`PLAN`), trains their runs in one pool
on a local executor (the longest first, as ``reproduce`` pools them), analyses each with
:func:`~factordiff.experiments.skeleton.run_experiment` (its runs are finished by then) and
writes ``OUT/exp1/``, ``OUT/exp2/`` (the checkpoints stay there), ``OUT/timings.json``
(seconds per phase, device, versions, command, status) and the archive: a .tar.gz of at most
:data:`MAX_ARCHIVE_BYTES` holding timings.json and, per experiment, summary.json, report.md,
results.csv, experiment.json, figures/*.png, the sensitivity map (map.csv, map.json) and each
run's metrics.jsonl, environment.json (accuracy curve, step times) and failure.json; never
``*.pt`` or ``*.npz``. A call that fails or is interrupted (the device script's time limit)
still writes the archive of what exists, its status in timings.json, then raises.
"""

from __future__ import annotations

import json
import tarfile
import time
from pathlib import Path

SCALES = ("paper", "tiny")
#: Each experiment's (seeds, overrides); None = the preset's seeds. Its preset at a scale is
#: the registry's (``exp1`` / ``exp1-tiny``, ``exp2`` / ``exp2-smoke``). Exp 1's
#: sensitivity map is on (``map_seeds`` keeps its default: the first seed).
PLAN = {
    "exp1": ([0, 1, 2], ["sensitivity_map=true"]),
    "exp2": (None, ['parts=["main"]']),
}
#: Worker processes sharing the one GPU by default. With the paper presets (3 Exp 1 runs of
#: 8,000 steps, 9 Exp 2 runs of 3,000 steps, one batch size), the longest first: 3 workers
#: train Exp 1 while 3 train the Exp 2 runs three after another (9,000 steps), so no worker
#: waits long at the end; several processes also fill the gaps one process leaves on the GPU
#: (kernel launches, the optimizer step, evaluations), and six paper networks at batch 128
#: fit in a fraction of an H100's memory. Not measured yet (docs/fidelity.md).
CUDA_WORKERS = 6
MAX_ARCHIVE_BYTES = 16 * 2**20
ARCHIVE_NAME = "gpu-paper.tar.gz"
ARCHIVE_ROOT = "gpu-paper"  # the one folder every member lies in
TIMINGS_FILE = "timings.json"
EXPERIMENT_FILES = ("summary.json", "report.md", "results.csv", "experiment.json")
RUN_GLOBS = (
    "figures/*.png",
    "runs/*/analysis/map/map.csv",
    "runs/*/analysis/map/map.json",
    "runs/*/metrics.jsonl",
    "runs/*/environment.json",
    "runs/*/failure.json",
)
HEAVY_SUFFIXES = (".pt", ".npz")  # never archived, whatever a pattern matches


def default_out(scale: str) -> Path:
    """``runs/gpu-paper`` (paper) or ``runs/gpu-paper-tiny``."""
    _check_scale(scale)
    return Path("runs") / ("gpu-paper" if scale == "paper" else f"gpu-paper-{scale}")


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale = {scale!r} is invalid; allowed: {', '.join(SCALES)}")


def plan_gpu_paper(scale: str, out: str | Path, device: str | None = None) -> list:
    """Resolve and validate both experiments' configs and sweeps (nothing is written);
    a :class:`~factordiff.experiments.planning.Planned` per experiment."""
    from factordiff.experiments.planning import plan_experiment
    from factordiff.experiments.registry import preset_for

    _check_scale(scale)
    return [
        plan_experiment(
            name, preset_for(name, scale), out, device, seeds=seeds, overrides=overrides
        )
        for name, (seeds, overrides) in PLAN.items()
    ]


def archive_members(out: str | Path) -> list[Path]:
    """The files of ``out`` that go into the archive (see the module docstring)."""
    out = Path(out)
    files = [out / TIMINGS_FILE]
    for name in PLAN:
        files += [out / name / f for f in EXPERIMENT_FILES]
        files += [f for pattern in RUN_GLOBS for f in sorted((out / name).glob(pattern))]
    return [f for f in files if f.is_file() and f.suffix not in HEAVY_SUFFIXES]


def write_archive(out: str | Path, archive: str | Path, max_bytes: int = MAX_ARCHIVE_BYTES) -> dict:
    """Write :func:`archive_members` of ``out`` to ``archive`` (a .tar.gz, members under
    ``gpu-paper/``). Over ``max_bytes`` nothing is left there and a ValueError names the size
    and the biggest members. Returns ``{"path", "bytes", "members"}``."""
    out, archive = Path(out), Path(archive)
    members = archive_members(out)
    part = archive.with_name(archive.name + ".part")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(part, "w:gz") as tar:
        for f in members:
            tar.add(f, arcname=f"{ARCHIVE_ROOT}/{f.relative_to(out).as_posix()}")
    size = part.stat().st_size
    if size > max_bytes:
        part.unlink()
        biggest = sorted(members, key=lambda f: f.stat().st_size, reverse=True)[:5]
        listed = ", ".join(f"{f.relative_to(out)} ({f.stat().st_size:,} bytes)" for f in biggest)
        raise ValueError(
            f"archive {archive} would hold {size:,} bytes (compressed), over the limit of "
            f"{max_bytes:,} bytes; allowed: at most {max_bytes:,}; its biggest members "
            f"(uncompressed): {listed}"
        )
    part.replace(archive)
    return {"path": str(archive), "bytes": size, "members": len(members)}


def run_gpu_paper(
    scale: str = "paper",
    out: str | Path | None = None,
    *,
    device: str = "auto",
    workers: int | None = None,
    archive: str | Path | None = None,
    command: str = "",
    progress: bool = True,
    log=print,
    max_archive_bytes: int = MAX_ARCHIVE_BYTES,
) -> dict:
    """Train and analyse :data:`PLAN` at ``scale`` into ``out`` (default :func:`default_out`),
    then write ``archive`` (default ``OUT/gpu-paper.tar.gz``) and ``OUT/timings.json``.

    ``workers``: local worker processes, also the analysis workers (default on cuda
    :data:`CUDA_WORKERS`, with the cores shared among them; elsewhere the executor's
    default). A bad scale, device, archive name or experiment config is refused before
    anything is written. Returns the timings record: ``{"scale", "device", "gpu", "torch",
    "factordiff", "git_commit", "command", "phases": {phase: seconds}, "total_seconds",
    "status", "error", "archive": {"path", "bytes", "members"}, ...}``."""
    from factordiff.experiments.progress import Progress, Ticker

    dev, out, archive, executor, planned = _plan(scale, out, archive, device, workers)
    say = log if progress else (lambda *_: None)
    tracker = Progress(planned, parallel=executor.workers, log=say)
    record = _timings_record(scale, command, dev, executor, planned)
    plan = "; ".join(
        f"{n} ({e['preset']}) {e['runs']} runs, {e['steps']:,} steps"
        for n, e in record["experiments"].items()
    )
    log(f"gpu-paper, {scale} scale, on {record['machine']} into {out.resolve()}: {plan}")
    t_all = time.perf_counter()
    try:
        with Ticker(tracker.heartbeat, 60.0 if progress else 0):
            _train(planned, executor, device, tracker, record["phases"], log)
            _analyse(planned, executor, command, device, say, tracker, progress, record, log)
        record["status"] = "done"
        _save_timings(record, out, t_all)  # the copy inside the archive: all phases but its own
        t0 = time.perf_counter()
        record["archive"] = write_archive(out, archive, max_archive_bytes)
        record["phases"]["archive"] = time.perf_counter() - t0
    except BaseException as exc:  # what exists still comes back (if it can), then the error
        _pack_what_exists(record, exc, out, archive, max_archive_bytes, t_all, log)
        raise
    _save_timings(record, out, t_all)
    return record


def _plan(scale: str, out, archive, device: str, workers: int | None):
    """The plan step of :func:`run_gpu_paper`: the scale, device and archive name checked,
    the executor made, both experiments planned and the runs already there read; nothing
    is written. Returns ``(device, out, archive, executor, planned)``."""
    from factordiff.experiments.skeleton import check_run_inputs
    from factordiff.experiments.sweep import make_executor
    from factordiff.hardware import usable_cores
    from factordiff.paths import check_writable_folder
    from factordiff.training import resolve_device

    _check_scale(scale)
    dev = resolve_device(device)  # an unknown device, or cuda without a GPU: refused here
    out = Path(out) if out is not None else default_out(scale)
    archive = Path(archive) if archive is not None else out / ARCHIVE_NAME
    if not archive.name.endswith(".tar.gz"):
        raise ValueError(
            f"archive = {str(archive)!r} is invalid; allowed: a path ending in .tar.gz"
        )
    on_gpu = dev.type == "cuda"
    if scale == "paper" and not on_gpu:
        raise ValueError(
            f"scale = 'paper' on device {str(dev)!r} is refused: the paper network at the paper's "
            "budget would take days on a CPU; allowed: --device cuda (a GPU machine), or "
            "--scale tiny (the smoke presets, minutes on a CPU)"
        )
    workers = CUDA_WORKERS if workers is None and on_gpu else workers
    threads = max(1, usable_cores() // max(1, workers)) if on_gpu else None  # 0: refused below
    executor = make_executor("local", workers=workers, threads=threads)
    planned = plan_gpu_paper(scale, out, device=device)
    for folder in (out, archive.parent):
        check_writable_folder(folder)
    for p in planned:  # garbled files of an earlier call: refused, nothing written
        check_run_inputs(p.runs)
    return dev, out, archive, executor, planned


def _timings_record(scale: str, command: str, dev, executor, planned) -> dict:
    """``timings.json`` as it starts: the machine, versions, executor and each experiment's
    runs and optimizer steps; its phases are filled in as they end."""
    import torch

    from factordiff.experiments.sweep import run_budget
    from factordiff.hardware import machine_description
    from factordiff.provenance import provenance

    on_gpu = dev.type == "cuda"
    return {
        "scale": scale,
        "command": command,
        "device": str(dev),
        "machine": machine_description(dev),
        "gpu": torch.cuda.get_device_name(dev) if on_gpu else None,
        **provenance(),  # factordiff, git_commit, torch
        "cuda": torch.version.cuda,
        "executor": executor.describe(),
        "analysis_workers": executor.workers,
        "experiments": {
            p.name: {
                "preset": p.preset,
                "runs": len(p.runs),
                "steps": sum(run_budget(r)[1] for r in p.runs),
            }
            for p in planned
        },
        "phases": {},
        "status": "running",
        "error": None,
    }


def _train(planned, executor, device, tracker, phases: dict, log) -> None:
    """The train step: every run of both experiments in one pool, the longest first."""
    from factordiff.experiments.skeleton import finished, prepare_experiment

    t0 = time.perf_counter()
    todo = {}
    for p in planned:
        runs = prepare_experiment(p.exp, p.cfg, p.out, device=device)
        todo[p.name] = [r for r in runs if not finished(r)]
    tracker.start_pool({n: len(rs) for n, rs in todo.items()}, executor.describe())
    try:
        executor.run([r for rs in todo.values() for r in rs], on_done=tracker.on_done)
    finally:
        tracker.end_pool()
    phases["train"] = time.perf_counter() - t0
    log(f"training: {phases['train']:.0f} s")


def _analyse(planned, executor, command, device, say, tracker, progress, record, log) -> None:
    """The analyse step: each experiment's analysis (its runs are finished: nothing trains
    here), its seconds a phase of ``record``."""
    from factordiff.experiments.reproduce import analyse_planned

    phases = record["phases"]
    for i, p in enumerate(planned, start=1):
        t0 = time.perf_counter()
        tracker.start(p, i, "its analysis")
        analyse_planned(p, executor, command, device, say, tracker, progress, executor.workers)
        phases[p.name] = time.perf_counter() - t0
        log(f"{p.name}: analysed in {phases[p.name]:.0f} s")


def _save_timings(record: dict, out: Path, t_all: float) -> None:
    """``OUT/timings.json``, with the seconds since ``t_all`` as its total."""
    from factordiff.training import atomic_write_text

    record["total_seconds"] = time.perf_counter() - t_all
    atomic_write_text(out / TIMINGS_FILE, json.dumps(record, indent=2) + "\n")


def _pack_what_exists(
    record: dict, exc: BaseException, out: Path, archive: Path, max_bytes: int, t_all, log
) -> None:
    """The pack step after a failure or an interruption: its status and error in
    ``timings.json``, and the archive of what exists (when it fits)."""
    record["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    record["error"] = f"{type(exc).__name__}: {exc}"
    _save_timings(record, out, t_all)
    try:
        record["archive"] = write_archive(out, archive, max_bytes)
        log(f"{record['status']}: wrote the archive of what exists, {archive}")
    except Exception as archive_exc:  # e.g. over the size limit: the error says so
        log(f"{record['status']}; no archive either: {archive_exc}")
    _save_timings(record, out, t_all)
