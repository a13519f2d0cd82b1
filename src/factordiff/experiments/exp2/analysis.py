"""Experiment 2's analysis of one finished run: sample and score it section by section.

:func:`evaluate_run_sections` loads a run's final checkpoint, generates
``samples_per_section`` images inside every section of each of its label spaces
(:func:`~factordiff.experiments.exp2.runs.evaluations`), scores them
(:mod:`factordiff.experiments.exp2.sections`) and keeps the first images of each section for
the figures. The numbers are cached in ``RUN/exp2/evaluation.json`` (the images in
``RUN/exp2/<space>.npz``) and reused while the settings and the checkpoint are unchanged; the
outcome classes are applied on every read, never cached. :func:`result_row` flattens an
evaluation into the row of the results table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from factordiff.config import DataConfig, RunConfig, json_ready, to_dict
from factordiff.experiments.exp2.config import EVAL_DIR, RIM_GRID, Exp2Config
from factordiff.experiments.exp2.runs import evaluations
from factordiff.experiments.exp2.sections import (
    classify_outcome,
    section_conditions,
    section_scores,
)
from factordiff.experiments.sweep import SweepRun

OUTCOME_KEYS = (
    "reference",
    "learned",
    "composition",
    "interpolation",
    "composes",
    "interpolates",
    "reference_min",
    "composition_margin",
    "interpolation_margin",
)  # the outcome's entries in a results row, in this order


def evaluate_run_sections(cfg: Exp2Config, run: SweepRun, device: str) -> dict:
    """Evaluate one finished run on each of its label spaces (:func:`evaluations`), section
    by section; cached in ``RUN/exp2/`` (``evaluation.json`` and ``<space>.npz`` with the
    grid images), reused while the settings and checkpoint are unchanged."""
    from factordiff.data import build_labels
    from factordiff.diffusion import GaussianDiffusion
    from factordiff.runs import final_checkpoint
    from factordiff.sampling import load_checkpoint
    from factordiff.training import atomic_write_text

    rc = run.config
    spaces = evaluations(cfg, run.params, rc.data)
    ckpt = final_checkpoint(run.dir)
    settings = _settings(cfg, rc, spaces, ckpt)
    folder = run.dir / EVAL_DIR
    cache = folder / "evaluation.json"
    cached = _read_cache(cache, settings)
    if cached is not None:
        return _with_outcomes(cached, cfg)
    model, _, meta, dev = load_checkpoint(ckpt, device)
    diffusion = GaussianDiffusion(rc.diffusion)
    train_labels = build_labels(rc.data, seed=rc.seed).labels
    folder.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "settings": settings,
        "step": meta.get("step"),
        "spaces": {},
    }
    for space, data in spaces.items():
        result["spaces"][space] = _evaluate_space(
            cfg,
            rc,
            space,
            data,
            train_labels,
            folder,
            model=model,
            diffusion=diffusion,
            device=dev,
        )
    result["held_out_lattice_labels"] = _held_out_count(rc.data)
    atomic_write_text(cache, json.dumps(json_ready(result), indent=2) + "\n")
    return _with_outcomes(json.loads(cache.read_text()), cfg)


def _settings(cfg: Exp2Config, rc: RunConfig, spaces: dict[str, DataConfig], ckpt: Path) -> dict:
    """What an evaluation depends on, as it reads back from JSON: a cache whose settings
    differ is computed again."""
    return _roundtrip(
        {
            "checkpoint": ckpt.name,
            # a retrained run (--force) writes a checkpoint of the same name
            "checkpoint_mtime_ns": ckpt.stat().st_mtime_ns,
            "spaces": {k: to_dict(v) for k, v in spaces.items()},
            "samples_per_section": cfg.samples_per_section,
            "grid_images": cfg.grid_images,
            "eval_seed": cfg.eval_seed,
            "sampler": rc.eval.sampler,
            "num_steps": rc.eval.num_steps,
            "tolerance_px": rc.eval.tolerance_px,
        }
    )


def _read_cache(cache: Path, settings: dict) -> dict | None:
    """The cached evaluation when it was made with ``settings``, else None."""
    from factordiff.jsonfiles import read_json

    if not cache.is_file():
        return None
    # A cache, so deliberately tolerant: one that does not read back, or not in the
    # shape written by evaluate_run_sections, is computed again (and rewritten), never
    # trusted or refused.
    try:
        doc = read_json(cache, "an evaluation cache")
    except ValueError:
        doc = None
    cached = doc.get("spaces") if isinstance(doc, dict) else None
    if (
        isinstance(cached, dict)
        and doc.get("settings") == settings
        and all(
            isinstance(v, dict) and isinstance(v.get("sections"), dict) for v in cached.values()
        )
    ):
        return doc
    return None


def _evaluate_space(
    cfg: Exp2Config,
    rc: RunConfig,
    space: str,
    data: DataConfig,
    train_labels: np.ndarray,
    folder: Path,
    *,
    model,
    diffusion,
    device,
) -> dict:
    """Sample and score one label space section by section: ``{"sections", "overall"}``;
    the first images of each section go to ``folder/<space>.npz``. ``train_labels``: (M, 2)."""
    from factordiff.data import build_regions, region_strata
    from factordiff.sampling import sample_images

    names = region_strata(data) if data.hole == "plus" else list(build_regions(data))
    names = [n for n in names if n != "all"]
    conds = section_conditions(data, names, cfg.samples_per_section, cfg.eval_seed)
    labels = np.concatenate(list(conds.values())).reshape(-1, 2)  # (K, 2)
    images = sample_images(
        model,
        rc,
        labels,
        sampler=rc.eval.sampler,
        num_steps=rc.eval.num_steps,
        seed=cfg.eval_seed,
        device=device,
        diffusion=diffusion,
    )[:, 0].numpy()  # (K, N, N)
    sections, ok = section_scores(images, conds, data, rc.data, train_labels, rc.eval.tolerance_px)
    # overall accuracy over the sections (each weighted by its samples)
    total = {"n": int(len(labels)), "accuracy": float(ok.mean()) if len(ok) else None}
    # the first images of each section, for the figures (25 on the rim's label space:
    # the paper's Fig. 10 shows 25 per model)
    per_section = max(cfg.grid_images, RIM_GRID) if space == "rim" else cfg.grid_images
    _save_grid_images(folder / f"{space}.npz", images, labels, ok, conds, per_section)
    return {"sections": sections, "overall": total}


def _save_grid_images(
    path: Path,
    images: np.ndarray,
    labels: np.ndarray,
    ok: np.ndarray,
    conds: dict[str, np.ndarray],
    per_section: int,
) -> None:
    """Keep the first ``per_section`` images of each section: (K, N, N) images, (K, 2)
    labels, (K,) joint correctness, in the order of ``conds`` (name -> (k_i, 2))."""
    keep, start = [], 0
    for c in conds.values():
        keep.extend(range(start, start + min(len(c), per_section)))
        start += len(c)
    keep = np.asarray(keep, np.int64)
    sect = np.concatenate([[i] * len(c) for i, c in enumerate(conds.values())]).astype(int)
    np.savez_compressed(
        path,
        images=images[keep].astype(np.float32),
        labels=labels[keep],
        correct=ok[keep],
        section=sect[keep] if len(keep) else np.zeros(0, int),
        section_names=np.asarray(list(conds)),
    )


def _with_outcomes(doc: dict, cfg: Exp2Config) -> dict:
    """Classify every label space of an evaluation by the config's outcome rule (not cached,
    so a changed rule constant never reads a stale class)."""
    for space in doc["spaces"].values():
        space["outcome"] = classify_outcome(
            space["sections"],
            ratio=cfg.outcome_ratio,
            min_reference=cfg.min_reference_accuracy,
        )
    return doc


def _roundtrip(data: dict) -> dict:
    """``data`` as it reads back from JSON (tuples -> lists, NaN -> None)."""
    return json.loads(json.dumps(json_ready(data)))


def _held_out_count(data: DataConfig) -> int:
    """Frame lattice labels inside the training set's hole (0 without a hole)."""
    from factordiff.data import build_regions, coord_visible, lattice_labels

    regions = build_regions(data)
    if "held_out" not in regions or data.kind == "stripes":
        return 0
    lattice = lattice_labels(data)
    frame = lattice[coord_visible(lattice, data).all(axis=1)]
    return int(regions["held_out"].contains(frame).sum())


def result_row(ev: dict) -> dict:
    """One run's row of the results table from its evaluation: the held-out lattice labels,
    then per label space each section's accuracies and seen shares, the overall accuracy
    and the outcome (keys ``<space>.<section>.<number>``)."""
    row: dict[str, Any] = {"held_out_lattice_labels": ev["held_out_lattice_labels"]}
    for space, s in ev["spaces"].items():
        for name, sec in s["sections"].items():
            for k in ("accuracy", "x_accuracy", "y_accuracy", "x_seen", "y_seen"):
                row[f"{space}.{name}.{k}"] = sec[k]
        row[f"{space}.overall.accuracy"] = s["overall"]["accuracy"]
        o = s["outcome"]
        for k in OUTCOME_KEYS:
            row[f"{space}.outcome.{k}"] = o[k]
    return row
