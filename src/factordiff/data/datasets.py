"""Datasets: a :class:`~factordiff.config.DataConfig` and a seed -> labels, images and tags.

Every dataset is a subset of one lattice of labels over the label range ``[-m, N + m]^2``
(``[0, N)^2`` when periodic), built in parts:

=================  =========================================================================
part               labels
=================  =========================================================================
``bump``           the whole lattice (blank images included when ``m > 0``); only the
                   in-frame (2D) labels when mixed with stripes
``sos``            lattice labels with both coordinates in the frame
``stripes``        1D labels (exactly one coordinate in the frame); for ``kind = 'stripes'``
                   also the 2D labels of the rim (within ``rim_width`` px of an edge)
=================  =========================================================================

The hole (a :class:`~factordiff.data.regions.Region` inside the frame) is removed from the
main part, then a share ``subsample`` of what is left is kept, uniformly at random from the
seed; a stripes part of a mixture is subsampled by ``stripes_subsample``. Blank (0D) images
appear only in bump datasets with a margin.

The lattice is cell-centred: an axis of length ``L`` with spacing ``d`` holds
``K = floor(L / d)`` points ``lo + o + (k + 1/2) d`` with ``o = (L - K d) / 2`` centring them,
so ``d = 1`` puts labels on pixel centres (1,024 labels for N = 32) and ``d = 0.1`` gives
320 x 320 = 102,400 labels. Labels are listed row by row (``mu_y`` outer, ``mu_x`` inner).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from factordiff.config import DataConfig
from factordiff.data.regions import Region, build_regions, hole_rects, region_strata, rim_interior
from factordiff.data.render import (
    coord_visible,
    image_tags,
    images_to_unit,
    peak_intensity,
    render_images,
    visible_dims,
)

TAG_NAMES = ("0D", "1D", "2D")


def label_range(cfg: DataConfig) -> tuple[float, float]:
    """The label range of one axis: ``(-m, N + m)``; ``(0, N)`` (upper end excluded) when
    periodic."""
    return (-float(cfg.margin), float(cfg.image_size + cfg.margin))


def lattice_axis(lo: float, hi: float, spacing: float) -> np.ndarray:
    """Cell-centred lattice of ``[lo, hi]`` with the given spacing: (K,) float64, with
    ``K = floor((hi - lo) / spacing)`` (a relative 1e-9 slack absorbs float error)."""
    length = hi - lo
    k = int(np.floor(length / spacing * (1 + 1e-9)))
    offset = (length - k * spacing) / 2
    return lo + offset + (np.arange(k) + 0.5) * spacing


def lattice_labels(cfg: DataConfig) -> np.ndarray:
    """Every lattice label of ``cfg`` before holes and subsampling: (Ky * Kx, 2) float64,
    ``mu_y`` outer and ``mu_x`` inner."""
    lo, hi = label_range(cfg)
    xs, ys = lattice_axis(lo, hi, cfg.dx), lattice_axis(lo, hi, cfg.dy)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")  # (Ky, Kx) each
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def _in_hole(labels: np.ndarray, cfg: DataConfig) -> np.ndarray:
    return Region(hole_rects(cfg)).contains(labels)


def _subsample(count: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``round(share * count)`` (at least 1) of ``range(count)``, uniformly
    at random without replacement; all of them when ``share == 1``."""
    if share >= 1.0 or count == 0:
        return np.arange(count)
    keep = max(1, int(round(share * count)))
    return np.sort(rng.choice(count, size=keep, replace=False))


@dataclass
class LabelSet:
    """The labels of a dataset without its images (cheap; see :func:`build_labels`).

    Attributes:
        labels: (M, 2) float64 ``(mu_x, mu_y)`` in px.
        tags: (M,) int64 visible dimensionality, 0, 1 or 2.
        parts: (M,) int64 index into ``part_names``.
        part_names: name of each part, e.g. ``['sos', 'stripes']``.
        part_counts: images per part name.
    """

    labels: np.ndarray
    tags: np.ndarray
    parts: np.ndarray
    part_names: list[str]
    part_counts: dict[str, int]


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed = {seed!r} is invalid; allowed: an integer >= 0")


def build_labels(cfg: DataConfig, seed: int) -> LabelSet:
    """The labels, tags and parts of the dataset of ``cfg`` (deterministic in ``seed``).

    Raises:
        ValueError: an invalid config, or a config that selects no label at all.
    """
    cfg.validate()
    _check_seed(seed)
    lattice = lattice_labels(cfg)  # (K, 2)
    dims = visible_dims(lattice, cfg)  # (K,)
    not_hole = ~_in_hole(lattice, cfg)
    # (name, selection mask over the lattice, share kept)
    selections: list[tuple[str, np.ndarray, float]] = []
    if cfg.kind == "bump":
        main = not_hole & (dims == 2) if cfg.mix_stripes else not_hole
        selections.append(("bump", main, cfg.subsample))
    elif cfg.kind == "sos":
        selections.append(("sos", not_hole & (dims == 2), cfg.subsample))
    else:  # stripes: 1D stripes plus the SOS rim
        rim = (dims == 2) & ~rim_interior(cfg).contains(lattice)
        selections.append(("stripes", not_hole & ((dims == 1) | rim), cfg.subsample))
    if cfg.mix_stripes:
        selections.append(("stripes", dims == 1, cfg.stripes_subsample))

    # One independent stream per part, so the stripes draw does not depend on the main part.
    streams = np.random.SeedSequence(seed).spawn(len(selections))
    labels, parts, counts = [], [], {}
    for i, ((name, mask, share), ss) in enumerate(zip(selections, streams)):
        pool = lattice[mask]
        chosen = pool[_subsample(len(pool), share, np.random.default_rng(ss))]
        labels.append(chosen)
        parts.append(np.full(len(chosen), i, np.int64))
        counts[name] = len(chosen)
    all_labels = np.concatenate(labels)
    if len(all_labels) == 0:
        raise ValueError(
            f"the dataset of data = {cfg} is empty; allowed: a config that keeps at least one "
            "lattice label (check hole, rim_width, subsample)"
        )
    return LabelSet(
        labels=all_labels,
        tags=image_tags(all_labels, cfg),
        parts=np.concatenate(parts),
        part_names=[s[0] for s in selections],
        part_counts=counts,
    )


@dataclass
class Dataset:
    """A rendered dataset, held as one float32 tensor.

    Attributes:
        images: (M, 1, N, N) float32 in [-1, 1], scaled by :func:`peak_intensity` (bump peak 1
            -> +1, SOS crossing 2 -> +1, background -> -1).
        labels: (M, 2) float32 ``(mu_x, mu_y)`` in px (pixel ``i`` has centre ``i + 0.5``).
        tags: (M,) int64 visible dimensionality 0, 1, 2 (see :data:`TAG_NAMES`).
        parts: (M,) int64 index into ``part_names``.
        part_names: e.g. ``['bump']`` or ``['sos', 'stripes']``.
        part_counts: images per part.
        regions: named regions of the evaluation label space (see
            :func:`~factordiff.data.regions.build_regions`).
        config: the config it was built from.
        seed: the seed it was built with.
    """

    images: torch.Tensor
    labels: torch.Tensor
    tags: np.ndarray
    parts: np.ndarray
    part_names: list[str]
    part_counts: dict[str, int]
    regions: dict[str, Region]
    config: DataConfig
    seed: int = 0

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, idx):
        """``(image (1, N, N), label (2,))`` for an index, or batched for a slice/array."""
        return self.images[idx], self.labels[idx]

    def to_unit(self, images):
        """Model-space images in [-1, 1] -> raw intensity (same type and shape)."""
        return images_to_unit(images, self.config)

    @property
    def peak_intensity(self) -> float:
        """Raw intensity that maps to +1 (1 for bumps, 2 for SOS and stripes)."""
        return peak_intensity(self.config)

    def summary(self) -> dict:
        """Counts per part and per tag, image size, and memory of ``images`` in MB."""
        tags = np.bincount(self.tags, minlength=3)
        return {
            "num_images": len(self),
            "image_size": self.config.image_size,
            "parts": dict(self.part_counts),
            "tags": {TAG_NAMES[i]: int(tags[i]) for i in range(3)},
            "peak_intensity": self.peak_intensity,
            "images_mb": self.images.numel() * self.images.element_size() / 2**20,
        }


def build_dataset(cfg: DataConfig, seed: int) -> Dataset:
    """Build and render the dataset of ``cfg``; deterministic in ``seed`` (used only for
    subsampling). The paper-scale lattice ``dx = dy = 0.1`` (102,400 images, 400 MiB) takes
    about a second on one CPU core.

    Raises:
        ValueError: an invalid config or seed, or an empty dataset.
    """
    ls = build_labels(cfg, seed)
    images = render_images(ls.labels, cfg)
    return Dataset(
        images=images,
        labels=torch.from_numpy(ls.labels.astype(np.float32)),
        tags=ls.tags,
        parts=ls.parts,
        part_names=ls.part_names,
        part_counts=ls.part_counts,
        regions=build_regions(cfg),
        config=cfg,
        seed=int(seed),
    )


def eval_conditions(cfg: DataConfig, n: int, seed: int) -> torch.Tensor:
    """A fixed, seed-determined set of ``n`` conditions for measuring accuracy.

    Conditions are lattice labels in the frame, *before* the hole and subsampling are
    applied, so held-out labels are included. They are stratified over the disjoint regions
    of :func:`~factordiff.data.regions.region_strata` (for the plus hole: in-distribution,
    vertical, horizontal, intersection): each non-empty stratum gets ``n // k`` conditions
    (the first ``n % k`` strata one more), drawn without replacement, or with replacement
    when a stratum has fewer lattice labels than its quota. The result is shuffled, so a
    prefix mixes strata. Overall accuracy over these conditions therefore weighs strata
    equally; use :func:`~factordiff.evaluation.per_region` for per-region figures.

    Returns:
        (n, 2) float32 ``(mu_x, mu_y)``.
    """
    cfg.validate()
    _check_seed(seed)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n = {n!r} is invalid; allowed: an integer >= 1")
    lattice = lattice_labels(cfg)
    frame = lattice[coord_visible(lattice, cfg).all(axis=1)]
    regions = build_regions(cfg)
    pools = [frame[regions[name].contains(frame)] for name in region_strata(cfg)]
    pools = [p for p in pools if len(p)]
    if not pools:
        raise ValueError(
            f"data = {cfg} has no lattice label in the frame; allowed: a finer lattice"
        )
    rng = np.random.default_rng(seed)
    quotas = [n // len(pools) + (i < n % len(pools)) for i in range(len(pools))]
    chosen = [
        pool[rng.choice(len(pool), size=q, replace=q > len(pool))] for pool, q in zip(pools, quotas)
    ]
    out = np.concatenate(chosen)[rng.permutation(n)]
    return torch.from_numpy(out.astype(np.float32))
