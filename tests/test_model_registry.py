"""The model registry: a toy MLP denoiser registered beside the UNet trains, samples and is
analysed with the real code; the UNet through the registry is the old build; run keys and
old configs are unchanged by ``model.kind``."""

import hashlib
import json
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from factordiff.analysis import ActivationExtractor, PCASpectrum, analyze_run, condition_grid
from factordiff.analysis.sensitivity import block_layers, resolve_layers
from factordiff.config import RunConfig, apply_overrides, from_dict, saved_as_current, to_dict
from factordiff.experiments.sweep import run_key
from factordiff.model.base import Denoiser
from factordiff.model.registry import (
    build_model,
    register_model,
    registered_kinds,
    unregister_model,
)
from factordiff.model.unet import ConditionalUNet
from factordiff.presets import preset_config
from factordiff.sampling import load_checkpoint, sample_images
from factordiff.training import list_checkpoints, load_model, train

TOY = "toy-mlp"


class ToyMLP(Denoiser):
    """Flattens the image, concatenates a sinusoidal time embedding and the labels, three
    Linear layers, reshapes back: ``(B, 1, N, N) -> (B, 1, N, N)``."""

    TIME_DIM = 8

    def __init__(self, model_cfg, data_cfg) -> None:
        super().__init__(model_cfg, data_cfg)
        n = data_cfg.image_size
        width = model_cfg.block_out_channels[-1]  # reuses a width of the config
        self.embed = nn.Linear(n * n + self.TIME_DIM + 2, width)
        self.hidden = nn.Sequential(nn.SiLU(), nn.Linear(width, width))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(width, n * n))

    def forward(self, x_t, t, labels):
        b = x_t.shape[0]
        t = t.expand(b) if t.ndim == 0 else t
        freqs = torch.exp(-torch.arange(self.TIME_DIM // 2, device=x_t.device) * 2.0)
        ang = t.float()[:, None] * freqs  # (B, TIME_DIM / 2)
        temb = torch.cat([ang.sin(), ang.cos()], dim=1)  # (B, TIME_DIM)
        scaled = labels.to(x_t.device).float() / self.image_size  # (B, 2)
        h = torch.cat([x_t.flatten(1), temb, scaled], dim=1)  # (B, N * N + TIME_DIM + 2)
        return self.out(self.hidden(self.embed(h))).reshape(x_t.shape)

    def analysis_layers(self) -> list[str]:
        return ["embed", "hidden"]

    @property
    def default_layer(self) -> str:
        return "hidden"


@contextmanager
def registered(kind, builder, **kw):
    register_model(kind, builder, **kw)
    try:
        yield
    finally:
        if kind in registered_kinds():
            unregister_model(kind)


def toy_cfg() -> RunConfig:
    over = [
        f"model.kind={TOY}",
        "train.max_steps=2",
        "train.eval_every_epochs=0",
        "train.checkpoint_epochs=[0]",
        "train.precision=fp32",
        "train.num_threads=1",
    ]
    return apply_overrides(preset_config("tiny"), over)


def test_a_registered_mlp_trains_samples_and_is_analysed(tmp_path):
    with registered(TOY, ToyMLP):
        cfg = toy_cfg()
        run = tmp_path / "run"
        res = train(cfg, run, progress=False)
        assert res.step == 2
        assert json.loads((run / "config.json").read_text())["model"]["kind"] == TOY
        # the checkpoint stores the config: loading it rebuilds the toy model via the registry
        model, loaded, _meta, dev = load_checkpoint(list_checkpoints(run)[-1], device="cpu")
        assert isinstance(model, ToyMLP) and loaded == cfg
        labels = np.array([[4.0, 5.0], [10.0, 12.0]])
        kw = {"sampler": "ddim", "num_steps": 3, "seed": 0, "device": dev}
        images = sample_images(model, loaded, labels, **kw)
        assert images.shape == (2, 1, 16, 16) and torch.isfinite(images).all()
        assert torch.equal(images, sample_images(model, loaded, labels, **kw))

        # the representation at the model's default layer over a 6 x 6 label grid
        assert block_layers(model) == ["embed", "hidden"] == resolve_layers(model, "all")
        grid, shape = condition_grid(16, 6, 6)
        rep = ActivationExtractor().extract(model, grid, shape)
        assert rep.metadata["layer"] == "hidden"
        assert rep.X.shape == (36, cfg.model.block_out_channels[-1])
        pca = PCASpectrum().fit(rep.X)
        assert 1.0 <= pca.effective_dimension_ <= rep.X.shape[1]
        # ... and the run analysis end to end (no topology, UMAP or figures: seconds)
        summary = analyze_run(
            run, "last", grid=6, topology=False, umap_dims=(), figures=False, device="cpu"
        )
        last = summary["checkpoints"][-1]["summary"]
        assert last["metadata"]["layer"] == "hidden" and last["effective_dimension"] > 0

    # once the kind is gone, its checkpoint is refused with a message naming it
    with pytest.raises(ValueError, match=f"model.kind = '{TOY}'.*'unet'"):
        load_model(list_checkpoints(run)[-1])


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_the_unet_through_the_registry_is_the_old_build(preset):
    cfg = preset_config(preset)
    assert cfg.model.kind == "unet"
    torch.manual_seed(0)
    new = build_model(cfg.model, cfg.data)
    torch.manual_seed(0)
    old = ConditionalUNet(cfg.model, cfg.data)  # what build_model constructed before
    assert type(new) is ConditionalUNet
    assert sum(p.numel() for p in new.parameters()) == sum(p.numel() for p in old.parameters())
    a, b = new.state_dict(), old.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    levels = len(cfg.model.block_out_channels)
    blocks = [f"unet.down_blocks.{i}" for i in range(levels)]
    blocks += ["unet.mid_block"] + [f"unet.up_blocks.{i}" for i in range(levels)]
    assert new.analysis_layers() == blocks == block_layers(new)
    assert new.default_layer == new.default_analysis_layer == blocks[levels - 1]


def test_unknown_kinds_and_bad_registrations_are_refused():
    cfg = preset_config("tiny")
    message = r"model.kind = 'dit' is invalid; allowed: one of \['unet'"
    with pytest.raises(ValueError, match=message):
        apply_overrides(cfg, ["model.kind=dit"])
    with pytest.raises(ValueError, match=message):
        build_model(replace(cfg.model, kind="dit"), cfg.data)
    with pytest.raises(ValueError, match="'unet' is already registered"):
        register_model("unet", ToyMLP)
    with pytest.raises(ValueError, match="kind = 'Bad Name' is invalid"):
        register_model("Bad Name", ToyMLP)
    with registered("not-a-denoiser", lambda m, d: nn.Linear(2, 2)):
        bad = replace(cfg.model, kind="not-a-denoiser")
        with pytest.raises(TypeError, match="built a Linear; allowed: a factordiff"):
            build_model(bad, cfg.data)

    def refuse_odd(model_cfg, data_cfg):
        if data_cfg.image_size % 3:
            raise ValueError(f"data.image_size = {data_cfg.image_size} is invalid; allowed: 3k")

    # a kind's own check runs in RunConfig.validate, before anything is built
    with registered(TOY, ToyMLP, check=refuse_odd):
        with pytest.raises(ValueError, match="allowed: 3k"):
            apply_overrides(cfg, [f"model.kind={TOY}"])
    # the UNet's rule (N halves through its levels) now lives behind its own check
    with pytest.raises(ValueError, match="a multiple of 8 for a UNet of 4 levels"):
        apply_overrides(preset_config("small"), ["data.image_size=12"])


#: Run keys committed in docs/results/exp1-5seeds/summary.json (exp1-quick, seeds 0-4).
COMMITTED_EXP1_KEYS = [
    "742bd3666ea9",
    "7629ac6b9c9d",
    "d53d9cf68830",
    "4facc08f8fa3",
    "a87ec0918376",
]


def test_model_kind_changes_no_run_key_and_old_configs_load():
    base = preset_config("exp1-quick")
    keys = [run_key(replace(base, seed=s)) for s in range(5)]
    assert keys == COMMITTED_EXP1_KEYS
    for cfg in (preset_config("tiny"), preset_config("small"), base):
        old = to_dict(cfg)  # as written before model.kind existed
        old.pop("device")
        del old["model"]["kind"]
        key_old = {**old, "model": dict(old["model"])}
        if key_old["model"]["label_encoding"] == "periodic":  # older still, also left out
            del key_old["model"]["label_encoding"]
        text = json.dumps(key_old, sort_keys=True, separators=(",", ":"))
        assert run_key(cfg) == hashlib.sha256(text.encode()).hexdigest()[:12]
        assert from_dict(RunConfig, old).model.kind == "unet"  # loads at the default
        # ... and resuming such a run sees no change of config
        resumed = saved_as_current(RunConfig, {**old, "device": "cpu"})
        assert resumed == to_dict(cfg) | {"device": "cpu"}
    with registered(TOY, ToyMLP):
        assert run_key(toy_cfg()) != run_key(apply_overrides(toy_cfg(), ["model.kind=unet"]))
