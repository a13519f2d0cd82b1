"""Regions of label space: unions of axis-aligned rectangles, minus others.

A :class:`Region` says which labels ``(mu_x, mu_y)`` belong to it. Holes (held-out parts of
the training lattice) and the sections the paper reports accuracy on are regions;
:func:`build_regions` derives the named regions of a dataset from its config:

- ``all``: the frame, ``[0, N]^2`` (``[0, N)^2`` when periodic): where accuracy is measured.
- ``in_distribution``: frame labels whose 2D image is in the training set (for the stripes
  dataset: the SOS rim).
- ``held_out``: frame labels whose 2D image is not (the hole; for stripes also the interior).
- for the plus hole, its disjoint sections ``hole_vertical`` (x in the band, y not),
  ``hole_horizontal`` (y in the band, x not) and ``hole_intersection`` (both).

Bounds are stated as closed or open per interval; a closed bound also admits values up to
``COORD_EPS`` outside it and an open bound rejects values within ``COORD_EPS`` inside it, so
float32 labels classify like their float64 originals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from factordiff.config import HOLE_KINDS, DataConfig
from factordiff.data.render import COORD_EPS, check_xy_factors


@dataclass(frozen=True)
class Interval:
    """An interval of one coordinate, each bound closed (inclusive) or open."""

    lo: float
    hi: float
    lo_closed: bool = True
    hi_closed: bool = True

    def contains(self, v: np.ndarray) -> np.ndarray:
        """(...) coordinates -> (...) bool."""
        above = v >= self.lo - COORD_EPS if self.lo_closed else v > self.lo + COORD_EPS
        below = v <= self.hi + COORD_EPS if self.hi_closed else v < self.hi - COORD_EPS
        return above & below

    def __str__(self) -> str:
        return f"{'[' if self.lo_closed else '('}{self.lo:g}, {self.hi:g}{']' if self.hi_closed else ')'}"


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle of label space: ``mu_x in x`` and ``mu_y in y``."""

    x: Interval
    y: Interval

    @classmethod
    def from_bounds(
        cls, x_min: float, x_max: float, y_min: float, y_max: float, inclusive: bool = True
    ) -> Rect:
        """Rectangle with all four bounds closed (``inclusive``) or all open."""
        return cls(
            Interval(x_min, x_max, inclusive, inclusive),
            Interval(y_min, y_max, inclusive, inclusive),
        )

    def contains(self, labels: np.ndarray) -> np.ndarray:
        """(B, 2) labels -> (B,) bool."""
        return self.x.contains(labels[:, 0]) & self.y.contains(labels[:, 1])

    def __str__(self) -> str:
        return f"x in {self.x}, y in {self.y}"


@dataclass(frozen=True)
class Region:
    """Labels in any rectangle of ``include`` and in none of ``exclude``.

    An empty ``include`` gives the empty region."""

    include: tuple[Rect, ...] = ()
    exclude: tuple[Rect, ...] = ()
    description: str = ""

    def contains(self, labels: torch.Tensor | np.ndarray) -> np.ndarray:
        """(B, 2) labels ``(mu_x, mu_y)`` -> (B,) bool membership."""
        lab = np.asarray(labels.detach().cpu() if torch.is_tensor(labels) else labels, np.float64)
        check_xy_factors(lab, "a region of label space (rectangles in x and y)")
        lab = lab.reshape(-1, 2)
        inside = np.zeros(len(lab), bool)
        for r in self.include:
            inside |= r.contains(lab)
        for r in self.exclude:
            inside &= ~r.contains(lab)
        return inside

    def __str__(self) -> str:
        s = " or ".join(f"({r})" for r in self.include) or "empty"
        if self.exclude:
            s += " minus " + " or ".join(f"({r})" for r in self.exclude)
        return s


def frame_rect(cfg: DataConfig) -> Rect:
    """The frame ``[0, N]^2``; the upper bounds are open when periodic (N is 0 there)."""
    n = float(cfg.image_size)
    closed_hi = not cfg.periodic
    return Rect(Interval(0.0, n, True, closed_hi), Interval(0.0, n, True, closed_hi))


def hole_rects(cfg: DataConfig) -> tuple[Rect, ...]:
    """The held-out rectangles of ``cfg.hole`` in frame coordinates (empty for 'none').

    - ``plus``: a vertical band ``x in [hole_low, hole_high]`` and a horizontal band
      ``y in [hole_low, hole_high]``, each across the frame.
    - ``square_interior``: a ``W x W`` square centred in the frame (surrounded by data).
    - ``square_exterior``: a ``W x W`` square in the corner at the origin (touching the edge).
    - ``lesion``: a vertical band of width ``w`` centred at ``x = N / 2``.
    - ``custom``: ``hole_rects`` as given.

    Band and square bounds are closed when ``cfg.hole_inclusive``, else open; the frame sides
    of a band are the frame's own bounds."""
    n, inc = float(cfg.image_size), cfg.hole_inclusive
    fr = frame_rect(cfg)
    if cfg.hole == "none":
        return ()
    if cfg.hole == "plus":
        band = Interval(cfg.hole_low, cfg.hole_high, inc, inc)
        return (Rect(band, fr.y), Rect(fr.x, band))
    if cfg.hole == "square_interior":
        lo, hi = n / 2 - cfg.hole_width / 2, n / 2 + cfg.hole_width / 2
        return (Rect.from_bounds(lo, hi, lo, hi, inc),)
    if cfg.hole == "square_exterior":
        w = cfg.hole_width
        return (Rect.from_bounds(0.0, w, 0.0, w, inc),)
    if cfg.hole == "lesion":
        lo, hi = n / 2 - cfg.hole_width / 2, n / 2 + cfg.hole_width / 2
        return (Rect(Interval(lo, hi, inc, inc), fr.y),)
    if cfg.hole == "custom":
        return tuple(Rect.from_bounds(*r, inclusive=inc) for r in cfg.hole_rects)
    raise ValueError(f"data.hole = {cfg.hole!r} is invalid; allowed: one of {list(HOLE_KINDS)}")


def rim_interior(cfg: DataConfig) -> Rect:
    """Open square of frame labels farther than ``rim_width`` from every edge."""
    n, r = float(cfg.image_size), cfg.rim_width
    return Rect(Interval(r, n - r, False, False), Interval(r, n - r, False, False))


def build_regions(cfg: DataConfig) -> dict[str, Region]:
    """Named regions of the dataset's evaluation label space (the frame); see module doc.

    ``held_out`` and the plus sections appear only when the dataset holds labels out."""
    frame = frame_rect(cfg)
    holes = hole_rects(cfg)
    regions = {"all": Region((frame,), description="every label in the frame")}
    if cfg.kind == "stripes":
        interior = rim_interior(cfg)
        regions["in_distribution"] = Region(
            (frame,), (interior, *holes), f"SOS rim within {cfg.rim_width:g} px of the edge"
        )
        regions["held_out"] = Region(
            (interior, *holes), description="2D labels never seen as 2D images"
        )
    else:
        regions["in_distribution"] = Region((frame,), holes, "2D labels of the training set")
        if holes:
            regions["held_out"] = Region(holes, description=f"the {cfg.hole} hole")
    if cfg.hole == "plus":
        vert, horiz = holes
        regions["hole_vertical"] = Region((vert,), (horiz,), "x in the band, y not")
        regions["hole_horizontal"] = Region((horiz,), (vert,), "y in the band, x not")
        regions["hole_intersection"] = Region((Rect(vert.x, horiz.y),), (), "x and y in the band")
    return regions


def region_strata(cfg: DataConfig) -> list[str]:
    """Names of disjoint regions that together cover the frame, used to stratify evaluation
    conditions: the plus sections when present (and not a stripes dataset), otherwise
    ``in_distribution`` and ``held_out``."""
    if cfg.hole == "plus" and cfg.kind != "stripes":
        return ["in_distribution", "hole_vertical", "hole_horizontal", "hole_intersection"]
    return [name for name in ("in_distribution", "held_out") if name in build_regions(cfg)]
