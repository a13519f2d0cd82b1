"""Rendering of the paper's synthetic images: 2D Gaussian bumps, sums of stripes (SOS) and
1D stripes, vectorised over a batch of labels.

Coordinate convention (used everywhere in factordiff, labels included)
-----------------------------------------------------------------------
Pixel ``i`` covers ``[i, i + 1)`` and has centre ``i + 0.5``. An image is indexed
``image[row, col]``; ``x`` is the column coordinate and ``y`` the row coordinate, so a label
``(mu_x, mu_y) = (7.5, 12.5)`` puts a bump exactly on pixel ``image[12, 7]``. The *frame* is
``[0, N]`` on both axes. With ``margin = m`` the image is rendered on an extended
``(N + 2m) x (N + 2m)`` canvas whose pixel centres are ``-m + 0.5, ..., N + m - 0.5`` and the
central ``N x N`` is kept; labels then run over ``[-m, N + m]`` (the paper's 44 x 44 canvas
with labels in ``[0, 44]`` is ours shifted by ``m = 6``). With ``periodic`` the frame is a
torus: distances are taken modulo ``N``.

Intensity scale
---------------
Raw intensities ``u`` are ``exp(-d^2 / 2 sigma^2)`` per stripe; a bump peaks at 1, an SOS is the
plain sum of a vertical and a horizontal stripe and peaks at 2 at the crossing. The model sees
``x = 2 u / peak - 1`` in ``[-1, 1]`` with a *fixed* ``peak`` per dataset
(:func:`peak_intensity`): 1 for a bump dataset (bump centre -> +1, background -> -1) and 2 for
every dataset with stripes: ``kind`` ``'sos'`` or ``'stripes'``, and bumps mixed with stripes
(crossing -> +1, a lone stripe -> 0, a bump centre -> 0, background -> -1). The rule is "2
wherever two stripes can add up": a stripes dataset keeps 2 even without a rim, so the SOS
images it is asked to compose fit in [-1, 1], and the 1D stripes of a mixture, being crops of
an SOS canvas, carry the tail of their off-frame stripe near the edge (up to 1.6 at
``sigma = 1``). The scale is never chosen per image.
"""

from __future__ import annotations

import numpy as np
import torch

from factordiff.config import DataConfig

# Rendering formulas. ``stripes`` images are SOS images whose second stripe may lie outside
# the frame, so they share the SOS formula.
FORMULAS = ("bump", "sos")
_BUMP, _SOS = 0, 1

# A coordinate counts as inside a closed bound when it is at most this far outside it. It
# absorbs float32 rounding of labels (float32 spacing near 32 is 4e-6 px).
COORD_EPS = 1e-5


#: The factors of a label, in column order: the centre of the stripe or bump in px, x (the
#: column coordinate) then y (the row coordinate). Every dataset of factordiff has these F = 2.
FACTOR_NAMES = ("mu_x", "mu_y")


def label_factors(cfg: DataConfig) -> tuple[str, ...]:
    """The factors of the labels of ``cfg``'s dataset, one per label column: F =
    ``len(label_factors(cfg))``. :data:`FACTOR_NAMES` for every kind today; a model's label
    encoder and the sampling path take F from here, so a dataset of other factors is declared
    once, here."""
    return FACTOR_NAMES


def check_xy_factors(labels, what: str) -> None:
    """``ValueError`` when (B, F) ``labels`` have F != 2: ``what`` (a step that draws or reads
    a 2-D image, such as rendering a bump or locating its centre) is genuinely 2-D. Other
    shapes are left to the caller's own check."""
    shape = tuple(np.shape(labels))
    if len(shape) == 2 and shape[1] != 2:
        raise ValueError(f"{what} needs F = 2 factors (x, y); got F = {shape[1]}")


def _as_labels(labels: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Labels as a float64 tensor of shape (B, 2); raises ValueError on another shape."""
    t = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels)
    t = t.detach().to("cpu", torch.float64)
    check_xy_factors(t, "rendering an image")
    if t.ndim != 2 or t.shape[1] != 2:
        raise ValueError(f"labels must have shape (B, 2) = (mu_x, mu_y) rows; got {tuple(t.shape)}")
    return t


def gaussian_profile(
    mu: torch.Tensor,
    size: int,
    sigma: float,
    *,
    origin: float = 0.0,
    periodic: bool = False,
    period: float | None = None,
) -> torch.Tensor:
    """1D Gaussian ``exp(-d^2 / 2 sigma^2)`` sampled at pixel centres.

    Args:
        mu: (B,) centres in px.
        size: number of pixels; their centres are ``origin + i + 0.5``.
        sigma: width in px.
        periodic: wrap ``d`` into ``[-period/2, period/2)`` (nearest image on the torus).
        period: the wrap length; defaults to ``size``.

    Returns:
        (B, size) float64 tensor.
    """
    centres = origin + torch.arange(size, dtype=torch.float64) + 0.5  # (size,)
    d = centres[None, :] - mu.to(torch.float64)[:, None]  # (B, size)
    if periodic:
        p = float(period if period is not None else size)
        d = torch.remainder(d + p / 2, p) - p / 2
    return torch.exp(-0.5 * (d / sigma) ** 2)


def _profiles(labels: torch.Tensor, cfg: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Column profile ``g_x`` (B, N) and row profile ``g_y`` (B, N) of the frame.

    With a margin the profiles are rendered over the whole (N + 2m) canvas and cropped to the
    central N pixels; since every image here is separable (an outer product or a sum of these
    profiles), cropping the profiles is exactly cropping the rendered canvas."""
    n, m = cfg.image_size, cfg.margin
    canvas = n + 2 * m

    def profile(mu: torch.Tensor, sigma: float) -> torch.Tensor:
        # Lattice labels repeat each coordinate many times (320 distinct values for 102,400
        # labels at dx = 0.1): evaluate each distinct value once, then gather.
        values, inverse = torch.unique(mu, return_inverse=True)
        g = gaussian_profile(values, canvas, sigma, origin=-m, periodic=cfg.periodic)
        return g[:, m : m + n][inverse]

    return profile(labels[:, 0], cfg.sigma_x), profile(labels[:, 1], cfg.sigma_y)


def render_bump(labels: torch.Tensor | np.ndarray, cfg: DataConfig) -> torch.Tensor:
    """Raw 2D Gaussian bumps ``exp(-(x-mu_x)^2/2 sx^2 - (y-mu_y)^2/2 sy^2)``, peak 1.

    Args:
        labels: (B, 2) centres ``(mu_x, mu_y)`` in px.
        cfg: image size, widths, margin and periodicity are read from it.

    Returns:
        (B, N, N) float32 raw intensities in [0, 1].
    """
    gx, gy = _profiles(_as_labels(labels), cfg)
    return (gy.float()[:, :, None] * gx.float()[:, None, :]).contiguous()


def render_stripe(labels: torch.Tensor | np.ndarray, cfg: DataConfig, axis: str) -> torch.Tensor:
    """Raw 1D stripe: ``axis='x'`` gives the vertical stripe ``exp(-(x-mu_x)^2/2 sx^2)``
    (constant down each column), ``axis='y'`` the horizontal stripe at ``mu_y``.

    Returns:
        (B, N, N) float32 raw intensities in [0, 1].
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis = {axis!r} is invalid; allowed: 'x' or 'y'")
    gx, gy = _profiles(_as_labels(labels), cfg)
    n = cfg.image_size
    if axis == "x":
        return gx.float()[:, None, :].expand(-1, n, -1).contiguous()
    return gy.float()[:, :, None].expand(-1, -1, n).contiguous()


def render_sos(labels: torch.Tensor | np.ndarray, cfg: DataConfig) -> torch.Tensor:
    """Raw Gaussian SOS: vertical stripe at ``mu_x`` plus horizontal stripe at ``mu_y``
    (plain sum, peak 2 at the crossing). A centre outside the frame leaves a 1D stripe.

    Returns:
        (B, N, N) float32 raw intensities in [0, 2].
    """
    gx, gy = _profiles(_as_labels(labels), cfg)
    return (gy.float()[:, :, None] + gx.float()[:, None, :]).contiguous()


# ----------------------------------------------------------------------------- visibility
def coord_visible(values: torch.Tensor | np.ndarray, cfg: DataConfig) -> np.ndarray:
    """Whether each coordinate lies in the closed frame ``[0, N]`` (always, when periodic).

    Args:
        values: (...) coordinates in px.

    Returns:
        (...) bool array.
    """
    v = np.asarray(values.detach().cpu() if torch.is_tensor(values) else values, np.float64)
    if cfg.periodic:
        return np.ones(v.shape, bool)
    return (v >= -COORD_EPS) & (v <= cfg.image_size + COORD_EPS)


def visible_dims(labels: torch.Tensor | np.ndarray, cfg: DataConfig) -> np.ndarray:
    """Number of visible label coordinates, 0, 1 or 2, per label: (B, 2) -> (B,) int64.

    For SOS and stripes this is the image's visible dimensionality (0D blank, 1D stripe, 2D
    SOS). A bump is visible (2D) only when both coordinates are; see :func:`image_tags`."""
    return coord_visible(_as_labels(labels).numpy(), cfg).sum(axis=1).astype(np.int64)


def label_formulas(labels: torch.Tensor | np.ndarray, cfg: DataConfig) -> np.ndarray:
    """Which formula renders (and scores) each label for this dataset: (B,) int64 codes,
    0 = bump, 1 = SOS (which covers 1D stripes).

    ``kind = 'bump'`` gives bumps, except in a bumps + stripes mixture, where a label with
    exactly one visible coordinate is a 1D stripe. ``sos`` and ``stripes`` give SOS."""
    b = _as_labels(labels).shape[0]
    if cfg.kind != "bump":
        return np.full(b, _SOS, np.int64)
    codes = np.full(b, _BUMP, np.int64)
    if cfg.mix_stripes:
        codes[visible_dims(labels, cfg) == 1] = _SOS
    return codes


def image_tags(labels: torch.Tensor | np.ndarray, cfg: DataConfig) -> np.ndarray:
    """Visible dimensionality tag per label, (B, 2) -> (B,) int64: 0, 1 or 2.

    SOS/stripes: how many stripes have their centre in the frame. Bumps: 2 when the centre is
    in the frame, else 0."""
    dims = visible_dims(labels, cfg)
    formulas = label_formulas(labels, cfg)
    return np.where(formulas == _BUMP, np.where(dims == 2, 2, 0), dims).astype(np.int64)


# ----------------------------------------------------------------------------- scaling
def peak_intensity(cfg: DataConfig) -> float:
    """The fixed raw intensity mapped to +1: 1 for pure bump datasets, 2 wherever SOS-formula
    images occur (kind 'sos' or 'stripes', or bumps with ``mix_stripes``)."""
    return 1.0 if cfg.kind == "bump" and not cfg.mix_stripes else 2.0


def images_to_unit(images: torch.Tensor | np.ndarray, cfg: DataConfig):
    """Map model-space images in [-1, 1] back to raw intensity ``u = (x + 1) / 2 * peak``.

    Works on tensors and arrays of any shape; returns the same type."""
    return (images + 1.0) * (0.5 * peak_intensity(cfg))


def unit_to_images(raw: torch.Tensor | np.ndarray, cfg: DataConfig):
    """Map raw intensity to model space: ``x = 2 u / peak - 1``. Inverse of
    :func:`images_to_unit`."""
    return raw * (2.0 / peak_intensity(cfg)) - 1.0


def render_images(
    labels: torch.Tensor | np.ndarray,
    cfg: DataConfig,
    kind: str | None = None,
    *,
    chunk_size: int = 16384,
) -> torch.Tensor:
    """Render labels exactly as the dataset of ``cfg`` does, in model space [-1, 1].

    Args:
        labels: (B, 2) ``(mu_x, mu_y)`` in px.
        cfg: the dataset config (size, widths, margin, periodicity, scale).
        kind: ``None`` renders each label as the dataset would (see :func:`label_formulas`);
            ``'bump'``, ``'sos'`` or ``'stripes'`` forces that formula. The scale stays that of
            ``cfg``, so SOS forced onto a bump dataset can exceed +1.
        chunk_size: labels rendered per step, to bound temporary memory.

    Returns:
        (B, 1, N, N) float32 tensor.
    """
    lab = _as_labels(labels)
    if kind is None:
        formulas = label_formulas(lab, cfg)
    elif kind == "bump":
        formulas = np.full(lab.shape[0], _BUMP, np.int64)
    elif kind in ("sos", "stripes"):
        formulas = np.full(lab.shape[0], _SOS, np.int64)
    else:
        raise ValueError(f"kind = {kind!r} is invalid; allowed: None, 'bump', 'sos' or 'stripes'")
    n = cfg.image_size
    out = torch.empty((lab.shape[0], 1, n, n), dtype=torch.float32)
    scale = 2.0 / peak_intensity(cfg)
    for code in (_BUMP, _SOS):
        idx = np.flatnonzero(formulas == code)
        contiguous = len(idx) > 0 and idx[-1] - idx[0] + 1 == len(idx)
        for s in range(0, len(idx), chunk_size):
            part = idx[s : s + chunk_size]
            gx, gy = _profiles(lab[torch.from_numpy(part)], cfg)  # (b, N) each
            gx, gy = gx.float(), gy.float()
            if contiguous:  # write straight into the output: one pass over the images
                dst = out[int(part[0]) : int(part[-1]) + 1, 0]
            else:
                dst = torch.empty((len(part), n, n), dtype=torch.float32)
            if code == _BUMP:  # x = scale * gy gx^T - 1
                torch.addcmul(_MINUS_ONE, gy[:, :, None], gx[:, None, :], value=scale, out=dst)
            else:  # x = scale * (gy + gx) - 1
                torch.add((gy * scale - 1.0)[:, :, None], (gx * scale)[:, None, :], out=dst)
            if not contiguous:
                out[torch.from_numpy(part), 0] = dst
    return out


_MINUS_ONE = torch.tensor(-1.0, dtype=torch.float32)
