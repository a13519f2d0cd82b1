"""The paper's hole bounds, canvas margin and hole sizes scaled with the image size N."""

import pytest

from factordiff.data import build_labels, get_dataset_preset
from factordiff.data.rescale import describe_scaling, scaled_data_config


def test_plus_hole_bounds_scale_with_n():
    cfg = get_dataset_preset("sos-plus-hole")
    assert (cfg.hole_low, cfg.hole_high) == (13.0, 19.0)
    half = scaled_data_config(cfg, 16)
    assert (half.image_size, half.hole_low, half.hole_high) == (16, 6.5, 9.5)
    assert scaled_data_config(cfg, 64).hole_low == 26.0
    # on the pixel-centre lattice the closed band holds 6 of 32 centres (13.5 .. 18.5) and,
    # at N = 16, 4 of 16 (6.5 .. 9.5: the scaled bounds fall on centres)
    assert len(build_labels(cfg, seed=0).labels) == 26 * 26
    assert len(build_labels(half, seed=0).labels) == 12 * 12


def test_margin_and_hole_sizes_scale_with_n():
    ext = scaled_data_config(get_dataset_preset("stripes"), 16)
    assert ext.margin == 3 and ext.image_size == 16 and ext.rim_width == 2.0
    assert scaled_data_config(get_dataset_preset("stripes"), 8).margin == 2  # 1.5 -> 2
    assert scaled_data_config(get_dataset_preset("bump-extended"), 4).margin == 1  # never 0
    for name in ("sos-lesion", "sos-square-interior", "sos-square-exterior"):
        cfg = scaled_data_config(get_dataset_preset(name), 16)
        assert cfg.hole_width == 3.0, name
        assert cfg.sigma_x == 1.0 and cfg.dx == 1.0  # pixel quantities are kept
    line = describe_scaling(
        get_dataset_preset("sos-plus-hole"),
        scaled_data_config(get_dataset_preset("sos-plus-hole"), 16),
    )
    assert "N = 16 instead of 32" in line and "6.5 to 9.5" in line


def test_scaling_refuses_bad_sizes():
    with pytest.raises(ValueError, match="n = 2 is invalid"):
        scaled_data_config(get_dataset_preset("bump"), 2)
    with pytest.raises(ValueError, match="n = 16.0 is invalid"):
        scaled_data_config(get_dataset_preset("bump"), 16.0)
