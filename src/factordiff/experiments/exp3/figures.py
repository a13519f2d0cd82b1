"""Experiment 3's figures: accuracy against share at the largest N, and the dataset size at
the threshold against N with the paper's slopes (:func:`draw_figures`; the plots themselves
are in :mod:`factordiff.plotting`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from factordiff.experiments.budgets import stats
from factordiff.experiments.exp3.config import DATASETS, Exp3Config
from factordiff.experiments.exp3.verdicts import verdicts_from_rows


def share_curves(rows: list[dict], n: int) -> dict[str, dict[str, tuple]]:
    """Each accuracy against share at image size ``n``: ``(shares (K,), mean (K,), std (K,),
    per seed (S, K))`` over the seeds (NaN where a seed has no value)."""
    out: dict[str, dict[str, tuple]] = {}
    seeds = sorted({r["seed"] for r in rows})
    for dataset in DATASETS:
        sel = [r for r in rows if r["dataset"] == dataset and r["N"] == n]
        shares = sorted({r["share"] for r in sel})
        out[dataset] = {}
        for metric in ("lattice", "heldout"):
            per = [stats([r[metric] for r in sel if r["share"] == s]) for s in shares]
            each = np.full((len(seeds), len(shares)), np.nan)
            for r in sel:
                v = r[metric]
                each[seeds.index(r["seed"]), shares.index(r["share"])] = np.nan if v is None else v
            out[dataset][metric] = (
                np.array(shares),
                np.array([p["mean"] for p in per]),
                np.nan_to_num(np.array([p["std"] for p in per])),
                each,
            )
    return out


#: The paper's exponents of Fig. 5c, drawn as reference slopes: ``{exponent: label}``.
PAPER_SLOPES = {1.0: "paper, with 1D stripes: ∝ N", 2.0: "paper, 2D bumps alone: ∝ N²"}


def draw_figures(cfg: Exp3Config, results: list[dict], fig_dir: Path) -> list[str]:
    """Draw the sweep's figures into ``fig_dir``; returns the file names written."""
    from factordiff.plotting import (
        plot_accuracy_vs_share,
        plot_threshold_size_scaling,
        save_figure,
    )

    rows = [r["row"] for r in results]
    fig_dir.mkdir(parents=True, exist_ok=True)
    n = max(cfg.image_sizes)
    seeds = sorted({r["seed"] for r in rows})
    save_figure(
        plot_accuracy_vs_share(share_curves(rows, n), f"N = {n}, seeds {seeds}"),
        fig_dir / "accuracy_vs_share.png",
    )
    _, extra = verdicts_from_rows(rows, cfg)
    sizes = extra["sizes"]
    fits = {k: v["fit"] for k, v in extra["fits"].items() if v["fit"] is not None}
    reached = {k: sizes[k]["size"] for k in DATASETS if np.isfinite(sizes[k]["size"]).any()}
    if reached:
        fig = plot_threshold_size_scaling(
            np.asarray(sizes[DATASETS[0]]["image_sizes"], np.float64),
            reached,
            fits,
            threshold=cfg.threshold,
            references=PAPER_SLOPES,
        )
    else:  # log axes need a point; say plainly that there is none
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.2, 4.0))
        fig.text(0.5, 0.5, f"no run reached {cfg.threshold:.0%} accuracy", ha="center")
    save_figure(fig, fig_dir / "size_at_threshold.png")
    return ["accuracy_vs_share.png", "size_at_threshold.png"]
