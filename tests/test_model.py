import math

import pytest
import torch

from factordiff.config import DataConfig, ModelConfig
from factordiff.model.unet import LabelEncoder, build_model
from factordiff.presets import TINY_MODEL


def tiny(periodic=False, coord=0, n=16):
    cfg = ModelConfig(**{**TINY_MODEL.__dict__, "coord_frequencies": coord})
    return build_model(cfg, DataConfig(image_size=n, periodic=periodic))


def test_forward_shape_and_named_layers():
    model = tiny()
    x = torch.randn(3, 1, 16, 16)
    out = model(x, torch.tensor([0, 5, 99]), torch.tensor([[1.5, 2.5], [8.0, 8.0], [15.5, 0.5]]))
    assert out.shape == (3, 1, 16, 16)
    names = dict(model.named_modules())
    assert model.default_analysis_layer in names
    assert "label_encoder" in names and "unet.mid_block" in names


def test_periodic_label_encoding_wraps_at_n():
    enc = LabelEncoder(period=32, offset=0, num_frequencies=16, emb_dim=8)
    a = enc.features(torch.tensor([[3.0, 7.25]]))
    b = enc.features(torch.tensor([[35.0, 7.25 - 32]]))
    assert torch.allclose(a, b, atol=1e-5)


def test_nonperiodic_label_encoding_is_injective_on_the_range():
    model = tiny(periodic=False)
    enc = model.label_encoder
    mus = torch.linspace(0, 16, 65)
    feats = enc.features(torch.stack([mus, torch.zeros_like(mus)], 1))
    d = torch.cdist(feats, feats) + torch.eye(len(mus)) * 1e3
    assert d.min() > 1e-3  # no two labels in range share an encoding
    assert enc.period == pytest.approx(32.0)


def test_coord_features_are_fourier_features_of_pixel_centres():
    model = tiny(periodic=True, coord=3)
    c = model.coords  # (4K, N, N): sin x (K), cos x (K), sin y (K), cos y (K)
    assert c.shape == (12, 16, 16)
    # column 2 (centre 2.5), frequency k = 2, period N = 16
    assert c[1, 5, 2].item() == pytest.approx(math.sin(2 * math.pi * 2 * 2.5 / 16), abs=1e-6)
    # row 4 (centre 4.5), cos, k = 3
    assert c[11, 4, 9].item() == pytest.approx(math.cos(2 * math.pi * 3 * 4.5 / 16), abs=1e-6)
    # the summed cosines peak at the pixel of the label: a one-layer location read-out
    mu = 6.5
    score = sum(
        c[3 + j] * math.cos(2 * math.pi * (j + 1) * mu / 16)
        + c[j] * math.sin(2 * math.pi * (j + 1) * mu / 16)
        for j in range(3)
    )
    assert int(score[0].argmax()) == 6
    x = torch.randn(2, 1, 16, 16)
    out = model(x, torch.tensor([5, 9]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert out.shape == (2, 1, 16, 16)


def test_invalid_model_config_names_field():
    with pytest.raises(ValueError, match="model.attention"):
        ModelConfig(block_out_channels=(8, 16), attention=(True,)).validate()
    with pytest.raises(ValueError, match="norm_num_groups"):
        ModelConfig(
            block_out_channels=(6, 16), attention=(False, False), norm_num_groups=4
        ).validate()


def test_run_config_refuses_an_image_size_the_unet_cannot_halve():
    from factordiff.presets import preset_config

    cfg = preset_config("small")  # 4 levels: N must be a multiple of 8
    cfg.data.image_size = 12
    with pytest.raises(ValueError, match="data.image_size = 12 .*multiple of 8"):
        cfg.validate()
    cfg.data.image_size = 24
    cfg.validate()
    model = build_model(cfg.model, cfg.data)  # and the UNet of every accepted N builds and runs
    out = model(torch.randn(1, 1, 24, 24), torch.tensor([3]), torch.tensor([[4.0, 5.0]]))
    assert out.shape == (1, 1, 24, 24)
