"""The sensitivity map over layers, timesteps, poolings and noise draws."""

import math

import pytest
import torch
from torch import nn

from factordiff.analysis import condition_grid
from factordiff.analysis.sensitivity import count_holding, sensitivity_map


class Tiny(nn.Module):
    """Labels enter as sin / cos of their angle, x and y through separate channels."""

    default_analysis_layer = "encoder"

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.image_size = 8
        self.num_train_timesteps = 100
        self.embed = nn.Linear(4, 8)
        self.conv_in = nn.Conv2d(1, 8, 3, padding=1)
        self.encoder = nn.Sequential(nn.SiLU(), nn.Conv2d(8, 8, 3, 2, 1))

    def forward(self, x_t, t, labels):
        ang = 2 * math.pi * labels / self.image_size
        feats = torch.cat([ang.sin(), ang.cos()], dim=1)
        h = self.conv_in(x_t) + self.embed(feats)[:, :, None, None]
        return self.encoder(h + 1e-2 * t[:, None, None, None].float())


def test_map_covers_every_setting_and_applies_the_control():
    labels, shape = condition_grid(8, 6, 6)
    kw = {"layers": ["encoder.0", "encoder"], "ts": [10, 99], "poolings": ["flatten", "mean"]}
    rows = sensitivity_map(Tiny(0), labels, shape, n_noises=(1, 2), **kw)
    assert len(rows) == 2 * 2 * 2 * 2
    assert {(r["layer"], r["t"], r["pooling"], r["n_noise"]) for r in rows} == {
        (a, t, p, k) for a in kw["layers"] for t in kw["ts"] for p in kw["poolings"] for k in (1, 2)
    }
    held, total = count_holding(rows, "orthogonal")
    assert total == 16 and held == sum(r["orthogonal"]["passes"] for r in rows)
    # with the same network as its own control nothing can be reproduced
    same = sensitivity_map(Tiny(0), labels, shape, n_noises=(1,), control=Tiny(0), **kw)
    for rule in ("orthogonal", "parallel", "superfactored"):
        assert count_holding(same, rule)[0] == 0
        for r in same:
            assert r[rule]["passes"] == r[rule]["control_passes"]
    with pytest.raises(ValueError, match="topology=True"):
        sensitivity_map(Tiny(0), labels, shape, rules=["torus"], **kw)
    with pytest.raises(ValueError, match="rule = 'x'"):
        sensitivity_map(Tiny(0), labels, shape, rules=["x"], **kw)
