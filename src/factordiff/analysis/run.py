"""Analyse the checkpoints of a factordiff run folder (``factordiff analyze RUN``).

Output layout (everything is written to a temporary sibling folder first and renamed into
place at the end, so a failure leaves nothing half written)::

    OUT/summary.json               settings, references, one entry per checkpoint
    OUT/references.npz             arrays of the ideal ring and Clifford tori (``ring_torus/``...)
    OUT/training_curve.png         accuracy and effective dimension vs epoch (>= 2 checkpoints)
    OUT/epoch-00150/summary.json   numbers of the model and the references at that epoch
    OUT/epoch-00150/arrays.npz     representation, spectra, diagrams, histograms, UMAP
    OUT/epoch-00150/*.png          spectrum, factorization, persistence, umap_2d, umap_3d

``OUT`` defaults to ``RUN/analysis/<layer>_t<t>_<pooling>``; rerunning the same analysis
replaces it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from factordiff.analysis.activations import ActivationExtractor, resolve_layer
from factordiff.analysis.grid import (
    MIN_GRID_SIDE,
    Representation,
    check_grid_shape,
    check_grid_side,
    condition_grid,
)
from factordiff.analysis.pipeline import RepresentationAnalysis
from factordiff.analysis.references import reference_representations
from factordiff.config import json_ready
from factordiff.paths import check_writable_folder
from factordiff.progress import progress_bar

log = logging.getLogger(__name__)


def _parse_checkpoints(checkpoints: str | Sequence[int]) -> str | list[int]:
    """``"last"``, ``"all"``, ``"0,150,300"`` or a sequence of epochs -> "last"/"all"/list."""
    if isinstance(checkpoints, str):
        text = checkpoints.strip().lower()
        if text in ("last", "all"):
            return text
        try:
            return [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            pass
        raise ValueError(
            f"checkpoints = {checkpoints!r} is invalid; allowed: 'last', 'all' or epochs "
            "such as '0,150,300'"
        )
    epochs = list(checkpoints)
    if not epochs or not all(isinstance(e, int | np.integer) for e in epochs):
        raise ValueError(
            f"checkpoints = {checkpoints!r} is invalid; allowed: 'last', 'all' or a non-empty "
            "list of integer epochs"
        )
    return [int(e) for e in epochs]


#: Default analysis grid: the paper's 32 x 32 conditions (its training lattice for N = 32),
#: dense enough for persistent homology to resolve both tori (a 16 x 16 ring torus is not).
DEFAULT_GRID = (32, 32)


def _parse_grid(grid: int | Sequence[int] | None, min_side: int) -> tuple:
    if grid is None:
        shape = DEFAULT_GRID
    elif isinstance(grid, int | np.integer):
        shape = (int(grid), int(grid))
    else:
        shape = tuple(int(v) for v in grid)
        if len(shape) != 2:
            raise ValueError(f"grid = {grid!r} is invalid; allowed: n or (n_x, n_y)")
    check_grid_shape(shape, min_side=min_side)
    for n in shape:  # bounded before any allocation (grid = 100000: 75 GiB of labels)
        check_grid_side(n, "grid" if isinstance(grid, int | np.integer) else "grid side", min_side)
    return shape


def _checked_epoch(path: Path, load_model) -> int:
    """Load the checkpoint at ``path`` (model, config, weights) and return its epoch;
    ``ValueError`` naming the file when it is unreadable or does not say its epoch."""
    _, _, meta = load_model(path, ema=True, map_location="cpu")
    epoch = meta.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(
            f"{path} is not a usable factordiff checkpoint: its epoch is {epoch!r}; allowed: "
            "a checkpoint written by factordiff train (an integer epoch >= 0)"
        )
    return epoch


def _select(paths: list[Path], selection: str | list[int], load_model) -> list[Path]:
    """The checkpoints to analyse, every one of them loaded and checked first, so a bad
    one (truncated, garbled) fails before any analysis is computed or written."""
    if selection in ("last", "all"):
        chosen = paths[-1:] if selection == "last" else paths
        for p in chosen:
            _checked_epoch(p, load_model)
        return chosen
    # Epochs live in the checkpoints: read them before any analysis, so a missing epoch
    # fails before anything is computed or written.
    by_epoch = {}
    for p in paths:
        by_epoch[_checked_epoch(p, load_model)] = p
    missing = [e for e in selection if e not in by_epoch]
    if missing:
        raise ValueError(
            f"no checkpoint for epoch(s) {missing}; available epochs: {sorted(by_epoch)}"
        )
    return [by_epoch[e] for e in sorted(set(selection))]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _save_figures(figs: dict, folder: Path, fmt: str) -> list[str]:
    from factordiff.plotting import save_figure

    names = []
    for stem, fig in figs.items():
        name = f"{stem}.{fmt}"
        save_figure(fig, folder / name, dpi=120)
        names.append(name)
    return names


def analyze_run(
    run_dir: str | Path,
    checkpoints: str | Sequence[int] = "last",
    layer: str | None = None,
    t: int | None = None,
    grid: int | Sequence[int] | None = None,
    out: str | Path | None = None,
    *,
    pooling: str = "flatten",
    seed: int = 0,
    n_noise: int = 1,
    batch_size: int = 256,
    device: str = "auto",
    ema: bool = True,
    n_dims: int = 2,
    topology: bool = True,
    n_landmarks: int = 256,
    umap_dims: tuple[int, ...] = (2, 3),
    reference_noise_std: float = 0.0,
    random_state: int = 0,
    figures: bool = True,
    figure_format: str = "png",
    progress: bool = False,
) -> dict:
    """Analyse checkpoints of a run: arrays, figures and JSON summaries per checkpoint.

    Parameters
    ----------
    run_dir : a factordiff run folder (``config.json`` and ``checkpoints/``).
    checkpoints : ``"last"``, ``"all"``, or epochs (a list, or a string ``"0,150,300"``).
    layer : submodule name; ``None`` = the model's ``default_analysis_layer`` (end of encoder).
    t : timestep; ``None`` = ``T - 1`` of the run (pure-noise input is then in distribution).
    grid : ``n`` or ``(n_x, n_y)`` conditions over ``[0, N)`` (cell-centred, see
        :func:`condition_grid`); ``None`` = 32 x 32, whatever N (labels are continuous).
    out : output folder; ``None`` = ``run_dir/analysis/<layer>_t<t>_<pooling>``.
    pooling, seed, n_noise, batch_size : see :class:`ActivationExtractor`.
    device : ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
    ema : analyse the EMA weights (as sampling does).
    n_dims, topology, n_landmarks, umap_dims, random_state : see
        :class:`RepresentationAnalysis`.
    reference_noise_std : noise added to the ideal tori (their radii are 1 and 2).
    figures, figure_format : draw the figures (model beside the ideal tori), as png/pdf/svg.
    progress : a bar (stderr) over the checkpoints.

    Returns the top-level summary (also written to ``OUT/summary.json``) with ``"out"``, the
    output folder. Raises ``ValueError`` (nothing written) on a bad selection, layer or grid.
    """
    from factordiff import training  # lazy: training imports the model stack

    run_dir = Path(run_dir)
    run_cfg = training.read_run_config(run_dir)  # strict: a bad value names file and key
    image_size = run_cfg.data.image_size
    periodic = run_cfg.data.periodic
    num_timesteps = run_cfg.diffusion.num_train_timesteps
    if t is None:
        t = num_timesteps - 1
    if not isinstance(t, int | np.integer) or not 0 <= t < num_timesteps:
        raise ValueError(f"t = {t!r} is invalid; allowed: an integer in [0, {num_timesteps - 1}]")
    t = int(t)
    shape = _parse_grid(grid, max(MIN_GRID_SIDE, n_dims + 1))
    selection = _parse_checkpoints(checkpoints)
    if figure_format not in ("png", "pdf", "svg"):
        raise ValueError(f"figure_format = {figure_format!r}; allowed: png, pdf, svg")
    device = str(training.resolve_device(device))  # the one device rule of factordiff

    paths = training.list_checkpoints(run_dir)
    if not paths:
        raise FileNotFoundError(f"{run_dir} has no checkpoints to analyse")
    paths = _select(paths, selection, training.load_model)

    # The first model resolves the default layer and the output folder, and checks the
    # layer and the extraction settings, before anything is written.
    model, _, _ = training.load_model(paths[0], ema=ema, map_location=device)
    layer = resolve_layer(model, layer)
    extractor = ActivationExtractor(
        layer=layer,
        t=t,
        pooling=pooling,
        seed=seed,
        n_noise=n_noise,
        batch_size=batch_size,
        image_size=image_size,
        num_train_timesteps=num_timesteps,
    )
    extractor.check_params(model)
    del model
    out = Path(out) if out is not None else run_dir / "analysis" / _slug(f"{layer}_t{t}_{pooling}")
    check_writable_folder(out.parent)

    labels, shape = condition_grid(image_size, *shape)
    analysis_params = {
        "n_dims": n_dims,
        "topology": topology,
        "n_landmarks": n_landmarks,
        "umap_dims": tuple(umap_dims),
        "random_state": random_state,
    }
    settings = {
        "run_dir": str(run_dir),
        "layer": layer,
        "t": t,
        "pooling": pooling,
        "seed": seed,
        "n_noise": n_noise,
        "grid": list(shape),
        "image_size": image_size,
        "periodic": periodic,
        "ema": ema,
        "device": device,
        "reference_noise_std": reference_noise_std,
        "figures": figures,
        **{k: list(v) if isinstance(v, tuple) else v for k, v in analysis_params.items()},
    }
    # The first thing written; from here on any failure removes what this call made.
    made_parent = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        from factordiff.plotting import analysis_figures, plot_training_curve, save_figure

        like = Representation(
            X=np.zeros((len(labels), 1)),
            labels=labels,
            grid_shape=shape,
            metadata={"image_size": image_size},
        )
        refs = {
            name: RepresentationAnalysis(**analysis_params, periodic=True).fit(rep)
            for name, rep in reference_representations(
                like, noise_std=reference_noise_std, random_state=random_state
            ).items()
        }
        np.savez_compressed(
            tmp / "references.npz",
            **{k: v for name, a in refs.items() for k, v in a.arrays(f"{name}/").items()},
        )
        entries = []
        dim = None
        for path in progress_bar(
            paths, desc="analysing checkpoints", unit="checkpoints", disable=not progress
        ):
            log.info("analysing %s (layer %s, t = %d)", path.name, layer, t)
            model, _, meta = training.load_model(path, ema=ema, map_location=device)
            # extract() checks the layer exists (another architecture: an error listing them)
            rep = extractor.extract(model, labels, shape)
            del model
            rep.metadata.update(checkpoint=path.name, epoch=meta.get("epoch"))
            if dim is not None and rep.dim != dim:
                raise ValueError(
                    f"{path.name}: layer {layer!r} gives {rep.dim} values per condition, the "
                    f"earlier checkpoints {dim}; are they of the same architecture?"
                )
            dim = rep.dim
            analysis = RepresentationAnalysis(**analysis_params, periodic=periodic).fit(rep)
            epoch = int(meta["epoch"])
            folder = tmp / f"epoch-{epoch:05d}"
            folder.mkdir()
            np.savez_compressed(folder / "arrays.npz", **analysis.arrays())
            figure_names = []
            if figures:
                figure_names = _save_figures(
                    analysis_figures({"model": analysis, **refs}, period=image_size),
                    folder,
                    figure_format,
                )
            entry = {
                "checkpoint": path.name,
                "epoch": epoch,
                "step": meta.get("step"),
                "accuracy": meta.get("accuracy"),
                "folder": folder.name,
                "figures": figure_names,
                "model": analysis.summary_,
                "references": {name: a.summary_ for name, a in refs.items()},
            }
            (folder / "summary.json").write_text(json.dumps(json_ready(entry), indent=2))
            entries.append(entry)
        if figures and len(entries) > 1:
            fig = plot_training_curve(
                [e["epoch"] for e in entries],
                [e["accuracy"] for e in entries],
                [e["model"]["effective_dimension"] for e in entries],
            )
            save_figure(fig, tmp / f"training_curve.{figure_format}", dpi=120)
        summary = {
            "settings": settings,
            "references": {name: a.summary_ for name, a in refs.items()},
            "checkpoints": [
                {k: e[k] for k in ("checkpoint", "epoch", "step", "accuracy", "folder")}
                | {"summary": e["model"]}
                for e in entries
            ],
        }
        (tmp / "summary.json").write_text(json.dumps(json_ready(summary), indent=2))
        # Swap in the finished folder; an older result of the same analysis is replaced.
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        log.info("analysis written to %s", out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if made_parent and not any(out.parent.iterdir()):
            out.parent.rmdir()  # the analysis/ folder this call created, now empty
        raise
    return json_ready(summary | {"out": str(out)})


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
    import csv
    import time

    from factordiff import training
    from factordiff.analysis.activations import POOLINGS, resolve_timesteps
    from factordiff.analysis.nulls import map_raw_reading, raw_images_summary
    from factordiff.analysis.sensitivity import (
        TABLE_COLUMNS,
        _rule,
        check_homology_step,
        map_counts,
        map_table,
        resolve_layers,
        sensitivity_map,
    )

    run_dir = Path(run_dir)
    run_cfg = training.read_run_config(run_dir)
    image_size = run_cfg.data.image_size
    num_timesteps = run_cfg.diffusion.num_train_timesteps
    ts_list = [None] if ts is None else _int_list("ts", ts)
    n_noise_list = _int_list("n_noises", n_noises)
    pooling_list = _str_list(poolings)
    for p in pooling_list:
        if p not in POOLINGS:
            raise ValueError(f"pooling = {p!r} is invalid; allowed: {list(POOLINGS)}")
    rule_list = [_rule(r) for r in rules]
    if topology and "b1_is_2" not in [r.name for r in rule_list]:
        rule_list.append(_rule("b1_is_2"))
    rule_names = [r.name for r in rule_list]
    shape = _parse_grid(grid, max(MIN_GRID_SIDE, n_dims + 1))
    if raw_null and shape[0] != shape[1]:
        raise ValueError(
            f"grid = {list(shape)} is invalid with the raw-images null (it renders a square "
            "grid); allowed: one side for both axes, or raw_null=False (--no-raw-null)"
        )
    homology_step = check_homology_step(homology_step)
    selection = _parse_checkpoints(checkpoints)
    device = str(training.resolve_device(device))
    paths = training.list_checkpoints(run_dir)
    if not paths:
        raise FileNotFoundError(f"{run_dir} has no checkpoints to analyse")
    chosen = _select(paths, selection, training.load_model)

    # Resolve and check every setting on the first model, before any forward pass.
    model, _, _ = training.load_model(chosen[0], ema=ema, map_location=device)
    ts_list = resolve_timesteps(model, ts_list, num_timesteps)
    layer_list = resolve_layers(model, layers)
    extractor_params = {
        "seed": seed,
        "batch_size": batch_size,
        "image_size": image_size,
        "num_train_timesteps": num_timesteps,
    }
    for p in pooling_list:
        ActivationExtractor(pooling=p, **extractor_params).check_params(model)
    for k in n_noise_list:
        if k < 1:
            raise ValueError(f"n_noise = {k} is invalid; allowed: an integer >= 1")
    del model
    control_path = None
    if control:
        # The control is the untrained network of the same run: its epoch-0 checkpoint.
        by_epoch = {}
        for p in paths:
            by_epoch[_checked_epoch(p, training.load_model)] = p
        if 0 not in by_epoch:
            raise ValueError(
                f"{run_dir} has no epoch-0 checkpoint, the control of the map (the untrained "
                f"network); available epochs: {sorted(by_epoch)}; keep epoch 0 with "
                "train.checkpoint_epochs, or pass control=False (--no-control)"
            )
        control_path = by_epoch[0]

    out = Path(out) if out is not None else run_dir / "analysis" / "map"
    check_writable_folder(out.parent)
    labels, shape = condition_grid(image_size, *shape)
    settings = {
        "run_dir": str(run_dir),
        "layers": layer_list,
        "ts": ts_list,
        "poolings": pooling_list,
        "n_noises": n_noise_list,
        "rules": {r.name: r.statement for r in rule_list},
        "control": None if control_path is None else control_path.name,
        "grid": list(shape),
        "image_size": image_size,
        "periodic": run_cfg.data.periodic,
        "seed": seed,
        "ema": ema,
        "device": device,
        "n_dims": n_dims,
        "topology": topology,
        "homology_step": homology_step,
        "raw_null": bool(raw_null),
        "homology_points": (
            len(range(0, shape[0], homology_step)) * len(range(0, shape[1], homology_step))
            if topology
            else 0
        ),
    }
    # The first thing written; from here on any failure removes what this call made.
    made_parent = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        control_model = None
        if control_path is not None:
            control_model, _, _ = training.load_model(control_path, ema=ema, map_location=device)
        entries, table = [], []
        t_start = time.perf_counter()
        raw = raw_images_summary(run_cfg.data, shape[0], topology=topology) if raw_null else None
        for path in chosen:
            model, _, meta = training.load_model(path, ema=ema, map_location=device)
            log.info("sensitivity map of %s (%d layers)", path.name, len(layer_list))
            rows = sensitivity_map(
                model,
                labels,
                shape,
                layers=layer_list,
                ts=ts_list,
                poolings=pooling_list,
                n_noises=n_noise_list,
                rules=rule_list,
                control=control_model,
                extractor_params=extractor_params,
                topology=topology,
                homology_step=homology_step,
                n_dims=n_dims,
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
        result = {
            "settings": settings,
            "seconds": time.perf_counter() - t_start,
            "checkpoints": entries,
        }
        (tmp / "map.json").write_text(json.dumps(json_ready(result), indent=2))
        with open(tmp / "map.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["epoch", *TABLE_COLUMNS])
            writer.writeheader()
            writer.writerows(table)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        log.info("sensitivity map written to %s", out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if made_parent and not any(out.parent.iterdir()):
            out.parent.rmdir()
        raise
    return json_ready(result | {"out": str(out)})
