"""Figures of generated images (a leaf: arrays in, matplotlib figures out)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def sample_grid_figure(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    correct: np.ndarray | None = None,
    title: str | None = None,
    max_images: int = 64,
):
    """A grid of images (M, N, N) in [-1, 1], each with its target (mu_x, mu_y) marked by a
    red cross and titled with the label; frames green/red when ``correct`` (M,) is given.

    Pixel ``i`` covers ``[i, i+1)``, so a label ``mu`` is drawn at ``mu - 0.5`` in imshow's
    pixel-centre coordinates."""
    images = np.asarray(images)[:max_images]
    labels = np.asarray(labels)[:max_images]
    m = len(images)
    cols = min(8, max(1, m))
    rows = math.ceil(m / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.75 * rows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= m:
            ax.axis("off")
            continue
        ax.imshow(images[k], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.plot(labels[k, 0] - 0.5, labels[k, 1] - 0.5, "+", color="red", ms=7, mew=1.2)
        ax.set_title(f"({labels[k, 0]:.1f}, {labels[k, 1]:.1f})", fontsize=7)
        if correct is not None:
            for s in ax.spines.values():
                s.set_edgecolor("tab:green" if correct[k] else "tab:red")
                s.set_linewidth(2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
