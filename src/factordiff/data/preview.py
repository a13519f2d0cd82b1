"""A picture of a dataset: example images and where its labels lie (a plotting leaf).

:func:`preview_figure` takes a built :class:`~factordiff.data.datasets.Dataset` and returns a
matplotlib figure; it never renders or trains anything itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.patches import Rectangle

from factordiff.data.datasets import TAG_NAMES, Dataset

_MAX_SCATTER = 6000  # label-space points drawn; a dense lattice is thinned to this many


def choose_examples(ds: Dataset, n: int, seed: int) -> np.ndarray:
    """Indices of ``min(n, len(ds))`` examples, taken in turn from each part (so a mixture
    shows all its parts), at random within a part; (k,) int64."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n = {n!r} is invalid; allowed: an integer >= 1")
    rng = np.random.default_rng(seed)
    pools = [rng.permutation(np.flatnonzero(ds.parts == p)) for p in range(len(ds.part_names))]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < min(n, len(ds)):
        for pool in pools:
            if depth < len(pool) and len(chosen) < n:
                chosen.append(int(pool[depth]))
        depth += 1
    return np.asarray(chosen, np.int64)


def preview_figure(ds: Dataset, n: int = 16, seed: int = 0, title: str = "") -> Figure:
    """Grid of example images (model space, grey scale [-1, 1]) titled with label, tag and
    part, beside the label space: training labels by part, the frame, held-out regions.

    Images are drawn in pixel coordinates (pixel ``i`` spans ``[i, i+1)``) with a red cross at
    the label when it lies in the frame, so the coordinate convention can be checked by eye.
    """
    idx = choose_examples(ds, n, seed)
    cfg = ds.config
    size = cfg.image_size
    cols = int(np.ceil(np.sqrt(len(idx))))
    rows = int(np.ceil(len(idx) / cols))
    fig = Figure(figsize=(1.7 * cols + 5.0, max(1.8 * rows, 4.8)), layout="constrained")
    gs = GridSpec(rows, cols + 3, figure=fig)
    images = ds.images[idx, 0].numpy()
    labels = ds.labels[idx].numpy()
    for k, (img, (mx, my)) in enumerate(zip(images, labels)):
        ax = fig.add_subplot(gs[k // cols, k % cols])
        ax.imshow(img, cmap="gray", vmin=-1, vmax=1, extent=(0, size, size, 0))
        if 0 <= mx <= size and 0 <= my <= size:
            ax.plot([mx], [my], "r+", ms=5, mew=0.8)
        part = ds.part_names[ds.parts[idx[k]]]
        ax.set_title(f"({mx:.1f}, {my:.1f}) {TAG_NAMES[ds.tags[idx[k]]]}\n{part}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])

    ax = fig.add_subplot(gs[:, cols:])
    lab = ds.labels.numpy()
    thin = np.random.default_rng(seed).permutation(len(lab))[:_MAX_SCATTER]
    for p, name in enumerate(ds.part_names):
        sel = thin[ds.parts[thin] == p]
        ax.scatter(lab[sel, 0], lab[sel, 1], s=3, label=f"{name} ({ds.part_counts[name]})")
    ax.add_patch(Rectangle((0, 0), size, size, fill=False, ls="--", lw=1, color="k"))
    held = ds.regions.get("held_out")
    for r in held.include if held is not None else ():
        ax.add_patch(
            Rectangle(
                (r.x.lo, r.y.lo),
                r.x.hi - r.x.lo,
                r.y.hi - r.y.lo,
                fill=False,
                hatch="///",
                color="tab:red",
                lw=0.8,
            )
        )
    ax.scatter(labels[:, 0], labels[:, 1], s=30, facecolors="none", edgecolors="k", lw=0.8)
    lo, hi = -cfg.margin - 0.5, size + cfg.margin + 0.5
    ax.set_xlim(lo, hi)
    ax.set_ylim(hi, lo)  # y grows downwards, as rows do in the images
    ax.set_aspect("equal")
    ax.set_xlabel("mu_x (px)")
    ax.set_ylabel("mu_y (px)")
    ax.legend(fontsize=7, loc="upper right", markerscale=3)
    held_txt = "; hatched: held out" if held is not None else ""
    ax.set_title(f"labels ({len(ds)}); dashed: frame{held_txt}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def save_preview(ds: Dataset, out: str | Path, n: int = 16, seed: int = 0, title: str = "") -> Path:
    """Write :func:`preview_figure` to ``out`` (format from the suffix, e.g. ``.png``);
    creates missing parent folders and returns the absolute path."""
    path = Path(out).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    preview_figure(ds, n=n, seed=seed, title=title).savefig(path, dpi=110)
    return path
