"""Scaled data settings: the paper's geometry at another image size N.

The paper states its held-out regions at N = 32: the plus-shaped hole is the band
13 to 19 of 32 in x or y, the extended canvas of the 1D stripes has a margin of 6 of 32, and
the lesion width w and the W x W squares are pixel sizes at N = 32. Quick versions of later
experiments may use a smaller N; :func:`scaled_data_config` keeps these *shares of the frame*
(our reading: the geometry scales with the frame, the bump width and lattice spacing do not),
and :func:`describe_scaling` names the change for a report.
"""

from __future__ import annotations

from dataclasses import replace

from factordiff.config import DataConfig

REFERENCE_SIZE = 32  # the paper's N, at which its hole bounds and sizes are stated


def scaled_data_config(cfg: DataConfig, n: int) -> DataConfig:
    """``cfg`` moved from ``cfg.image_size`` to ``n`` pixels, its geometry scaled with N.

    Scaled by ``n / cfg.image_size``: ``hole_low`` and ``hole_high`` (13 and 19 at 32 become
    6.5 and 9.5 at 16), ``hole_width`` (lesion w, square W), ``hole_rects`` and ``margin``
    (rounded to whole pixels, at least 1 when it was >= 1: 6 at 32 becomes 3 at 16). Kept in
    pixels: ``sigma_x``, ``sigma_y``, ``dx``, ``dy`` and ``rim_width``. The bounds scale
    exactly, the lattice does not: at N = 16 the band 6.5 to 9.5 falls on pixel centres and
    (closed) holds 4 of 16 of them, against 6 of 32 at N = 32. Raises ValueError for
    ``n < 4`` or when the scaled config is invalid."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 4:
        raise ValueError(f"n = {n!r} is invalid; allowed: an integer >= 4 (pixels)")
    cfg.validate()
    f = n / cfg.image_size
    margin = round(cfg.margin * f)
    if cfg.margin >= 1:
        margin = max(1, margin)
    out = replace(
        cfg,
        image_size=n,
        hole_low=cfg.hole_low * f,
        hole_high=cfg.hole_high * f,
        hole_width=cfg.hole_width * f,
        hole_rects=tuple(tuple(v * f for v in rect) for rect in cfg.hole_rects),
        margin=margin,
    )
    out.validate()
    return out


def describe_scaling(before: DataConfig, after: DataConfig) -> str:
    """One line for a report: what changed when the data were scaled to another N."""
    if before.image_size == after.image_size:
        return f"N = {before.image_size} (the paper's size)"
    parts = [f"N = {after.image_size} instead of {before.image_size}"]
    if before.hole != "none":
        if before.hole == "plus":
            parts.append(
                f"hole band {after.hole_low:g} to {after.hole_high:g} "
                f"(was {before.hole_low:g} to {before.hole_high:g})"
            )
        if before.hole in ("square_interior", "square_exterior", "lesion"):
            parts.append(f"hole width {after.hole_width:g} px (was {before.hole_width:g})")
    if before.margin:
        parts.append(f"margin {after.margin} px (was {before.margin})")
    return "; ".join(parts) + " (scaled with N; bump width and lattice spacing kept in px)"
