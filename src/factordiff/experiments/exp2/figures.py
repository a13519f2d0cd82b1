"""Experiment 2's figures: leaf plots from saved numbers and arrays, and the figures of a sweep.

The ``plot_*`` functions return a matplotlib ``Figure`` (no pyplot state) from numbers and
arrays; :func:`draw_figures` reads the run folders' ``exp2/*.npz`` and the evaluations and
saves what they return. Nothing here trains or samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import numpy as np

from factordiff.experiments.exp2.config import (
    EVAL_DIR,
    MAIN_MODELS,
    POSITIONS,
    RIM_GRID,
    Exp2Config,
)
from factordiff.experiments.exp2.designs import lesion_width_px
from factordiff.experiments.exp2.runs import index_results


def plot_section_bars(models: dict[str, list[dict]]):
    """Per-section x and y accuracy, one panel per model: bars = mean over seeds, dots =
    each seed. ``models``: name -> one dict per seed (section name -> section dict)."""
    from matplotlib.figure import Figure

    from factordiff.plotting import SEED_GID

    fig = Figure(figsize=(4.2 * len(models), 3.2), layout="constrained")
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, (name, per_seed) in zip(axes, models.items()):
        names = list(per_seed[0])
        x = np.arange(len(names))
        for shift, axis, color in ((-0.2, "x", "tab:blue"), (0.2, "y", "tab:orange")):
            acc = np.array(
                [
                    [
                        np.nan if s[n][f"{axis}_accuracy"] is None else s[n][f"{axis}_accuracy"]
                        for n in names
                    ]
                    for s in per_seed
                ]
            )  # (seeds, sections)
            ax.bar(
                x + shift,
                np.nanmean(acc, axis=0),
                0.4,
                label=axis,
                color=color,
                alpha=0.8,
            )
            for i, row in enumerate(acc):
                (dots,) = ax.plot(
                    x + shift,
                    row,
                    "o",
                    color="black",
                    ms=2.5,
                    label="each seed" if axis == "x" and i == 0 else None,
                )
                dots.set_gid(SEED_GID)
        ax.set_xticks(x, [n.replace("hole_", "").replace("_", "\n") for n in names], fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("accuracy")
    axes[0].legend(fontsize=8)
    return fig


def plot_image_grid(
    images,
    labels,
    correct,
    section,
    names,
    title: str,
    per_row: int,
    tolerance_px: float | None = None,
):
    """Generated images in rows by section (at most ``per_row`` each), target marked, each
    row named at its left and a key below (:func:`factordiff.plotting.grid_key`, naming the
    accuracy's ``tolerance_px``)."""
    from matplotlib.figure import Figure

    from factordiff.plotting import grid_key

    rows = [np.flatnonzero(section == i)[:per_row] for i in range(len(names))]
    rows = [(names[i], idx) for i, idx in enumerate(rows) if len(idx)]
    cols = max([len(idx) for _, idx in rows] + [1])
    named = any(name for name, _ in rows)
    wide = cols >= 10  # the key in one row under a wide grid, stacked under a narrow one
    fig = Figure(
        figsize=(
            0.8 * cols + (1.4 if named else 0.2),
            0.8 * max(1, len(rows)) + (0.9 if wide else 1.3),
        ),
        layout="constrained",
    )
    axes = fig.subplots(max(1, len(rows)), cols, squeeze=False)
    for r, (name, idx) in enumerate(rows):
        label = name.replace("hole_", "").replace("_", " ")
        axes[r, 0].set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(idx):
                ax.axis("off")
                continue
            k = idx[c]
            ax.imshow(images[k], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
            ax.plot(labels[k, 0] - 0.5, labels[k, 1] - 0.5, "+", color="red", ms=6, mew=1.2)
            for sp in ax.spines.values():
                sp.set_edgecolor("tab:green" if correct[k] else "tab:red")
                sp.set_linewidth(1.5)
    fig.suptitle(title, fontsize=10)
    grid_key(fig, tolerance_px, ncol=3 if wide else 1)
    return fig


def plot_accuracy_curves(
    curves: dict[str, tuple[list, list]], xlabel: str, title: str, log_x=False
):
    """Lines of accuracy against a swept value: name -> (xs, accuracies), the accuracies
    either one list (one seed) or one list per seed (line = mean over seeds, dots = each
    seed; None = no value)."""
    from matplotlib.figure import Figure

    from factordiff.plotting import SEED_GID

    fig = Figure(figsize=(4.8, 3.4), layout="constrained")
    ax = fig.subplots()
    for name, (xs, ys) in curves.items():
        per_seed = [ys] if not ys or not isinstance(ys[0], (list, tuple)) else list(ys)
        acc = np.array([[np.nan if v is None else v for v in row] for row in per_seed], float)
        label = name if len(acc) == 1 else f"{name}: mean of {len(acc)} seeds (dots: each)"
        (line,) = ax.plot(xs, np.nanmean(acc, axis=0), "o-", label=label)
        if len(acc) > 1:
            for row in acc:
                (dots,) = ax.plot(xs, row, ".", color=line.get_color(), ms=4, alpha=0.6)
                dots.set_gid(SEED_GID)
    if log_x:
        ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("joint accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return fig


# ----------------------------------------------------------------------------- a sweep's figures
def draw_figures(cfg: Exp2Config, results: list[dict], fig_dir: Path) -> list[str]:
    """The experiment's figures from the saved evaluations (arrays and numbers)."""
    from factordiff.plotting import save_figure

    fig_dir.mkdir(parents=True, exist_ok=True)
    by = index_results(results)
    dirs = {
        (
            r["run"].params["part"],
            r["run"].params.get("model"),
            r["run"].params["seed"],
        ): r["run"].dir
        for r in results
    }
    tolerance = results[0]["run"].config.eval.tolerance_px if results else None
    written: list[str] = []
    figures = []
    if "main" in cfg.parts:
        figures.append(_main_figures(cfg, by, dirs, tolerance))
    if "rim" in cfg.parts:
        figures.append(_rim_figures(cfg, dirs, tolerance))
    figures.append(_curve_figures(cfg, by))
    for fig, name in chain.from_iterable(figures):  # each drawn, then saved, in turn
        save_figure(fig, fig_dir / name, dpi=100)
        written.append(name)
    return written


def _main_figures(
    cfg: Exp2Config, by: dict, dirs: dict, tolerance: float | None
) -> Iterator[tuple]:
    """The main comparison: accuracy per section of each model over the seeds, and the
    first seed's images per section of each model."""
    s0 = cfg.seeds[0]
    models = {
        f"{m} ({len(cfg.seeds)} seeds)": [
            by[("main", m, s)]["spaces"]["plus"]["sections"] for s in cfg.seeds
        ]
        for m in MAIN_MODELS
    }
    yield plot_section_bars(models), "section_accuracy.png"
    for m in MAIN_MODELS:
        z = np.load(dirs[("main", m, s0)] / EVAL_DIR / "plus.npz")
        fig = plot_image_grid(
            z["images"],
            z["labels"],
            z["correct"],
            z["section"],
            list(z["section_names"]),
            f"{m} model (seed {s0})",
            per_row=cfg.grid_images,
            tolerance_px=tolerance,
        )
        yield fig, f"grid_{m.replace('+', '_')}.png"


def _rim_figures(cfg: Exp2Config, dirs: dict, tolerance: float | None) -> Iterator[tuple]:
    """The rim ablation: the first seed's images on interior 2D conditions, with and
    without the rim."""
    s0 = cfg.seeds[0]
    for model, part in (("1d", "main"), ("1d-norim", "rim")):
        z = np.load(dirs[(part, model, s0)] / EVAL_DIR / "rim.npz")
        # 25 images per model (paper Fig. 10) on interior 2D conditions, 5 per row
        names = list(z["section_names"])
        idx = np.flatnonzero(z["section"] == names.index("held_out"))[:RIM_GRID]
        fig = plot_image_grid(
            z["images"][idx],
            z["labels"][idx],
            z["correct"][idx],
            np.arange(len(idx)) // 5,
            [""] * math.ceil(len(idx) / 5),
            f"{model} (seed {s0}): interior 2D conditions",
            per_row=5,
            tolerance_px=tolerance,
        )
        yield fig, f"grid_rim_{model}.png"


def _curve_figures(cfg: Exp2Config, by: dict) -> Iterator[tuple]:
    """The curves (lesion width, square size, sampling rate): accuracy per seed."""
    curve = cfg.curve_seed_list()  # every curve: one list of accuracies per seed

    def own(part: str, key, seed: int, section: str = "held_out"):
        return by[(part, key, seed)]["spaces"]["own"]["sections"][section]["accuracy"]

    if "lesion" in cfg.parts:
        ks = sorted(cfg.lesion_columns)
        acc = [[own("lesion", k, s) for k in ks] for s in curve]
        px = lesion_width_px(1, cfg.image_size)
        yield (
            plot_accuracy_curves(
                {"in the lesion": (ks, acc)},
                f"lattice columns removed ({px:g} px each at N = {cfg.image_size})",
                "interpolation",
            ),
            "lesion_width.png",
        )
    if "squares" in cfg.parts:
        ws = sorted(cfg.square_widths)
        curves = {
            f"{kind}, {pos}": (
                ws,
                [[own("squares", (kind, pos, w), s) for w in ws] for s in curve],
            )
            for kind in cfg.square_kinds
            for pos in POSITIONS
        }
        yield (
            plot_accuracy_curves(curves, "square size W (px at N = 32)", "held-out square"),
            "squares.png",
        )
    if "subsampling" in cfg.parts:
        rates = sorted(cfg.sampling_rates)
        acc = [[own("subsampling", r, s, "in_distribution") for r in rates] for s in curve]
        yield (
            plot_accuracy_curves(
                {"bumps + stripes": (rates, acc)},
                "sampling rate of the 2D part",
                "subsampling",
                log_x=True,
            ),
            "sampling_rate.png",
        )
