"""What every figure of factordiff shares: saving (:func:`save_figure`), the thin per-seed
lines (:func:`seed_lines`, gid :data:`SEED_GID`), log axes labelled in plain numbers
(:func:`plain_log_axis`) and one colour per bump width (:func:`_sigma_colors`).

A leaf like the figure modules that use it (:mod:`factordiff.plotting`,
:mod:`factordiff.plotting_repr`, :mod:`factordiff.plotting_exp`,
:mod:`factordiff.plotting_scaling`): numbers in, nothing computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

#: The gid of the thin per-seed lines, so that a test (or a reader of the SVG) can find them.
SEED_GID = "seed"


def save_figure(fig: Figure, path, dpi: int = 110) -> None:
    """Save ``fig`` as every experiment figure is saved: cropped to what is drawn
    (``bbox_inches="tight"``), so no label is clipped at the figure's edge."""
    fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.05)


def _sigma_colors(keys: Sequence[float]) -> dict[float, Any]:
    """One colour per width, ordered from narrow (light) to wide (dark)."""
    from matplotlib import colormaps

    keys = sorted(set(keys))
    cmap = colormaps["viridis"]
    return {k: cmap(0.85 - 0.75 * i / max(1, len(keys) - 1)) for i, k in enumerate(keys)}


def plain_log_axis(ax, axis: str = "x", values: Sequence[float] | None = None) -> None:
    """A log axis labelled in plain numbers (``0.05``, ``16``), never ``5x10^-2``.

    ``values``: label exactly these (e.g. the image sizes in the data) and nothing else;
    otherwise 1, 2 and 5 times the powers of ten (more steps within one decade, the powers
    alone over more than two). Minor ticks are never labelled, so labels cannot overlap.
    Call after drawing: the limits decide the steps."""
    from matplotlib.ticker import (
        FixedLocator,
        FuncFormatter,
        LogLocator,
        NullFormatter,
        NullLocator,
    )

    a = ax.xaxis if axis == "x" else ax.yaxis
    if values is not None:
        a.set_major_locator(FixedLocator(sorted({float(v) for v in values})))
        a.set_minor_locator(NullLocator())
    else:
        lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
        decades = math.log10(hi / lo) if lo > 0 else math.inf
        subs = (1.0, 2.0, 3.0, 5.0) if decades <= 1 else (1.0, 2.0, 5.0)
        a.set_major_locator(LogLocator(base=10, subs=subs if decades <= 2.2 else (1.0,)))
        a.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10)))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())


def seed_lines(ax, x, per_seed, color, label: str | None = None, marker: str = ".") -> list:
    """A thin line per seed (row of ``per_seed`` (S, K) against ``x`` (K,)), gid
    :data:`SEED_GID`, NaN points left out; nothing for one seed (its mean is itself). The
    first line carries ``label`` into a legend."""
    per = np.atleast_2d(np.asarray(per_seed, dtype=float))
    x = np.asarray(x, dtype=float)
    if len(per) < 2:
        return []
    lines = []
    for i, row in enumerate(per):
        ok = np.isfinite(row)
        (line,) = ax.plot(
            x[ok],
            row[ok],
            "-",
            marker=marker,
            ms=3,
            lw=0.7,
            alpha=0.45,
            color=color,
            label=label if i == 0 and label else "_nolegend_",
        )
        line.set_gid(SEED_GID)
        lines.append(line)
    return lines
