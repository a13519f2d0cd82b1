"""Condition grids and the :class:`Representation` container every analysis consumes.

A representation is one vector per condition ``(mu_x, mu_y)`` of a regular ``n_x x n_y``
grid. Rows are ordered x-major: row ``k = i * n_y + j`` holds condition ``(x_i, y_j)``, so
``X.reshape(n_x, n_y, d)[i, j]`` is the vector of that condition. On this grid:

- the *x-loop at fixed y_j* is ``grid[:, j]`` (n_x, d): all x values at that y;
- the *y-loop at fixed x_i* is ``grid[i, :]`` (n_y, d).

For periodic data these loops close (``x`` and ``x + N`` are the same image), which is why
the ideal references are tori.

Conditions of F factors (F = 2, ``(mu_x, mu_y)``, for all of today's data) form a product
grid in the same order, first factor outermost (:func:`product_grid`), and a
:class:`Representation` holds (n_conditions, F) labels with one grid side per factor. The
loop analyses (:func:`check_grid_shape`) are 2-D and refuse F != 2.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Smallest grid side the loop analyses accept: a loop needs more points than the dimension
#: of its subspace, and parallelism needs at least two loops to compare.
MIN_GRID_SIDE = 4

#: Largest grid side of an analysis of a run (``factordiff analyze --grid``, Experiment 1's
#: ``grid`` and ``map_grid``), OUR bound: 64 x 64 = 4,096 conditions, 4 times the default
#: 32 x 32. The analysis holds one vector per condition (the paper model's last up block,
#: flattened, is 65,536 values: 1 GiB per layer at 64 x 64, more while extracting) and
#: persistent homology runs on every condition (1-3 min at 32 x 32 on 2 cores,
#: docs/analysis.md), so memory and time grow with n_x * n_y and beyond.
MAX_GRID_SIDE = 64

#: Why the bound is there, for the messages that refuse a larger grid.
MAX_GRID_REASON = (
    f"at most {MAX_GRID_SIDE} per axis, {MAX_GRID_SIDE**2:,} conditions, 4 times the default "
    "32 x 32: the analysis keeps one activation vector per condition, up to 1 GiB per layer "
    f"at {MAX_GRID_SIDE} x {MAX_GRID_SIDE}, and persistent homology runs on all of them"
)


def check_grid_side(n, name: str = "grid", min_side: int = MIN_GRID_SIDE) -> int:
    """``n`` (conditions per axis of an analysis grid) as an int, or ``ValueError`` naming it
    unless it is an integer in ``[min_side, MAX_GRID_SIDE]``. Checked before anything is
    extracted or written (a side of 100,000 would ask for 75 GiB of labels alone)."""
    if (
        isinstance(n, bool)
        or not isinstance(n, int | np.integer)
        or not min_side <= n <= MAX_GRID_SIDE
    ):
        what = f"{name} {n!r}" if name.startswith("--") else f"{name} = {n!r}"
        raise ValueError(
            f"{what} is invalid; allowed: an integer in [{min_side}, {MAX_GRID_SIDE}] "
            f"conditions per axis ({MAX_GRID_REASON})"
        )
    return int(n)


def product_grid(image_size: int, sides: Sequence[int]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Regular product grid of conditions of F = ``len(sides)`` factors, each over the label
    range ``[0, image_size)`` with ``sides[f]`` points.

    The grid is cell-centred, like factordiff's training lattice: factor ``f`` takes the values
    ``(i + 0.5) * image_size / sides[f]`` (pixel centres when ``sides[f] == image_size``), so
    for periodic data the spacing across the wrap (from the last point to the first plus
    ``N``) equals the others.

    Returns ``labels`` (prod(sides), F) float32, one column per factor, every combination once,
    first factor outermost (row ``np.ravel_multi_index((i_0, ..., i_{F-1}), sides)`` holds
    the ``i_f``-th value of each factor: x-major for F = 2), and ``shape = tuple(sides)``.
    """
    if not isinstance(image_size, int | np.integer) or image_size < 1:
        raise ValueError(f"image_size = {image_size!r} is invalid; allowed: an integer >= 1")
    sides = tuple(sides)
    if not sides:
        raise ValueError("sides = () is invalid; allowed: one grid side per factor, F >= 1")
    names = ("n_x", "n_y") if len(sides) == 2 else [f"sides[{f}]" for f in range(len(sides))]
    for name, n in zip(names, sides):
        if not isinstance(n, int | np.integer) or n < 2:
            raise ValueError(f"{name} = {n!r} is invalid; allowed: an integer >= 2")
    axes = [(np.arange(n) + 0.5) * image_size / n for n in sides]  # (sides[f],) each
    grids = np.meshgrid(*axes, indexing="ij")  # sides each, first factor outermost
    labels = np.stack([g.ravel() for g in grids], axis=1).astype(np.float32)
    return labels, tuple(int(n) for n in sides)


def condition_grid(image_size: int, n_x: int, n_y: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Regular grid of conditions ``(mu_x, mu_y)`` over the label range ``[0, image_size)``:
    the F = 2 :func:`product_grid`.

    The grid is cell-centred, like factordiff's training lattice: ``mu_x[i] = (i + 0.5) *
    image_size / n_x`` (pixel centres when ``n_x == image_size``), so for periodic data the
    spacing across the wrap (from the last point to the first plus ``N``) equals the others.

    Returns ``labels`` (n_x * n_y, 2) float32 with columns ``(mu_x, mu_y)`` in pixels, ordered
    x-major (row ``i * n_y + j`` is ``(mu_x[i], mu_y[j])``), and ``shape = (n_x, n_y)``.
    """
    return product_grid(image_size, (n_x, n_y))


def _require_grid(grid_shape: tuple[int, ...] | None) -> None:
    if grid_shape is None:
        raise ValueError(
            "this analysis needs conditions on a grid: pass grid_shape = (n_x, n_y) "
            "(see factordiff.analysis.condition_grid)"
        )


def check_grid_shape(grid_shape: tuple[int, ...] | None, min_side: int = MIN_GRID_SIDE) -> None:
    """Raise ``ValueError`` unless ``grid_shape`` is ``(n_x, n_y)`` with both >= ``min_side``.

    The loop analyses are 2-D (x-loops at fixed y and y-loops at fixed x), so a grid of
    F != 2 factors is refused here, by name."""
    _require_grid(grid_shape)
    if len(grid_shape) != 2:
        raise ValueError(
            f"the loop analyses need F = 2 factors (x, y); got F = {len(grid_shape)} "
            f"(grid_shape = {tuple(grid_shape)})"
        )
    n_x, n_y = grid_shape
    if n_x < min_side or n_y < min_side:
        raise ValueError(
            f"grid {n_x} x {n_y} is too small for the loop analyses; allowed: n_x, n_y >= "
            f"{min_side}"
        )


def _check_grid_order(labels: np.ndarray, shape: tuple[int, ...]) -> None:
    """``ValueError`` unless the (n, F) ``labels`` are a product grid of ``shape`` in the order
    of :func:`product_grid`: column ``f`` varies along grid axis ``f`` only.

    The loop analyses index rows as (i, j); a wrongly ordered grid would silently mix x and y,
    so the order is checked here, once."""
    f_count = len(shape)
    g = labels.reshape(*shape, f_count)
    for f in range(f_count):
        # g[:, :1, 0] and g[:1, :, 1] for F = 2: the column at the first index of every other axis
        first = tuple(slice(None) if a == f else slice(0, 1) for a in range(f_count))
        if np.allclose(g[(*first, f)], g[..., f]):
            continue
        if f_count == 2:
            raise ValueError(
                "labels are not an x-major grid: row i * n_y + j must hold "
                "(mu_x[i], mu_y[j]); build them with condition_grid()"
            )
        raise ValueError(
            f"labels are not a product grid of shape {shape} with the first factor outermost: "
            f"column {f} must vary along grid axis {f} only; build them with product_grid()"
        )


@dataclass
class Representation:
    """One vector per condition, with the conditions and how they were obtained.

    Attributes
    ----------
    X : (n_conditions, d) float array, row ``k`` is the representation of ``labels[k]``.
    labels : (n_conditions, F) float array, one column per factor in pixels: ``(mu_x, mu_y)``
        for F = 2, all of today's data.
    grid_shape : ``(n_x, n_y)`` (one side per factor) when the conditions form an x-major
        grid (see the module docstring), else ``None`` (PCA and topology still work; the loop
        analyses do not).
    metadata : JSON-ready facts recorded with the result (layer, t, pooling, seed, ...).
    """

    X: np.ndarray
    labels: np.ndarray
    grid_shape: tuple[int, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X)
        self.labels = np.asarray(self.labels)
        if self.X.ndim != 2:
            raise ValueError(f"X must have shape (n_conditions, d), got {self.X.shape}")
        n = self.X.shape[0]
        if self.labels.ndim != 2 or self.labels.shape[0] != n or self.labels.shape[1] < 1:
            raise ValueError(
                f"labels must have shape ({n}, F) to match X, one column per factor (F = 2: "
                f"(mu_x, mu_y)), got {self.labels.shape}"
            )
        if self.grid_shape is not None:
            shape = tuple(int(v) for v in self.grid_shape)
            if len(shape) != self.num_factors:
                raise ValueError(
                    f"grid_shape {shape} has {len(shape)} sides for labels of F = "
                    f"{self.num_factors} factors; allowed: one side per factor"
                )
            self.grid_shape = shape
            if math.prod(shape) != n:
                raise ValueError(f"grid_shape {self.grid_shape} does not match {n} conditions")
            _check_grid_order(self.labels, shape)

    @property
    def n_conditions(self) -> int:
        return int(self.X.shape[0])

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    @property
    def num_factors(self) -> int:
        """F, the label columns: 2 for ``(mu_x, mu_y)``."""
        return int(self.labels.shape[1])

    def as_grid(self) -> np.ndarray:
        """The representation as ``(n_x, n_y, d)``: ``[i, j]`` is condition ``(x_i, y_j)``
        (``(*grid_shape, d)`` for F factors)."""
        if self.num_factors == 2:
            check_grid_shape(self.grid_shape, min_side=1)
        else:
            _require_grid(self.grid_shape)
        return self.X.reshape(*self.grid_shape, self.dim)

    def subgrid(self, step: int) -> Representation:
        """Every ``step``-th condition along each axis (a coarser grid of the same conditions;
        ``step`` = 2 turns 32 x 32 into 16 x 16), metadata kept with ``subgrid_step`` added."""
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1:
            raise ValueError(f"step = {step!r} is invalid; allowed: an integer >= 1")
        f = self.num_factors
        every = (slice(None, None, step),) * f  # [::step, ::step] for F = 2
        G = self.as_grid()[every]
        L = self.labels.reshape(*self.grid_shape, f)[every]
        return Representation(
            X=G.reshape(-1, self.dim),
            labels=L.reshape(-1, f),
            grid_shape=G.shape[:f],
            metadata={**self.metadata, "subgrid_step": int(step)},
        )

    def save(self, path: str | Path) -> None:
        """Write ``X``, ``labels``, ``grid_shape`` and ``metadata`` (as JSON) to an ``.npz``."""
        np.savez_compressed(
            path,
            X=self.X,
            labels=self.labels,
            grid_shape=np.array(self.grid_shape if self.grid_shape else (-1, -1)),
            metadata=np.array(json.dumps(self.metadata)),
        )

    @classmethod
    def load(cls, path: str | Path) -> Representation:
        """Read a representation written by :meth:`save`."""
        with np.load(path) as f:
            shape = tuple(int(v) for v in f["grid_shape"])
            return cls(
                X=f["X"],
                labels=f["labels"],
                grid_shape=None if shape == (-1, -1) else shape,
                metadata=json.loads(str(f["metadata"])),
            )
