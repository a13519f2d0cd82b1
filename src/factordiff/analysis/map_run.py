"""The sensitivity map of a run folder (``factordiff analyze RUN --layers ...``): every rule
on every (layer, t, pooling, n_noise) setting of the selected checkpoints, each judged
against the run's epoch-0 checkpoint (the control). Writes ``OUT/map.json`` and
``OUT/map.csv``, staged in a temporary sibling folder renamed into place at the end.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from factordiff.analysis.activations import ActivationExtractor
from factordiff.analysis.grid import MIN_GRID_SIDE, condition_grid
from factordiff.analysis.run_common import (
    _checked_epoch,
    _parse_checkpoints,
    _parse_grid,
    _run_checkpoints,
    _staged_folder,
)
from factordiff.config import json_ready
from factordiff.paths import check_writable_folder

# The logger of the module analyze_map came from, so its messages are named as before.
log = logging.getLogger("factordiff.analysis.run")


def _int_list(name: str, values: str | int | Sequence[int]) -> list[int]:
    """``"999,500"``, ``5`` or ``[999, 500]`` -> ``[999, 500]``; ``ValueError`` naming the
    bad value otherwise."""
    if isinstance(values, str):
        try:
            out = [int(v) for v in values.split(",") if v.strip()]
        except ValueError:
            out = []
    elif isinstance(values, int | np.integer):
        out = [int(values)]
    else:
        out = list(values)
    if not out or not all(isinstance(v, int | np.integer) for v in out):
        raise ValueError(
            f"{name} = {values!r} is invalid; allowed: one or more integers, e.g. '1,16'"
        )
    return [int(v) for v in out]


def _str_list(values: str | Sequence[str]) -> list[str]:
    if isinstance(values, str):
        return [v.strip() for v in values.split(",") if v.strip()]
    return list(values)


#: Rules of the map by default: the loop rules, and ``b1_is_2`` with persistent homology.
MAP_RULES = ("orthogonal", "parallel", "superfactored")


def analyze_map(
    run_dir: str | Path,
    checkpoints: str | Sequence[int] = "last",
    layers: str | Sequence[str | None] = "all",
    ts: str | Sequence[int] | None = (999, 500, 100, 10),
    poolings: str | Sequence[str] = ("flatten", "mean"),
    n_noises: str | Sequence[int] = (1, 16),
    grid: int | Sequence[int] | None = None,
    out: str | Path | None = None,
    *,
    control: bool = True,
    raw_null: bool = True,
    rules: Sequence = MAP_RULES,
    seed: int = 0,
    batch_size: int = 256,
    device: str = "auto",
    ema: bool = True,
    n_dims: int = 2,
    topology: bool = False,
    homology_step: int = 1,
    progress: bool = False,
) -> dict:
    """Sensitivity map of a run: every rule on every (layer, t, pooling, n_noise) setting of
    the selected checkpoints, each judged against the control (the run's epoch-0 checkpoint,
    the untrained network of the same run) by the control rule, setting by setting.

    Parameters
    ----------
    run_dir : a factordiff run folder.
    checkpoints : ``"last"`` (default), ``"all"`` or epochs, as for :func:`analyze_run`.
    layers : ``"all"`` (every down block, the mid block and every up block:
        ``unet.down_blocks.<i>``, ``unet.mid_block``, ``unet.up_blocks.<i>``) or names
        (a list or ``"a,b"``; ``None`` in a list: the model's default layer).
    ts : timesteps (a list or ``"999,500,100,10"``), each in ``[0, T - 1]`` of the run;
        ``None``: ``T - 1``.
    poolings : ``"flatten"``, ``"mean"`` and / or ``"max"``.
    n_noises : numbers of noise draws averaged (``n_noise`` of :class:`ActivationExtractor`).
    grid, seed, batch_size, device, ema, n_dims : as for :func:`analyze_run`.
    out : output folder; ``None`` = ``run_dir/analysis/map``.
    control : judge against the epoch-0 checkpoint (the run must have one); ``False``
        reports whether the trained model passes, without a control.
    raw_null : read every checkpoint's map against the second null, the raw images of the
        same grid (:func:`factordiff.analysis.nulls.map_raw_reading`): per rule, the
        settings where the trained model is strictly nearer the claim than the pixels and
        where the claim holds against both nulls (each checkpoint's ``"raw"``).
    rules : rule names of :data:`factordiff.analysis.control.RULES` or ``Rule`` objects;
        ``b1_is_2`` is added when ``topology`` is on.
    topology, homology_step : persistent homology (H0, H1) of every setting, from every
        ``homology_step``-th condition along each axis (see :func:`sensitivity_map`).

    Writes ``OUT/map.json`` (settings, the rows of every checkpoint, the counts per rule,
    seconds) and ``OUT/map.csv`` (one line per checkpoint x setting x rule); everything goes
    to a temporary folder renamed into place at the end. Bad input (a layer, timestep,
    pooling, epoch or a missing epoch-0 control) raises ``ValueError`` before any forward
    pass and writes nothing. Returns the ``map.json`` content with ``"out"``."""
    from factordiff import training

    run_dir = Path(run_dir)
    run_cfg = training.read_run_config(run_dir)
    axes, selection = _check_map_args(
        ts, n_noises, poolings, rules, topology, grid, n_dims, raw_null, homology_step, checkpoints
    )
    device = str(training.resolve_device(device))
    paths, chosen = _run_checkpoints(run_dir, selection, training)
    extractor_params = _extractor_params(run_cfg, seed, batch_size)
    axes |= _check_on_first_model(training, chosen[0], layers, axes, extractor_params, ema, device)
    control_path = _control_checkpoint(training, run_dir, paths) if control else None
    out = Path(out) if out is not None else run_dir / "analysis" / "map"
    check_writable_folder(out.parent)
    settings = _map_settings(
        run_dir, run_cfg, axes, control_path, seed, ema, device, n_dims, topology, raw_null
    )
    with _staged_folder(out) as tmp:
        result, table = _map_checkpoints(
            training, chosen, control_path, run_cfg, settings, axes, extractor_params, progress
        )
        _write_map(tmp, result, table)
    log.info("sensitivity map written to %s", out)
    return json_ready(result | {"out": str(out)})


def _check_map_args(
    ts, n_noises, poolings, rules, topology, grid, n_dims, raw_null, homology_step, checkpoints
) -> tuple[dict, str | list[int]]:
    """``(axes, selection)``: what the map reads (``ts``, ``n_noises``, ``poolings``,
    ``rules``, ``grid`` and ``homology_step``) and the checkpoint selection, each checked
    (``ValueError`` naming the bad value) before any checkpoint is read."""
    from factordiff.analysis.sensitivity import check_homology_step

    axes = _parse_map_axes(ts, n_noises, poolings, rules, topology)
    shape = _parse_grid(grid, max(MIN_GRID_SIDE, n_dims + 1))
    if raw_null and shape[0] != shape[1]:
        raise ValueError(
            f"grid = {list(shape)} is invalid with the raw-images null (it renders a square "
            "grid); allowed: one side for both axes, or raw_null=False (--no-raw-null)"
        )
    axes |= {"grid": shape, "homology_step": check_homology_step(homology_step)}
    return axes, _parse_checkpoints(checkpoints)


def _parse_map_axes(ts, n_noises, poolings, rules, topology) -> dict:
    """``{"ts", "n_noises", "poolings", "rules"}`` as lists, checked; ``b1_is_2`` is added to
    the rules when ``topology`` is on. The timesteps are checked on the model later."""
    from factordiff.analysis.activations import POOLINGS
    from factordiff.analysis.sensitivity import _rule

    ts_list = [None] if ts is None else _int_list("ts", ts)
    n_noise_list = _int_list("n_noises", n_noises)
    pooling_list = _str_list(poolings)
    for p in pooling_list:
        if p not in POOLINGS:
            raise ValueError(f"pooling = {p!r} is invalid; allowed: {list(POOLINGS)}")
    rule_list = [_rule(r) for r in rules]
    if topology and "b1_is_2" not in [r.name for r in rule_list]:
        rule_list.append(_rule("b1_is_2"))
    return {"ts": ts_list, "n_noises": n_noise_list, "poolings": pooling_list, "rules": rule_list}


def _extractor_params(run_cfg, seed: int, batch_size: int) -> dict:
    """The :class:`ActivationExtractor` settings every setting of the map shares."""
    return {
        "seed": seed,
        "batch_size": batch_size,
        "image_size": run_cfg.data.image_size,
        "num_train_timesteps": run_cfg.diffusion.num_train_timesteps,
    }


def _check_on_first_model(
    training, first: Path, layers, axes: dict, extractor_params: dict, ema, device
) -> dict:
    """``{"ts", "layers"}`` resolved on the first model, which also checks every pooling
    and number of noise draws of ``axes``, before any forward pass."""
    from factordiff.analysis.activations import resolve_timesteps
    from factordiff.analysis.sensitivity import resolve_layers

    model, _, _ = training.load_model(first, ema=ema, map_location=device)
    ts_list = resolve_timesteps(model, axes["ts"], extractor_params["num_train_timesteps"])
    layer_list = resolve_layers(model, layers)
    for p in axes["poolings"]:
        ActivationExtractor(pooling=p, **extractor_params).check_params(model)
    for k in axes["n_noises"]:
        if k < 1:
            raise ValueError(f"n_noise = {k} is invalid; allowed: an integer >= 1")
    del model
    return {"ts": ts_list, "layers": layer_list}


def _map_settings(
    run_dir, run_cfg, axes, control_path, seed, ema, device, n_dims, topology, raw_null
) -> dict:
    """The ``settings`` of ``map.json``, in the order they are written."""
    shape, step = axes["grid"], axes["homology_step"]
    return {
        "run_dir": str(run_dir),
        "layers": axes["layers"],
        "ts": axes["ts"],
        "poolings": axes["poolings"],
        "n_noises": axes["n_noises"],
        "rules": {r.name: r.statement for r in axes["rules"]},
        "control": None if control_path is None else control_path.name,
        "grid": list(shape),
        "image_size": run_cfg.data.image_size,
        "periodic": run_cfg.data.periodic,
        "seed": seed,
        "ema": ema,
        "device": device,
        "n_dims": n_dims,
        "topology": topology,
        "homology_step": step,
        "raw_null": bool(raw_null),
        "homology_points": (
            len(range(0, shape[0], step)) * len(range(0, shape[1], step)) if topology else 0
        ),
    }


def _control_checkpoint(training, run_dir: Path, paths: list[Path]) -> Path:
    """The control is the untrained network of the same run: its epoch-0 checkpoint."""
    by_epoch = {}
    for p in paths:
        by_epoch[_checked_epoch(p, training.load_model)] = p
    if 0 not in by_epoch:
        raise ValueError(
            f"{run_dir} has no epoch-0 checkpoint, the control of the map (the untrained "
            f"network); available epochs: {sorted(by_epoch)}; keep epoch 0 with "
            "train.checkpoint_epochs, or pass control=False (--no-control)"
        )
    return by_epoch[0]


def _map_checkpoints(
    training, chosen, control_path, run_cfg, settings, axes, extractor_params, progress
) -> tuple[dict, list[dict]]:
    """``(result, table)``: the map of every chosen checkpoint with the seconds it took, and
    its CSV lines (``axes["rules"]``: the :class:`Rule` objects to judge)."""
    import time

    from factordiff.analysis.nulls import map_raw_reading, raw_images_summary
    from factordiff.analysis.sensitivity import map_counts, map_table, sensitivity_map

    ema, device, topology = settings["ema"], settings["device"], settings["topology"]
    rule_list = axes["rules"]
    rule_names = [r.name for r in rule_list]
    labels, shape = condition_grid(run_cfg.data.image_size, *settings["grid"])
    control_model = None
    if control_path is not None:
        control_model, _, _ = training.load_model(control_path, ema=ema, map_location=device)
    entries, table = [], []
    t_start = time.perf_counter()
    raw = (
        raw_images_summary(run_cfg.data, shape[0], topology=topology)
        if settings["raw_null"]
        else None
    )
    for path in chosen:
        model, _, meta = training.load_model(path, ema=ema, map_location=device)
        log.info("sensitivity map of %s (%d layers)", path.name, len(settings["layers"]))
        rows = sensitivity_map(
            model,
            labels,
            shape,
            layers=settings["layers"],
            ts=settings["ts"],
            poolings=settings["poolings"],
            n_noises=settings["n_noises"],
            rules=rule_list,
            control=control_model,
            extractor_params=extractor_params,
            topology=topology,
            homology_step=settings["homology_step"],
            n_dims=settings["n_dims"],
            periodic=run_cfg.data.periodic,
            progress=progress,
        )
        del model
        epoch = int(meta["epoch"])
        entries.append(
            {
                "checkpoint": path.name,
                "epoch": epoch,
                "accuracy": meta.get("accuracy"),
                "counts": map_counts(rows, rule_names),
                "rows": rows,
            }
            | ({"raw": map_raw_reading(rows, rule_list, raw)} if raw is not None else {})
        )
        table += [{"epoch": epoch} | line for line in map_table(rows, rule_names)]
    return {
        "settings": settings,
        "seconds": time.perf_counter() - t_start,
        "checkpoints": entries,
    }, table


def _write_map(tmp: Path, result: dict, table: list[dict]) -> None:
    """``tmp/map.json`` (``result``) and ``tmp/map.csv`` (``table``)."""
    import csv

    from factordiff.analysis.sensitivity import TABLE_COLUMNS

    (tmp / "map.json").write_text(json.dumps(json_ready(result), indent=2))
    with open(tmp / "map.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", *TABLE_COLUMNS])
        writer.writeheader()
        writer.writerows(table)
