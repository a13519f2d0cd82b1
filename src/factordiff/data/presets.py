"""Named dataset presets: the datasets of the paper's experiments.

Each preset is a :class:`~factordiff.config.DataConfig`; its description says what it is and
which figure it serves. ``factordiff data list`` prints them, ``factordiff data preview NAME``
draws examples.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from factordiff.config import DataConfig
from factordiff.config.catalog import CATALOG, CatalogEntry

if TYPE_CHECKING:
    from factordiff.data.datasets import Dataset

# Paper: extended 44 x 44 canvas for N = 32 (Fig. 9).
PAPER_MARGIN = 6

_PRESETS: dict[str, tuple[DataConfig, str]] = {
    "bump": (
        DataConfig(),
        "2D Gaussian bumps on the 32 x 32 pixel-centre lattice (dx = dy = 1, sigma = 1)",
    ),
    "bump-periodic": (
        DataConfig(periodic=True),
        "bumps on a torus: distances wrap around the frame (Exp. 1, Figs. 2-3)",
    ),
    "bump-dense": (
        DataConfig(dx=0.1, dy=0.1),
        "paper-scale lattice dx = dy = 0.1: 102,400 bumps",
    ),
    "bump-extended": (
        DataConfig(margin=PAPER_MARGIN),
        "bumps on the 44 x 44 canvas cropped to 32 x 32; labels in [-6, 38] (Fig. 9d)",
    ),
    "bump-subsample": (
        DataConfig(subsample=0.25),
        "a random quarter of the bump lattice (data efficiency / percolation, Figs. 5-6)",
    ),
    "bump+stripes": (
        DataConfig(margin=PAPER_MARGIN, mix_stripes=True),
        "in-frame bumps plus 1D stripes from the 44 x 44 canvas (Exp. 3, Fig. 5)",
    ),
    "sos": (
        DataConfig(kind="sos"),
        "2D Gaussian sums of stripes (vertical + horizontal, peak 2) on the full lattice",
    ),
    "sos-plus-hole": (
        DataConfig(kind="sos", hole="plus"),
        "SOS without x or y in [13, 19]: the plus-shaped hole (Exp. 2, Fig. 4)",
    ),
    "sos-square-interior": (
        DataConfig(kind="sos", hole="square_interior", hole_width=6.0),
        "SOS without a 6 x 6 square of labels in the middle of the frame (Fig. 12)",
    ),
    "sos-square-exterior": (
        DataConfig(kind="sos", hole="square_exterior", hole_width=6.0),
        "SOS without a 6 x 6 square of labels in the corner at the origin (Fig. 12)",
    ),
    "sos-lesion": (
        DataConfig(kind="sos", hole="lesion", hole_width=6.0),
        "SOS without a vertical lesion x in [13, 19] (every y): interpolation test (Fig. 11)",
    ),
    "stripes": (
        DataConfig(kind="stripes", margin=PAPER_MARGIN, rim_width=2.0),
        "1D stripes over the 44 x 44 canvas plus SOS images within 2 px of the rim (Fig. 10)",
    ),
    "stripes-norim": (
        DataConfig(kind="stripes", margin=PAPER_MARGIN, rim_width=0.0),
        "pure 1D stripes, no 2D image at all (the rim ablation of Fig. 10)",
    ),
    "sos-plus-hole+stripes": (
        DataConfig(kind="sos", hole="plus", margin=PAPER_MARGIN, mix_stripes=True),
        "SOS with the plus hole plus 1D stripes over the full range (Exp. 2, 2D + 1D model)",
    ),
}

# Each preset goes into the one catalog of named settings (kind "data"); the two dicts below
# are views of it for the callers that read them, in the order above.
for _name, (_cfg, _text) in _PRESETS.items():
    CATALOG.register(CatalogEntry("data", _name, _text, value=_cfg))
DATASET_PRESETS: dict[str, DataConfig] = {k: CATALOG.get("data", k).value for k in _PRESETS}
DATASET_DESCRIPTIONS: dict[str, str] = {k: CATALOG.get("data", k).description for k in _PRESETS}


def get_dataset_preset(name: str) -> DataConfig:
    """A fresh copy of the preset called ``name``.

    Raises:
        ValueError: an unknown name; the message lists the valid ones.
    """
    if not CATALOG.has("data", name):
        raise ValueError(
            f"dataset = {name!r} is not a preset; allowed: one of {CATALOG.names('data')}"
        )
    return dataclasses.replace(CATALOG.get("data", name).value)


def resolve_dataset_preset(name: str, overrides: list[str] | tuple[str, ...] = ()) -> DataConfig:
    """Preset ``name`` with ``key=value`` overrides of its fields (a ``data.`` prefix is
    allowed), validated.

    Raises:
        ValueError: an unknown preset, field or value; the message names it and what is
        allowed.
    """
    from factordiff.config import apply_overrides

    plain = [o[len("data.") :] if o.startswith("data.") else o for o in overrides]
    cfg = apply_overrides(get_dataset_preset(name), plain)
    cfg.validate()
    return cfg


def preset_table() -> list[tuple[str, str, int, str]]:
    """``(name, kind, images, description)`` of every preset, in order; ``images`` counts
    the preset's labels at seed 0 (labels only: cheap even for a dense lattice)."""
    from factordiff.data.datasets import build_labels

    return [
        (name, cfg.kind, len(build_labels(cfg, seed=0).labels), DATASET_DESCRIPTIONS[name])
        for name, cfg in DATASET_PRESETS.items()
    ]


def preview_preset(
    name: str, out: str | Path, *, n: int = 16, seed: int = 0, overrides=()
) -> tuple[Path, Dataset]:
    """Build preset ``name`` (with ``overrides``, see :func:`resolve_dataset_preset`) at
    ``seed`` and write a labelled grid of ``n`` examples to ``out``
    (:func:`~factordiff.data.preview.save_preview`). The config and the folder of ``out``
    are checked before anything is built. Returns the absolute path and the dataset."""
    from factordiff.data.datasets import build_dataset
    from factordiff.data.preview import save_preview
    from factordiff.paths import check_writable_folder

    cfg = resolve_dataset_preset(name, overrides)
    check_writable_folder(Path(out).parent)  # before building: fail fast
    ds = build_dataset(cfg, seed=seed)
    return save_preview(ds, out, n=n, seed=seed, title=name), ds
