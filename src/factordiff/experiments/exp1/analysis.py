"""Experiment 1's analysis of one finished run: the representation at every kept checkpoint
beside an ideal 3D ring torus (x and y coupled) and a 4D Clifford torus (x and y
factorized), the raw images of the same grid (the second null), the run's verdicts, the
"not aligned" statistics and, for the mapped seeds, the sensitivity map of the final
checkpoint. The results table gets one row per run (:func:`result_row`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from factordiff.experiments.exp1.claims import verdicts
from factordiff.experiments.exp1.readings import not_aligned_statistics
from factordiff.experiments.exp1.rules import control_summary
from factordiff.experiments.exp1.sensitivity_map import sensitivity_map_of_run

if TYPE_CHECKING:
    from factordiff.experiments.exp1.config import Exp1Config
    from factordiff.experiments.sweep import SweepRun


def result_row(checkpoints: list[dict], raw: dict, threads: int) -> dict:
    """The results table's columns of one run: the terminal checkpoint's statistics, the
    thread count it trained with and the raw images' values."""
    final = checkpoints[-1]["summary"]
    fac = final["factorization"]
    betti = (final.get("topology") or {}).get("betti") or [None, None, None]
    return {
        "epoch": checkpoints[-1]["epoch"],
        "accuracy": checkpoints[-1]["accuracy"],
        "effective_dimension": final["effective_dimension"],
        "top4_share": final["top4_share"],
        "betti_0": betti[0],
        "betti_1": betti[1],
        "betti_2": betti[2],
        "orthogonality_xy": fac["orthogonality_xy"],
        "value_cosine_x": fac["value_cosine_x"],
        "value_cosine_y": fac["value_cosine_y"],
        "threads": threads,
        "parallelism_xx": fac["parallelism_xx"],
        "parallelism_yy": fac["parallelism_yy"],
        "raw.orthogonality_xy": raw["factorization"]["orthogonality_xy"],
        "raw.effective_dimension": raw["effective_dimension"],
    }


def map_columns(smap: dict) -> dict:
    """The results table's columns of a run's sensitivity map: per rule the settings where
    the claim holds (and holds against both nulls, where the raw images apply), and the
    number of settings. Sets ``smap["raw"]``, the map read against the raw images."""
    last = smap["checkpoints"][-1]
    smap["raw"] = last["raw"]  # the map read against the raw images of its grid
    row = {}
    for rule, c in last["counts"].items():
        row[f"map.{rule}.holds"] = c["holds"]
        if (smap["raw"].get(rule) or {}).get("applies"):
            row[f"map.{rule}.holds_both"] = smap["raw"][rule]["holds_both"]
    row["map.settings"] = len(last["rows"])
    return row


def analyse_run(cfg: Exp1Config, run: SweepRun, device: str, progress: bool = False) -> dict:
    """One finished run analysed: ``row`` (its line of the results table), ``result`` (the
    representation at every kept checkpoint, :func:`factordiff.analysis.analyze_run`),
    ``verdicts`` (this seed's), ``map`` (None for a seed not mapped), ``raw`` (the raw
    images' summary) and ``not_aligned`` (the reading's statistics)."""
    from factordiff.analysis import analyze_run
    from factordiff.analysis.nulls import raw_images_summary
    from factordiff.analysis.run_common import FIGURES

    result = analyze_run(
        run.dir,
        checkpoints="all",
        layer=cfg.layer or None,
        t=None if cfg.t < 0 else cfg.t,
        grid=cfg.grid,
        pooling=cfg.pooling,
        n_landmarks=cfg.n_landmarks,
        device=device,
        figures=FIGURES[cfg.run_figures],
        progress=progress,
    )
    ckpts = result["checkpoints"]
    # the second null: the raw images of the same grid (computed once per process)
    raw = raw_images_summary(run.config.data, cfg.grid, n_landmarks=cfg.n_landmarks)
    row = result_row(ckpts, raw, run.config.train.num_threads)
    per_run = verdicts(ckpts, cfg, result["references"], raw=raw)
    row.update({f"reproduced.{i}": v.reproduced for i, v in enumerate(per_run)})
    not_aligned = not_aligned_statistics(ckpts[-1]["summary"], control_summary(ckpts))
    smap = None
    if cfg.mapped(run.config.seed):
        smap = sensitivity_map_of_run(cfg, run.dir, device, progress=progress)
        row.update(map_columns(smap))
    return {
        "row": row,
        "result": result,
        "verdicts": per_run,
        "map": smap,
        "raw": raw,
        "not_aligned": not_aligned,
    }
