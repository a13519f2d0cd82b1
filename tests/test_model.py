import math

import pytest
import torch

from factordiff.config import DataConfig, ModelConfig, RunConfig, from_dict, to_dict
from factordiff.model.unet import LabelEncoder, build_model
from factordiff.presets import TINY_MODEL, preset_config


def tiny(periodic=False, coord=0, n=16, **model):
    cfg = ModelConfig(**{**TINY_MODEL.__dict__, "coord_frequencies": coord, **model})
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


def _encoder(encoding, k=16):
    return LabelEncoder(period=32, offset=0, num_frequencies=k, emb_dim=8, encoding=encoding)


@pytest.mark.parametrize("k", [16, 1])
def test_periodic_encoder_output_repeats_after_n_and_positional_does_not(k):
    torch.manual_seed(0)
    mu = torch.tensor([[3.0, 7.25], [0.5, 31.5], [16.0, 2.0]])
    shifted = [mu + torch.tensor([32.0, 0.0]), mu + torch.tensor([0.0, 32.0]), mu + 32.0]
    periodic = _encoder("periodic", k)
    for m in shifted:  # the whole encoder (features and MLP): mu and mu + N are one input
        assert torch.allclose(periodic(mu), periodic(m), atol=1e-5)
    positional = _encoder("positional", k)
    for m in shifted:
        assert (positional.features(mu) - positional.features(m)).abs().max() > 0.1
        assert not torch.allclose(positional(mu), positional(m), atol=1e-4)


def test_label_encoder_shapes_and_positional_features():
    for encoding in ("periodic", "positional"):
        for k in (1, 4):
            enc = _encoder(encoding, k)
            assert enc.features(torch.zeros(5, 2)).shape == (5, 4 * k)
            assert enc(torch.zeros(5, 2)).shape == (5, 8)
    # positional, K = 2: per coordinate cos(mu), cos(mu / 100), sin(mu), sin(mu / 100)
    enc = _encoder("positional", 2)
    f = enc.features(torch.tensor([[3.0, 40.0]]))[0]
    want = [math.cos(3), math.cos(0.03), math.sin(3), math.sin(0.03)]
    want += [math.cos(40), math.cos(0.4), math.sin(40), math.sin(0.4)]
    assert f.tolist() == pytest.approx(want, abs=1e-5)
    with pytest.raises(ValueError, match="encoding = 'fourier'.*periodic"):
        _encoder("fourier")


def test_label_encoding_config_default_and_old_configs():
    assert ModelConfig().label_encoding == "periodic"
    with pytest.raises(ValueError, match="model.label_encoding = 'learned'"):
        ModelConfig(label_encoding="learned").validate()
    # a config written before the field existed loads with the encoding it was trained with
    old = to_dict(preset_config("exp1-quick"))
    del old["model"]["label_encoding"]
    cfg = from_dict(RunConfig, old)
    assert cfg.model.label_encoding == "periodic" and cfg == preset_config("exp1-quick")


@pytest.mark.parametrize("encoding", ["periodic", "positional"])
def test_tiny_model_trains_with_each_label_encoding(encoding):
    from factordiff.diffusion import GaussianDiffusion

    torch.manual_seed(0)
    model = tiny(periodic=True, label_encoding=encoding)
    assert model.label_encoder.encoding == encoding
    diffusion = GaussianDiffusion(preset_config("tiny").diffusion)
    x0 = torch.randn(4, 1, 16, 16).clamp(-1, 1)
    labels = torch.tensor([[1.5, 2.5], [8.0, 8.0], [15.5, 0.5], [4.0, 12.0]])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(8):
        loss = diffusion.training_losses(model, x0, labels, generator=g).mean()
        opt.zero_grad()
        loss.backward()
        assert model.label_encoder.mlp[0].weight.grad.abs().sum() > 0  # the labels are used
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
