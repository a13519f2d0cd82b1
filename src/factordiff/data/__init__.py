"""The paper's synthetic data, generated on the fly.

- :mod:`~factordiff.data.render`: bumps, SOS and stripes, the coordinate convention and the
  fixed [-1, 1] scale.
- :mod:`~factordiff.data.regions`: regions of label space (holes and their sections).
- :mod:`~factordiff.data.datasets`: lattices, holes, subsampling, mixtures -> :class:`Dataset`.
- :mod:`~factordiff.data.presets`: named datasets of the paper's experiments.
- :mod:`~factordiff.data.rescale`: the paper's N = 32 geometry moved to another image size
  (not re-exported here).
"""

from factordiff.data.datasets import (
    TAG_NAMES,
    Dataset,
    LabelSet,
    build_dataset,
    build_labels,
    eval_conditions,
    label_range,
    lattice_axis,
    lattice_labels,
)
from factordiff.data.presets import DATASET_DESCRIPTIONS, DATASET_PRESETS, get_dataset_preset
from factordiff.data.regions import Interval, Rect, Region, build_regions, region_strata
from factordiff.data.render import (
    coord_visible,
    gaussian_profile,
    image_tags,
    images_to_unit,
    label_formulas,
    peak_intensity,
    render_bump,
    render_images,
    render_sos,
    render_stripe,
    unit_to_images,
    visible_dims,
)

__all__ = [
    "DATASET_DESCRIPTIONS",
    "DATASET_PRESETS",
    "TAG_NAMES",
    "Dataset",
    "Interval",
    "LabelSet",
    "Rect",
    "Region",
    "build_dataset",
    "build_labels",
    "build_regions",
    "coord_visible",
    "eval_conditions",
    "gaussian_profile",
    "get_dataset_preset",
    "image_tags",
    "images_to_unit",
    "label_formulas",
    "label_range",
    "lattice_axis",
    "lattice_labels",
    "peak_intensity",
    "region_strata",
    "render_bump",
    "render_images",
    "render_sos",
    "render_stripe",
    "unit_to_images",
    "visible_dims",
]
