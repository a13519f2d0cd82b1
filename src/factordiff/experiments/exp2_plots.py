"""Leaf: Experiment 2's figures from saved numbers and arrays; nothing here trains or samples.

Every function returns a matplotlib ``Figure`` (no pyplot state); ``exp2.draw_figures`` reads
the run folders' ``exp2/*.npz`` and evaluations and saves what these return.
"""

from __future__ import annotations

import numpy as np


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
            ax.bar(x + shift, np.nanmean(acc, axis=0), 0.4, label=axis, color=color, alpha=0.8)
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
