"""Condition grids, the Representation container and activation capture."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from factordiff.analysis import (
    ActivationExtractor,
    Representation,
    condition_grid,
    extract_representation,
    extract_representations,
    layer_names,
    resolve_layer,
)


class TupleBlock(nn.Module):
    """Returns a tuple, like a diffusers down block: (hidden_states, skip_states)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, h):
        out = self.conv(h)
        return out, (h, out)


class TinyDenoiser(nn.Module):
    """A tiny conditional denoiser with the factordiff calling convention.

    Labels enter through sin/cos of their angle on the periodic frame, so the encoder's
    representation depends on (mu_x, mu_y); ``calls`` counts forward passes that got past
    the encoder (the extractor should stop before them)."""

    default_analysis_layer = "encoder"

    def __init__(self, image_size: int = 8, channels: int = 8, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.image_size = image_size
        self.embed = nn.Linear(4, channels)
        self.conv_in = nn.Conv2d(1, channels, 3, padding=1)
        self.encoder = nn.Sequential(nn.SiLU(), nn.Conv2d(channels, channels, 3, 2, 1))
        self.block = TupleBlock(channels)
        self.conv_out = nn.Conv2d(channels, 1, 3, padding=1)
        self.calls_after_encoder = 0

    def forward(self, x_t, t, labels):
        ang = 2 * math.pi * labels / self.image_size  # (B, 2)
        feats = torch.cat([ang.sin(), ang.cos()], dim=1)  # (B, 4)
        h = self.conv_in(x_t) + self.embed(feats)[:, :, None, None]
        h = self.encoder(h + 1e-3 * t[:, None, None, None].float())
        self.calls_after_encoder += 1
        h, _ = self.block(h)
        return nn.functional.interpolate(self.conv_out(h), scale_factor=2)


def test_condition_grid_is_cell_centred_x_major():
    labels, shape = condition_grid(32, 4, 2)
    assert shape == (4, 2) and labels.shape == (8, 2) and labels.dtype == np.float32
    np.testing.assert_allclose(labels[:, 0], [4, 4, 12, 12, 20, 20, 28, 28])
    np.testing.assert_allclose(labels[:, 1], [8, 24] * 4)
    # one condition per pixel centre when n == N, as factordiff's training lattice
    labels, _ = condition_grid(32, 32, 32)
    np.testing.assert_allclose(np.unique(labels[:, 0]), np.arange(32) + 0.5)
    with pytest.raises(ValueError, match="n_x = 1"):
        condition_grid(32, 1, 4)


def test_representation_checks_grid_order_and_roundtrips(tmp_path):
    labels, shape = condition_grid(8, 4, 4)
    X = np.arange(16 * 3, dtype=float).reshape(16, 3)
    rep = Representation(X, labels, shape, {"layer": "a"})
    assert rep.as_grid()[2, 1].tolist() == X[2 * 4 + 1].tolist()
    with pytest.raises(ValueError, match="x-major"):
        y_major = labels.reshape(4, 4, 2).transpose(1, 0, 2).reshape(16, 2)
        Representation(X, y_major, shape)
    with pytest.raises(ValueError, match="does not match"):
        Representation(X, labels, (4, 5))
    rep.save(tmp_path / "r.npz")
    back = Representation.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.X, X)
    assert back.grid_shape == (4, 4) and back.metadata == {"layer": "a"}


def test_extractor_records_metadata_and_stops_after_the_layer():
    model = TinyDenoiser()
    labels, shape = condition_grid(8, 4, 5)
    ext = ActivationExtractor(t=10, seed=3, batch_size=7)
    rep = ext.extract(model, labels, shape)
    assert rep.X.shape == (20, 8 * 4 * 4)  # flatten of (C, N/2, N/2)
    assert ext.layer_ == "encoder" and ext.output_shape_ == (8, 4, 4)
    meta = rep.metadata
    assert (meta["layer"], meta["t"], meta["pooling"], meta["seed"]) == (
        "encoder",
        10,
        "flatten",
        3,
    )
    assert meta["n_noise"] == 1 and meta["image_size"] == 8
    assert model.calls_after_encoder == 0  # the forward pass stopped at the hook
    assert model.training  # mode restored


def test_extractor_matches_a_manual_forward_and_is_batch_size_invariant():
    model = TinyDenoiser()
    labels, shape = condition_grid(8, 4, 4)
    rep = ActivationExtractor(t=5, seed=1, batch_size=3).extract(model, labels, shape)
    noise = torch.randn((1, 1, 8, 8), generator=torch.Generator().manual_seed(1))
    captured = {}

    def keep_output(_module, _inputs, output):
        captured["h"] = output  # returns None: the model's output is left as it is

    handle = model.encoder.register_forward_hook(keep_output)
    model.eval()
    with torch.no_grad():
        lab = torch.from_numpy(labels)
        model(noise.expand(16, -1, -1, -1), torch.full((16,), 5), lab)
    handle.remove()  # a hook left in place would run inside every later extraction
    np.testing.assert_allclose(rep.X, captured["h"].flatten(1).numpy(), rtol=1e-5, atol=1e-6)
    rep_big = ActivationExtractor(t=5, seed=1, batch_size=256).extract(model, labels, shape)
    np.testing.assert_allclose(rep.X, rep_big.X, rtol=1e-5, atol=1e-6)
    # a different seed is a different noise input, hence a different representation
    rep_other = ActivationExtractor(t=5, seed=2).extract(model, labels, shape)
    assert not np.allclose(rep.X, rep_other.X)


def test_pooling_noise_mean_and_tuple_outputs():
    model = TinyDenoiser()
    labels, shape = condition_grid(8, 4, 4)
    flat = ActivationExtractor(layer="block", seed=0).extract(model, labels, shape)
    mean = ActivationExtractor(layer="block", pooling="mean", seed=0).extract(model, labels, shape)
    mx = ActivationExtractor(layer="block", pooling="max", seed=0).extract(model, labels, shape)
    grid = flat.X.reshape(16, 8, 4, 4)  # the block returns a tuple: first tensor captured
    np.testing.assert_allclose(mean.X, grid.mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mx.X, grid.max(axis=(2, 3)), rtol=1e-5, atol=1e-6)
    # n_noise = k averages the representations of the first k draws of that seed's stream
    two = ActivationExtractor(pooling="mean", n_noise=2, seed=4).extract(model, labels, shape)
    gen = torch.Generator().manual_seed(4)
    draws = torch.randn((2, 1, 8, 8), generator=gen)
    singles = []
    for k in range(2):
        h = {}
        hook = model.encoder.register_forward_hook(lambda m, i, o, h=h: h.setdefault("h", o))
        with torch.no_grad():
            model.eval()
            model(
                draws[k : k + 1].expand(16, -1, -1, -1),
                torch.full((16,), 999),
                torch.from_numpy(labels),
            )
        hook.remove()
        singles.append(h["h"].mean(dim=(2, 3)).numpy())
    np.testing.assert_allclose(two.X, np.mean(singles, axis=0), rtol=1e-5, atol=1e-6)


def test_forward_fn_for_other_signatures():
    model = TinyDenoiser()

    class KeywordModel(nn.Module):  # takes keyword arguments only, e.g. cond=...
        def __init__(self):
            super().__init__()
            self.inner = model
            self.image_size = 8

        def forward(self, *, sample, timestep, cond):
            return self.inner(sample, timestep, cond)

    wrapped = KeywordModel()
    labels, shape = condition_grid(8, 4, 4)
    rep = ActivationExtractor(
        layer="inner.encoder",
        forward_fn=lambda m, x_t, t, lab: m(sample=x_t, timestep=t, cond=lab),
    ).extract(wrapped, labels, shape)
    direct = extract_representation(model, labels, shape, layer="encoder")
    np.testing.assert_allclose(rep.X, direct.X, rtol=1e-6)


def test_layer_errors_list_the_available_names():
    model = TinyDenoiser()
    assert "encoder.1" in layer_names(model) and "" not in layer_names(model)
    with pytest.raises(ValueError, match=r"did you mean encoder.*available layers: embed, "):
        resolve_layer(model, "encoderr")
    plain = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="no default_analysis_layer.*one of: 0"):
        resolve_layer(plain, None)
    assert resolve_layer(model, None) == "encoder"
    labels, shape = condition_grid(8, 4, 4)
    model.unused = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="was not called"):
        ActivationExtractor(layer="unused").extract(model, labels, shape)
    with pytest.raises(ValueError, match="pooling"):
        ActivationExtractor(pooling="avg").extract(model, labels, shape)
    with pytest.raises(ValueError, match="image_size"):
        ActivationExtractor(layer="0").extract(plain, labels, shape)


def test_timestep_defaults_to_the_last_step_and_is_checked_against_T():
    model = TinyDenoiser()
    labels, shape = condition_grid(8, 4, 4)
    # T unknown: the DDPM default T = 1000, so t = 999; only t >= 0 is checked
    assert ActivationExtractor().extract(model, labels, shape).metadata["t"] == 999
    with pytest.raises(ValueError, match="t = -1 is invalid"):
        ActivationExtractor(t=-1).extract(model, labels, shape)
    # T known from the model (load_model sets it) or passed: default T - 1, t >= T rejected
    model.num_train_timesteps = 100
    rep = ActivationExtractor().extract(model, labels, shape)
    assert rep.metadata["t"] == 99
    with pytest.raises(ValueError, match=r"t = 999 is invalid .*T = 100.*\[0, 99\]"):
        ActivationExtractor(t=999).extract(model, labels, shape)
    with pytest.raises(ValueError, match=r"t = 50 is invalid .*T = 50"):
        ActivationExtractor(t=50, num_train_timesteps=50).extract(model, labels, shape)
    with pytest.raises(ValueError, match="t = 2.5 is invalid"):
        ActivationExtractor(t=2.5).extract(model, labels, shape)


def test_nan_labels_are_rejected():
    model = TinyDenoiser()
    labels, _ = condition_grid(8, 4, 4)
    labels[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"finite.*1 row.*first row 5"):
        ActivationExtractor().extract(model, labels)
    with pytest.raises(ValueError, match="shape"):
        ActivationExtractor().extract(model, labels[:, :1])


def test_no_gradients_are_recorded():
    model = TinyDenoiser()
    labels, shape = condition_grid(8, 4, 4)
    ActivationExtractor().extract(model, labels, shape)
    assert all(p.grad is None for p in model.parameters())


def test_diffusers_unet_with_own_conditioning():
    """The documented example: a diffusers UNet2DModel conditioned through class_labels."""
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        layers_per_block=1,
        norm_num_groups=4,
        class_embed_type="identity",  # class_labels is added to the time embedding
    )
    encode = nn.Linear(2, 32)  # the user's own conditioning: (mu_x, mu_y) -> embedding

    def forward_fn(model, x_t, t, labels):
        return model(x_t, t, class_labels=encode(labels / 8.0)).sample

    labels, shape = condition_grid(8, 4, 4)
    ext = ActivationExtractor(layer="down_blocks.1", image_size=8, forward_fn=forward_fn)
    rep = ext.extract(unet, labels, shape)
    assert rep.X.shape == (16, 16 * 4 * 4)  # (hidden, skips) tuple -> hidden (16, 4, 4)
    assert np.std(rep.X, axis=0).max() > 0  # the conditioning reaches the layer


def test_many_layers_and_timesteps_equal_separate_extractions_with_one_pass_per_batch():
    model = TinyDenoiser()
    labels, shape = condition_grid(8, 4, 4)
    calls = []

    def counting_forward(m, x_t, t, lab):
        calls.append(int(t[0]))
        return m(x_t, t, lab)

    params = {"seed": 2, "n_noise": 2, "batch_size": 10, "forward_fn": counting_forward}
    layers, ts, poolings = ["conv_in", "encoder", "block"], [5, 999], ["flatten", "mean"]
    reps = extract_representations(
        model, labels, shape, layers=layers, ts=ts, poolings=poolings, **params
    )
    # one forward pass per timestep, noise draw and batch of conditions (16 = 10 + 6)
    assert sorted(calls) == [5] * 4 + [999] * 4
    assert set(reps) == {(a, t, p) for a in layers for t in ts for p in poolings}
    for (layer, t, pooling), rep in reps.items():
        single = ActivationExtractor(layer=layer, t=t, pooling=pooling, **params).extract(
            model, labels, shape
        )
        np.testing.assert_allclose(rep.X, single.X, rtol=1e-6, atol=1e-7)
        assert rep.metadata == single.metadata
    assert reps[("block", 5, "mean")].X.shape == (16, 8)
    assert not np.allclose(reps[("encoder", 5, "flatten")].X, reps[("encoder", 999, "flatten")].X)
    with pytest.raises(ValueError, match="distinct"):
        extract_representations(model, labels, shape, layers=["block", "block"])
    model.num_train_timesteps = 100
    with pytest.raises(ValueError, match="t = 999 is invalid"):
        extract_representations(model, labels, shape, ts=[5, 999])
