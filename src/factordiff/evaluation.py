"""Accuracy of generated images: does each image show its Gaussian where it was asked to?

:func:`score` judges a batch of model outputs against the labels they were conditioned on and
returns :class:`Scores` (per-image verdicts); :meth:`Scores.summary` gives the accuracies and
failure shares, :func:`per_region` the same per named region of label space. Steps 1-3 of
the rule below (counting and locating) are :mod:`factordiff.detection`; the verdicts are here.
Scoring reads a centre off a 2-D image, so its labels have F = 2 factors ``(mu_x, mu_y)``;
labels of another F are refused by name.

Detection rule
--------------
Images are first mapped from [-1, 1] to raw intensity ``u`` with the dataset's fixed scale
(:func:`factordiff.data.images_to_unit`), so a bump peaks at 1 and a stripe at 1.

*Bumps* (labels that the dataset renders as bumps):

1. Threshold ``u > t_2d`` with ``t_2d = 0.5 exp(-1/(8 sx^2) - 1/(8 sy^2))``: half the lowest peak
   pixel an exactly rendered bump can have (centre on a pixel corner; 0.39 at sigma = 1).
2. Bumps are the 8-connected components of the thresholded image; with periodic data,
   components touching opposite edges are merged (the frame is a torus). The count classifies
   the image: 0 -> no bump, 2 or more -> several bumps.
3. A single bump is located at the brightest pixel ``(i0, j0)`` and refined to sub-pixel
   precision per axis by a parabola through the logs of the pixel and its two neighbours,
   ``shift = (l[-1] - l[+1]) / (2 (l[-1] - 2 l[0] + l[+1]))``, which is exact for a sampled
   Gaussian of any width. At a non-periodic edge pixel the one inward neighbour and the
   config's sigma give the exact two-point version. Values are floored at 1e-4 before the
   log, shifts are clipped to +-1 px (+-2 px at an edge). A component larger than
   :func:`max_bump_area` (four times what an exact bump covers; 24 px at sigma = 1) is a
   bright region, not a bump: it counts as a detection with no location, so a uniform image
   (all ones, all zeros) is judged ``wrong_location``, never correct.
4. The centre is correct on an axis when within ``tolerance_px`` of the label (periodic
   distance for periodic data); the image is correct when both axes are.

*SOS and stripes* (everything else): the column profile (mean over rows, shape (B, N)) holds
the vertical stripe plus a constant from the horizontal one; its median over columns is
subtracted as a baseline. Stripes are the runs of the profile above
``t_1d = 0.5 exp(-1/(8 sx^2))`` (wrapping when periodic); 0 runs -> no stripe, 2 or more ->
several, one run -> located by the same log-parabola on the profile. Rows give ``mu_y``
likewise. ``x`` and ``y`` are judged separately; a stripe present in the image is reported in
``x_present`` / ``y_present``.

*Expected absence*: a label coordinate outside the frame (extended-canvas data) asks for no
visible stripe (no bump, for bumps). Detecting nothing then is correct; a detection is still
judged by its distance, so the partly visible tail of a centre just outside the frame counts
as correct when it is located within tolerance.

Status codes (:data:`STATUS_NAMES`): 0 correct, 1 wrong_location, 2 several, 3 none. The
joint status of an SOS image is correct when both axes are, otherwise the first failure of
several, none, wrong_location found on either axis.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from factordiff.config import DataConfig
from factordiff.data.regions import Region
from factordiff.data.render import (
    check_xy_factors,
    coord_visible,
    images_to_unit,
    label_formulas,
)

# The detection steps live in factordiff.detection; their public names stay importable here.
from factordiff.detection import (  # noqa: F401  (bump_threshold, ...: re-exported)
    bump_threshold,
    detect_bumps,
    detect_stripes,
    max_bump_area,
    stripe_threshold,
)
from factordiff.diffusion import check_labels

STATUS_NAMES = ("correct", "wrong_location", "several", "none")
CORRECT, WRONG_LOCATION, SEVERAL, NONE = range(4)


# ----------------------------------------------------------------------------- results
@dataclass
class Scores:
    """Per-image verdicts of :func:`score`; every array has length B.

    Attributes:
        status: (B,) int8 joint status code, see :data:`STATUS_NAMES`.
        x_status, y_status: (B,) int8 per-axis status codes.
        center: (B, 2) float64 detected ``(x, y)`` in px; NaN on an axis with no single
            detection.
        x_count, y_count: (B,) int64 detections: bumps (the same on both axes) or vertical /
            horizontal stripes.
        x_ok, y_ok, joint_ok: (B,) bool, correct on x, on y, on both.
        x_present, y_present: (B,) bool, a vertical / horizontal stripe was found (for bumps:
            a bump was found).
        is_bump: (B,) bool, judged as a bump (else as SOS / stripes).
        tolerance_px: the tolerance used.
    """

    status: np.ndarray
    x_status: np.ndarray
    y_status: np.ndarray
    center: np.ndarray
    x_count: np.ndarray
    y_count: np.ndarray
    x_ok: np.ndarray
    y_ok: np.ndarray
    joint_ok: np.ndarray
    x_present: np.ndarray
    y_present: np.ndarray
    is_bump: np.ndarray
    tolerance_px: float = 1.0

    def __len__(self) -> int:
        return len(self.status)

    @property
    def status_names(self) -> np.ndarray:
        """(B,) str joint status names."""
        return np.asarray(STATUS_NAMES)[self.status]

    def subset(self, mask: np.ndarray) -> Scores:
        """The scores of the images selected by a (B,) bool mask or an index array."""
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        return Scores(**{k: v[mask] if isinstance(v, np.ndarray) else v for k, v in kw.items()})

    def summary(self) -> dict[str, float]:
        """Accuracies and failure shares (NaN for an empty set).

        Keys: ``n``, ``accuracy`` (joint), ``x_accuracy``, ``y_accuracy``, ``share_<status>``
        for each joint status, ``x_present`` and ``y_present`` (share of images with a
        vertical / horizontal stripe, or a bump)."""
        n = len(self)

        def share(a: np.ndarray) -> float:
            return float(a.mean()) if n else float("nan")

        out: dict[str, float] = {
            "n": n,
            "accuracy": share(self.joint_ok),
            "x_accuracy": share(self.x_ok),
            "y_accuracy": share(self.y_ok),
        }
        for code, name in enumerate(STATUS_NAMES):
            out[f"share_{name}"] = share(self.status == code)
        out["x_present"] = share(self.x_present)
        out["y_present"] = share(self.y_present)
        return out


# ----------------------------------------------------------------------------- verdicts
def _distance(a: np.ndarray, b: np.ndarray, cfg: DataConfig) -> np.ndarray:
    d = np.abs(a - b)
    if cfg.periodic:
        d = np.mod(d, cfg.image_size)
        d = np.minimum(d, cfg.image_size - d)
    return d


def _axis_status(count, pos, label, visible, tol, cfg) -> np.ndarray:
    """Per-axis status from a detection count, position, label and expected visibility."""
    with np.errstate(invalid="ignore"):
        near = _distance(pos, label, cfg) <= tol  # NaN -> False
    located = np.where(near, CORRECT, WRONG_LOCATION)
    absent = np.where(visible, NONE, CORRECT)
    return np.where(count == 0, absent, np.where(count >= 2, SEVERAL, located)).astype(np.int8)


def _as_numpy_images(images, n: int) -> np.ndarray:
    if torch.is_tensor(images):
        images = images.detach().to("cpu", torch.float32).numpy()
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3 or x.shape[1:] != (n, n):
        raise ValueError(
            f"images shape {tuple(np.shape(images))} is invalid; allowed: (B, 1, {n}, {n}) or "
            f"(B, {n}, {n}) for data.image_size = {n}"
        )
    return x


def _as_xy_labels(labels, b: int, what: str) -> np.ndarray:
    """(B, 2) float64 labels, or ``ValueError``: F != 2 factors (``what`` is 2-D), not one
    label per image, or a label that is not finite."""
    lab = np.asarray(labels.detach().cpu() if torch.is_tensor(labels) else labels, np.float64)
    check_xy_factors(lab, what)
    if lab.shape == (b, 2) and len(lab):  # the right shape: each label must be finite
        check_labels(lab, torch.float64)
    if lab.shape != (b, 2):
        raise ValueError(
            f"labels shape {lab.shape} is invalid; allowed: ({b}, 2), one (mu_x, mu_y) per image"
        )
    return lab


def _detect(u: np.ndarray, lab: np.ndarray, cfg: DataConfig):
    """Detections of each image by its formula: ``(x_count, y_count, centre (B, 2),
    visible (B, 2), is_bump)``, ``visible`` saying which axes should show something."""
    b = u.shape[0]
    visible = coord_visible(lab, cfg)  # (B, 2)
    is_bump = label_formulas(lab, cfg) == 0
    x_count = np.zeros(b, np.int64)
    y_count = np.zeros(b, np.int64)
    centre = np.full((b, 2), np.nan)

    bi = np.flatnonzero(is_bump)
    if len(bi):
        cnt, c = detect_bumps(u[bi], cfg)
        x_count[bi], y_count[bi], centre[bi] = cnt, cnt, c
        # A bump is expected exactly when both coordinates are in the frame.
        both = visible[bi].all(axis=1)
        visible[bi] = both[:, None]
    si = np.flatnonzero(~is_bump)
    if len(si):
        us = u[si]
        col = us.mean(axis=1)  # (K, N) column profile: vertical stripe + constant
        row = us.mean(axis=2)  # (K, N) row profile: horizontal stripe + constant
        col -= np.median(col, axis=1, keepdims=True)
        row -= np.median(row, axis=1, keepdims=True)
        x_count[si], centre[si, 0] = detect_stripes(col, cfg.sigma_x, cfg.periodic)
        y_count[si], centre[si, 1] = detect_stripes(row, cfg.sigma_y, cfg.periodic)
    return x_count, y_count, centre, visible, is_bump


def score(images, labels, cfg: DataConfig, tolerance_px: float = 1.0) -> Scores:
    """Judge generated images against their conditioning labels (see the module docstring
    for the detection rule).

    Args:
        images: (B, 1, N, N) or (B, N, N) model outputs in [-1, 1], torch or numpy.
        labels: (B, 2) ``(mu_x, mu_y)`` in px, the conditions of the images: scoring locates
            a centre in a 2-D image, so it needs F = 2 factors.
        cfg: the dataset config: scale, widths, periodicity, and which labels are bumps.
        tolerance_px: largest distance (per axis) at which a centre is correct; > 0.

    Returns:
        :class:`Scores` with one entry per image.

    Raises:
        ValueError: shapes that do not match, labels of F != 2 factors, or
        ``tolerance_px <= 0``.
    """
    if not tolerance_px > 0:
        raise ValueError(f"tolerance_px = {tolerance_px!r} is invalid; allowed: a number > 0")
    n = cfg.image_size
    u = images_to_unit(_as_numpy_images(images, n), cfg)  # (B, N, N) raw intensity
    b = u.shape[0]
    lab = _as_xy_labels(labels, b, "scoring a 2-D image")
    x_count, y_count, centre, visible, is_bump = _detect(u, lab, cfg)
    x_status = _axis_status(x_count, centre[:, 0], lab[:, 0], visible[:, 0], tolerance_px, cfg)
    y_status = _axis_status(y_count, centre[:, 1], lab[:, 1], visible[:, 1], tolerance_px, cfg)
    x_ok, y_ok = x_status == CORRECT, y_status == CORRECT
    joint_ok = x_ok & y_ok
    status = np.full(b, WRONG_LOCATION, np.int8)
    for code in (NONE, SEVERAL):  # later assignments win: several > none > wrong_location
        status[(x_status == code) | (y_status == code)] = code
    status[joint_ok] = CORRECT
    return Scores(
        status=status,
        x_status=x_status,
        y_status=y_status,
        center=centre,
        x_count=x_count,
        y_count=y_count,
        x_ok=x_ok,
        y_ok=y_ok,
        joint_ok=joint_ok,
        x_present=x_count > 0,
        y_present=y_count > 0,
        is_bump=is_bump,
        tolerance_px=float(tolerance_px),
    )


def per_region(scores: Scores, labels, regions: dict[str, Region]) -> dict[str, dict]:
    """:meth:`Scores.summary` restricted to each named region of label space.

    Args:
        scores: scores of B images.
        labels: (B, 2) the labels the images were conditioned on (regions are rectangles in
            x and y: F = 2 factors).
        regions: name -> :class:`~factordiff.data.regions.Region`, e.g. ``dataset.regions``.

    Returns:
        name -> summary dict (with ``n`` = images in the region; NaN figures when 0).
    """
    lab = np.asarray(labels.detach().cpu() if torch.is_tensor(labels) else labels, np.float64)
    check_xy_factors(lab, "a per-region breakdown (rectangles in x and y)")
    if lab.shape != (len(scores), 2):
        raise ValueError(f"labels shape {lab.shape} is invalid; allowed: ({len(scores)}, 2)")
    return {name: scores.subset(region.contains(lab)).summary() for name, region in regions.items()}
