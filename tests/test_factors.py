"""Labels of F factors: a toy F = 3 label set through the label encoder, the model and the
condition grid; F = 2 (the only data today) unchanged; the genuinely 2-D steps say so."""

import math

import numpy as np
import pytest
import torch

from factordiff.analysis.grid import (
    Representation,
    check_grid_shape,
    condition_grid,
    product_grid,
)
from factordiff.config import DataConfig, ModelConfig
from factordiff.data.regions import build_regions
from factordiff.data.render import FACTOR_NAMES, label_factors, render_images
from factordiff.evaluation import per_region, score
from factordiff.model.unet import LabelEncoder, build_model
from factordiff.presets import TINY_MODEL
from factordiff.sampling import _label_rows

K = 3


def _encoder(encoding: str, f: int, seed: int = 0) -> LabelEncoder:
    torch.manual_seed(seed)
    return LabelEncoder(
        period=32, offset=0, num_frequencies=K, emb_dim=8, encoding=encoding, num_factors=f
    )


def _toy_labels() -> torch.Tensor:
    """Six labels of three factors (px)."""
    return torch.tensor(
        [[1.5, 2.5, 3.5], [8.0, 8.0, 8.0], [15.5, 0.5, 9.0], [1.5, 2.5, 4.5], [3.0, 1.0, 2.0]]
    )


@pytest.mark.parametrize("encoding", ["periodic", "positional"])
def test_a_three_factor_encoder_has_a_width_that_follows_f(encoding):
    enc = _encoder(encoding, 3)
    lab = _toy_labels()
    assert enc.features(lab).shape == (5, 2 * 3 * K)
    assert enc.mlp[0].in_features == 2 * 3 * K
    out = enc(lab)
    assert out.shape == (5, 8)
    # deterministic: the same input twice, and the same seed, give the same embedding
    assert torch.equal(out, enc(lab)) and torch.equal(out, _encoder(encoding, 3)(lab))
    # every factor is read: labels differing in one factor only have different embeddings
    d = torch.cdist(out, out) + torch.eye(5) * 1e3
    assert d.min() > 1e-6
    assert not torch.allclose(out[0], out[3])  # rows 0 and 3 differ in the third factor only
    # factor by factor: the first two factors' features are those of the F = 2 encoder
    two = _encoder(encoding, 2).features(lab[:, :2])
    assert torch.equal(enc.features(lab)[:, : 4 * K], two)


def test_the_encoder_refuses_labels_of_another_f():
    with pytest.raises(ValueError, match=r"labels shape \(5, 2\) is invalid.*\(B, 3\)"):
        _encoder("periodic", 3)(_toy_labels()[:, :2])
    with pytest.raises(ValueError, match=r"num_factors = 0 is invalid"):
        _encoder("periodic", 0)


def test_the_model_takes_f_from_the_data(monkeypatch):
    data = DataConfig(image_size=16, periodic=True)
    model_cfg = ModelConfig(**TINY_MODEL.__dict__)
    two = build_model(model_cfg, data)
    assert two.num_factors == len(label_factors(data)) == 2 and FACTOR_NAMES == ("mu_x", "mu_y")
    assert two.label_encoder.mlp[0].in_features == 4 * model_cfg.num_frequencies
    # a dataset of three factors (none exists today) would be declared in label_factors only
    monkeypatch.setattr("factordiff.model.base.label_factors", lambda cfg: ("a", "b", "c"))
    three = build_model(model_cfg, data)
    assert three.num_factors == 3
    assert three.label_encoder.mlp[0].in_features == 6 * model_cfg.num_frequencies
    x = torch.randn(5, 1, 16, 16)
    with torch.no_grad():
        out = three(x, torch.tensor([0, 5, 9, 3, 1]), _toy_labels())
    assert out.shape == (5, 1, 16, 16) and torch.isfinite(out).all()


def test_a_three_factor_product_grid_holds_every_combination_once():
    g = 4
    labels, shape = product_grid(16, (g, g, g))
    assert shape == (g, g, g) and labels.shape == (g**3, 3) and labels.dtype == np.float32
    assert len({tuple(row) for row in labels.tolist()}) == g**3
    values = (np.arange(g) + 0.5) * 16 / g  # cell-centred, per factor
    for f in range(3):
        np.testing.assert_allclose(np.unique(labels[:, f]), values)
    np.testing.assert_allclose(labels[1 * 16 + 2 * 4 + 3], values[[1, 2, 3]])  # first factor outer
    X = np.arange(g**3 * 2, dtype=float).reshape(g**3, 2)
    rep = Representation(X, labels, shape)
    assert rep.num_factors == 3 and rep.as_grid().shape == (g, g, g, 2)
    assert rep.as_grid()[1, 2, 3].tolist() == X[1 * 16 + 2 * 4 + 3].tolist()
    sub = rep.subgrid(2)
    assert sub.grid_shape == (2, 2, 2) and sub.labels.shape == (8, 3)
    np.testing.assert_allclose(np.unique(sub.labels[:, 2]), values[::2])


def test_a_three_factor_representation_checks_its_grid(tmp_path):
    labels, shape = product_grid(8, (2, 3, 4))
    X = np.zeros((24, 5))
    with pytest.raises(ValueError, match=r"grid_shape \(6, 4\) has 2 sides.*F = 3"):
        Representation(X, labels, (6, 4))
    shuffled = labels.reshape(2, 3, 4, 3).transpose(1, 0, 2, 3).reshape(24, 3)
    with pytest.raises(ValueError, match="not a product grid.*product_grid"):
        Representation(X, shuffled, shape)
    rep = Representation(X, labels, shape, {"toy": True})
    rep.save(tmp_path / "r.npz")
    back = Representation.load(tmp_path / "r.npz")
    assert back.grid_shape == (2, 3, 4) and np.array_equal(back.labels, labels)
    # the loop analyses (x-loops, y-loops, tori) are 2-D and say so
    with pytest.raises(ValueError, match=r"need F = 2 factors \(x, y\); got F = 3"):
        check_grid_shape(rep.grid_shape)
    assert Representation(X, labels).grid_shape is None  # PCA and topology need no grid


def test_two_factors_are_unchanged():
    labels, shape = condition_grid(32, 4, 2)
    two, shape2 = product_grid(32, (4, 2))
    assert shape == shape2 == (4, 2) and np.array_equal(labels, two)
    assert labels[:, 0].tolist() == [4, 4, 12, 12, 20, 20, 28, 28]
    assert labels[:, 1].tolist() == [8, 24] * 4
    # the F = 2 periodic features are [sin x, cos x, sin y, cos y] at 2 pi k mu / P, k = 1..K
    f = _encoder("periodic", 2).features(torch.tensor([[3.0, 40.0]]))[0]
    want = [math.sin(2 * math.pi * k * mu / 32) for mu in (3.0, 40.0) for k in (1, 2, 3)]
    assert f[:K].tolist() == pytest.approx(want[:K], abs=1e-5)
    assert f[2 * K : 3 * K].tolist() == pytest.approx(want[K:], abs=1e-5)
    assert _label_rows([[1.0, 2.0], [3.0, 4.0]], DataConfig()).shape == (2, 2)
    assert _label_rows([1.0, 2.0], DataConfig()).tolist() == [[1.0, 2.0]]  # one flat label


def test_the_two_dimensional_steps_refuse_another_f():
    cfg = DataConfig(image_size=16, hole="plus", hole_low=6, hole_high=10)
    lab3 = np.full((2, 3), 8.0)
    images = render_images(lab3[:, :2], cfg)
    msg = r"needs F = 2 factors \(x, y\); got F = 3"
    with pytest.raises(ValueError, match="scoring a 2-D image " + msg):
        score(images, lab3, cfg)
    with pytest.raises(ValueError, match="rendering an image " + msg):
        render_images(lab3, cfg)
    with pytest.raises(ValueError, match=msg):
        build_regions(cfg)["all"].contains(lab3)
    s = score(images, lab3[:, :2], cfg)
    with pytest.raises(ValueError, match=msg):
        per_region(s, lab3, build_regions(cfg))
    with pytest.raises(ValueError, match=r"labels shape \(2, 3\) is invalid.*\(M, 2\)"):
        _label_rows(lab3, cfg)  # F = 3 labels for F = 2 data: refused, not re-cut into rows
