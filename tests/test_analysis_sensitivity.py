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


def test_map_covers_every_setting_and_applies_the_control(capsys):
    labels, shape = condition_grid(8, 6, 6)
    kw = {"layers": ["encoder.0", "encoder"], "ts": [10, 99], "poolings": ["flatten", "mean"]}
    rows = sensitivity_map(Tiny(0), labels, shape, n_noises=(1, 2), progress=True, **kw)
    err = capsys.readouterr().err  # a bar over the 2 x 2 (n_noise, t) passes
    assert "sensitivity map" in err and "4/4" in err
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


def test_all_layers_are_the_unet_blocks_in_forward_order():
    from factordiff.analysis.sensitivity import block_layers, resolve_layers
    from factordiff.model.unet import build_model
    from factordiff.presets import preset_config

    cfg = preset_config("tiny")
    model = build_model(cfg.model, cfg.data)
    blocks = [
        "unet.down_blocks.0",
        "unet.down_blocks.1",
        "unet.mid_block",
        "unet.up_blocks.0",
        "unet.up_blocks.1",
    ]
    assert block_layers(model) == blocks == resolve_layers(model, "all")
    assert resolve_layers(model, "unet.mid_block,unet.down_blocks.0") == blocks[2::-2]
    with pytest.raises(ValueError, match="'unet.mid'"):
        resolve_layers(model, ["unet.mid"])
    with pytest.raises(ValueError, match="'all' alone"):
        resolve_layers(model, ["all", "unet.mid_block"])
    with pytest.raises(ValueError, match="no submodules named down_blocks"):
        block_layers(Tiny(0))


def test_long_table_counts_and_homology_on_a_subgrid():
    from factordiff.analysis.control import effective_dimension_rule
    from factordiff.analysis.sensitivity import map_counts, map_table

    labels, shape = condition_grid(8, 8, 8)
    rules = ["orthogonal", effective_dimension_rule(3.0), "b1_is_2"]
    kw = {"layers": ["encoder"], "ts": [99], "poolings": ["flatten", "mean"], "n_noises": (1,)}
    rows = sensitivity_map(
        Tiny(0), labels, shape, rules=rules, control=Tiny(1), topology=True, homology_step=2, **kw
    )
    assert len(rows) == 2 and all(len(r["betti"]) == 2 for r in rows)  # H0 and H1 only
    names = ["orthogonal", "effective_dimension<=3", "b1_is_2"]
    table = map_table(rows, names)
    assert len(table) == 2 * 3 and {t["rule"] for t in table} == set(names)
    for t in table:
        assert t["reproduced"] == (t["passes"] and not t["control_passes"])
    counts = map_counts(rows, names)
    for name in names:
        assert counts[name]["settings"] == 2
        assert counts[name]["holds"] == sum(t["reproduced"] for t in table if t["rule"] == name)
    with pytest.raises(ValueError, match="t = 100 is invalid"):
        sensitivity_map(Tiny(0), labels, shape, layers=["encoder"], ts=[100])
    with pytest.raises(ValueError, match="homology_step"):
        sensitivity_map(Tiny(0), labels, shape, homology_step=0, **kw)
