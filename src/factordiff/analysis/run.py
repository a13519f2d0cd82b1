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
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from factordiff.analysis.activations import ActivationExtractor, resolve_layer
from factordiff.analysis.grid import MIN_GRID_SIDE, Representation, condition_grid

# analyze_map and its defaults live in map_run; they stay importable from here.
from factordiff.analysis.map_run import MAP_RULES, analyze_map  # noqa: F401
from factordiff.analysis.pipeline import RepresentationAnalysis
from factordiff.analysis.references import reference_representations
from factordiff.analysis.run_common import (  # noqa: F401
    DEFAULT_GRID,
    _parse_checkpoints,
    _parse_grid,
    _run_checkpoints,
    _staged_folder,
)
from factordiff.config import json_ready
from factordiff.paths import check_writable_folder
from factordiff.progress import progress_bar

log = logging.getLogger(__name__)


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
    figures: bool | str = True,
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
    figures, figure_format : draw the figures (model beside the ideal tori), as png/pdf/svg:
        ``True`` for every checkpoint (and the training curve), ``"last"`` for the last
        checkpoint only (and the curve), ``False`` none. Drawing them is most of the time of
        a small analysis (about 4 s per checkpoint on a 2-core CPU against 1 s for the rest).
    progress : a bar (stderr) over the checkpoints.

    Returns the top-level summary (also written to ``OUT/summary.json``) with ``"out"``, the
    output folder. Raises ``ValueError`` (nothing written) on a bad selection, layer or grid.
    """
    from factordiff import training  # lazy: training imports the model stack

    run_dir = Path(run_dir)
    run_cfg, t, shape, selection = _check_run_args(
        training, run_dir, checkpoints, t, grid, n_dims, figures, figure_format
    )
    device = str(training.resolve_device(device))  # the one device rule of factordiff
    _, paths = _run_checkpoints(run_dir, selection, training)
    extract = {"pooling": pooling, "seed": seed, "n_noise": n_noise, "batch_size": batch_size}
    layer, extractor = _checked_extractor(
        training, paths[0], run_cfg, layer=layer, t=t, ema=ema, device=device, **extract
    )
    out = Path(out) if out is not None else run_dir / "analysis" / _slug(f"{layer}_t{t}_{pooling}")
    check_writable_folder(out.parent)
    analysis_params = {
        "n_dims": n_dims,
        "topology": topology,
        "n_landmarks": n_landmarks,
        "umap_dims": tuple(umap_dims),
        "random_state": random_state,
    }
    options = dict(ema=ema, device=device, reference_noise_std=reference_noise_std, figures=figures)
    settings = _run_settings(run_dir, run_cfg, shape, extractor, analysis_params, options)
    with _staged_folder(out) as tmp:
        summary = _write_analysis(
            tmp, training, paths, extractor, settings, analysis_params, figure_format, progress
        )
    log.info("analysis written to %s", out)
    return json_ready(summary | {"out": str(out)})


def _run_settings(run_dir, run_cfg, shape, extractor, analysis_params, options) -> dict:
    """The ``settings`` of the summary: what was analysed and how (``options``: ``ema``,
    ``device``, ``reference_noise_std`` and ``figures``), in the order they are written."""
    return {
        "run_dir": str(run_dir),
        "layer": extractor.layer,
        "t": extractor.t,
        "pooling": extractor.pooling,
        "seed": extractor.seed,
        "n_noise": extractor.n_noise,
        "grid": list(shape),
        "image_size": run_cfg.data.image_size,
        "periodic": run_cfg.data.periodic,
        "ema": options["ema"],
        "device": options["device"],
        "reference_noise_std": options["reference_noise_std"],
        "figures": options["figures"],
        **{k: list(v) if isinstance(v, tuple) else v for k, v in analysis_params.items()},
    }


def _write_analysis(
    tmp: Path, training, paths, extractor, settings, analysis_params, figure_format, progress
) -> dict:
    """Analyse every checkpoint of ``paths`` on the grid of ``settings``, beside the ideal
    tori, into ``tmp``: their folders, the training curve and ``summary.json`` (returned)."""
    image_size, figures = settings["image_size"], settings["figures"]
    labels, shape = condition_grid(image_size, *settings["grid"])
    refs = _fit_references(
        tmp,
        labels,
        shape,
        image_size,
        analysis_params,
        settings["reference_noise_std"],
        analysis_params["random_state"],
    )
    params = analysis_params | {"periodic": settings["periodic"]}
    entries, dim = [], None
    for k, path in enumerate(
        progress_bar(paths, desc="analysing checkpoints", unit="checkpoints", disable=not progress)
    ):
        drawn = figures is True or (figures == "last" and k == len(paths) - 1)
        log.info("analysing %s (layer %s, t = %d)", path.name, extractor.layer, extractor.t)
        analysis, meta, dim = _analyse_checkpoint(
            training,
            path,
            extractor,
            labels,
            shape,
            dim,
            settings["ema"],
            settings["device"],
            params,
        )
        entries.append(
            _write_checkpoint(tmp, path, meta, analysis, refs, image_size, drawn, figure_format)
        )
    return _write_run_summary(tmp, settings, refs, entries, figures, figure_format)


def _check_run_args(
    training, run_dir, checkpoints, t, grid, n_dims, figures, figure_format
) -> tuple:
    """The run's config, the timestep, the grid shape and the checkpoint selection, each
    checked (``ValueError`` naming the bad value) before any checkpoint is read."""
    run_cfg = training.read_run_config(run_dir)  # strict: a bad value names file and key
    num_timesteps = run_cfg.diffusion.num_train_timesteps
    if t is None:
        t = num_timesteps - 1
    if not isinstance(t, int | np.integer) or not 0 <= t < num_timesteps:
        raise ValueError(f"t = {t!r} is invalid; allowed: an integer in [0, {num_timesteps - 1}]")
    t = int(t)
    shape = _parse_grid(grid, max(MIN_GRID_SIDE, n_dims + 1))
    selection = _parse_checkpoints(checkpoints)
    if figures not in (True, False, "last") or not isinstance(figures, bool | str):
        raise ValueError(f"figures = {figures!r}; allowed: True, False or 'last'")
    if figure_format not in ("png", "pdf", "svg"):
        raise ValueError(f"figure_format = {figure_format!r}; allowed: png, pdf, svg")
    return run_cfg, t, shape, selection


def _checked_extractor(training, first: Path, run_cfg, *, layer, ema, device, **params) -> tuple:
    """``(layer, extractor)``: the first model resolves the default layer and checks the
    layer and the extraction settings, before anything is written."""
    model, _, _ = training.load_model(first, ema=ema, map_location=device)
    layer = resolve_layer(model, layer)
    extractor = ActivationExtractor(
        layer=layer,
        **params,
        image_size=run_cfg.data.image_size,
        num_train_timesteps=run_cfg.diffusion.num_train_timesteps,
    )
    extractor.check_params(model)
    del model
    return layer, extractor


def _analyse_checkpoint(
    training, path: Path, extractor, labels, shape, dim, ema, device, params
) -> tuple:
    """``(analysis, meta, dim)`` of one checkpoint; ``ValueError`` when its layer gives
    another number of values per condition (``dim``) than the earlier checkpoints."""
    model, _, meta = training.load_model(path, ema=ema, map_location=device)
    # extract() checks the layer exists (another architecture: an error listing them)
    rep = extractor.extract(model, labels, shape)
    del model
    rep.metadata.update(checkpoint=path.name, epoch=meta.get("epoch"))
    if dim is not None and rep.dim != dim:
        raise ValueError(
            f"{path.name}: layer {extractor.layer!r} gives {rep.dim} values per condition, "
            f"the earlier checkpoints {dim}; are they of the same architecture?"
        )
    analysis = RepresentationAnalysis(**params).fit(rep)
    return analysis, meta, rep.dim


def _fit_references(
    tmp: Path, labels, shape, image_size, analysis_params, noise_std, random_state
) -> dict:
    """The ideal tori of the grid, analysed; their arrays go to ``tmp/references.npz``."""
    like = Representation(
        X=np.zeros((len(labels), 1)),
        labels=labels,
        grid_shape=shape,
        metadata={"image_size": image_size},
    )
    refs = {
        name: RepresentationAnalysis(**analysis_params, periodic=True).fit(rep)
        for name, rep in reference_representations(
            like, noise_std=noise_std, random_state=random_state
        ).items()
    }
    np.savez_compressed(
        tmp / "references.npz",
        **{k: v for name, a in refs.items() for k, v in a.arrays(f"{name}/").items()},
    )
    return refs


def _write_checkpoint(
    tmp: Path, path: Path, meta, analysis, refs, image_size, figures, figure_format
) -> dict:
    """Write one checkpoint's folder (arrays, figures, summary) and return its entry."""
    from factordiff.plotting import analysis_figures

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
    return entry


def _write_run_summary(tmp: Path, settings, refs, entries, figures, figure_format) -> dict:
    """The training curve (two or more checkpoints) and ``tmp/summary.json``; returns it."""
    from factordiff.plotting import plot_training_curve, save_figure

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
    return summary
