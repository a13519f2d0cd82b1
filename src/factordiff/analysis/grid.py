"""Condition grids and the :class:`Representation` container every analysis consumes.

A representation is one vector per condition ``(mu_x, mu_y)`` of a regular ``n_x x n_y``
grid. Rows are ordered x-major: row ``k = i * n_y + j`` holds condition ``(x_i, y_j)``, so
``X.reshape(n_x, n_y, d)[i, j]`` is the vector of that condition. On this grid:

- the *x-loop at fixed y_j* is ``grid[:, j]`` (n_x, d): all x values at that y;
- the *y-loop at fixed x_i* is ``grid[i, :]`` (n_y, d).

For periodic data these loops close (``x`` and ``x + N`` are the same image), which is why
the ideal references are tori.
"""

from __future__ import annotations

import json
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


def condition_grid(image_size: int, n_x: int, n_y: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Regular grid of conditions over the label range ``[0, image_size)``.

    The grid is cell-centred, like factordiff's training lattice: ``mu_x[i] = (i + 0.5) *
    image_size / n_x`` (pixel centres when ``n_x == image_size``), so for periodic data the
    spacing across the wrap (from the last point to the first plus ``N``) equals the others.

    Returns ``labels`` (n_x * n_y, 2) float32 with columns ``(mu_x, mu_y)`` in pixels, ordered
    x-major (row ``i * n_y + j`` is ``(mu_x[i], mu_y[j])``), and ``shape = (n_x, n_y)``.
    """
    if not isinstance(image_size, int | np.integer) or image_size < 1:
        raise ValueError(f"image_size = {image_size!r} is invalid; allowed: an integer >= 1")
    for name, n in (("n_x", n_x), ("n_y", n_y)):
        if not isinstance(n, int | np.integer) or n < 2:
            raise ValueError(f"{name} = {n!r} is invalid; allowed: an integer >= 2")
    mu_x = (np.arange(n_x) + 0.5) * image_size / n_x  # (n_x,)
    mu_y = (np.arange(n_y) + 0.5) * image_size / n_y  # (n_y,)
    gx, gy = np.meshgrid(mu_x, mu_y, indexing="ij")  # (n_x, n_y) each, x-major
    labels = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    return labels, (int(n_x), int(n_y))


def check_grid_shape(grid_shape: tuple[int, int] | None, min_side: int = MIN_GRID_SIDE) -> None:
    """Raise ``ValueError`` unless ``grid_shape`` is ``(n_x, n_y)`` with both >= ``min_side``."""
    if grid_shape is None:
        raise ValueError(
            "this analysis needs conditions on a grid: pass grid_shape = (n_x, n_y) "
            "(see factordiff.analysis.condition_grid)"
        )
    n_x, n_y = grid_shape
    if n_x < min_side or n_y < min_side:
        raise ValueError(
            f"grid {n_x} x {n_y} is too small for the loop analyses; allowed: n_x, n_y >= "
            f"{min_side}"
        )


@dataclass
class Representation:
    """One vector per condition, with the conditions and how they were obtained.

    Attributes
    ----------
    X : (n_conditions, d) float array, row ``k`` is the representation of ``labels[k]``.
    labels : (n_conditions, 2) float array, ``(mu_x, mu_y)`` in pixels.
    grid_shape : ``(n_x, n_y)`` when the conditions form an x-major grid (see the module
        docstring), else ``None`` (PCA and topology still work; the loop analyses do not).
    metadata : JSON-ready facts recorded with the result (layer, t, pooling, seed, ...).
    """

    X: np.ndarray
    labels: np.ndarray
    grid_shape: tuple[int, int] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X)
        self.labels = np.asarray(self.labels)
        if self.X.ndim != 2:
            raise ValueError(f"X must have shape (n_conditions, d), got {self.X.shape}")
        if self.labels.shape != (self.X.shape[0], 2):
            raise ValueError(
                f"labels must have shape ({self.X.shape[0]}, 2) to match X, got {self.labels.shape}"
            )
        if self.grid_shape is not None:
            n_x, n_y = (int(v) for v in self.grid_shape)
            self.grid_shape = (n_x, n_y)
            if n_x * n_y != self.X.shape[0]:
                raise ValueError(
                    f"grid_shape {self.grid_shape} does not match {self.X.shape[0]} conditions"
                )
            # The loop analyses index rows as (i, j); a wrongly ordered grid would silently
            # mix x and y, so check the x-major order here, once.
            g = self.labels.reshape(n_x, n_y, 2)
            if not (np.allclose(g[:, :1, 0], g[:, :, 0]) and np.allclose(g[:1, :, 1], g[:, :, 1])):
                raise ValueError(
                    "labels are not an x-major grid: row i * n_y + j must hold "
                    "(mu_x[i], mu_y[j]); build them with condition_grid()"
                )

    @property
    def n_conditions(self) -> int:
        return int(self.X.shape[0])

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    def as_grid(self) -> np.ndarray:
        """The representation as ``(n_x, n_y, d)``: ``[i, j]`` is condition ``(x_i, y_j)``."""
        check_grid_shape(self.grid_shape, min_side=1)
        return self.X.reshape(*self.grid_shape, self.dim)

    def subgrid(self, step: int) -> Representation:
        """Every ``step``-th condition along each axis (a coarser grid of the same conditions;
        ``step`` = 2 turns 32 x 32 into 16 x 16), metadata kept with ``subgrid_step`` added."""
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1:
            raise ValueError(f"step = {step!r} is invalid; allowed: an integer >= 1")
        G = self.as_grid()[::step, ::step]
        L = self.labels.reshape(*self.grid_shape, 2)[::step, ::step]
        return Representation(
            X=G.reshape(-1, self.dim),
            labels=L.reshape(-1, 2),
            grid_shape=G.shape[:2],
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
