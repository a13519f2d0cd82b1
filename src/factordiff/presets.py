"""Named run presets, each with a one-line description and the result we expect of it.

A preset is a full :class:`RunConfig`; ``--set section.key=value`` changes single fields.
The ``expected`` text says what a run of the preset should show, and how it was measured
where it was; it is printed by ``factordiff list``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from factordiff.config import (
    DataConfig,
    DiffusionConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
)
from factordiff.config.catalog import CATALOG, CatalogEntry
from factordiff.ladder import DEVIATIONS, PAPER_NETWORK, deviations, rung_config, rung_description


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    expected: str
    config: RunConfig


# The paper's UNet, as we read its Fig. 7 (see docs/model.md): widths 64-128-256-256, three
# downsamplings, self-attention at every level, two residual blocks per level, additive
# conditioning on sinusoidal (positional) encodings of the raw coordinates, no coordinate
# channels: the last rung of the ladder (factordiff.ladder). Our reading.
PAPER_MODEL = PAPER_NETWORK

# Sized for a 2-core CPU: narrow, one residual block per level, no self-attention, and one pair of Fourier coordinate channels per axis (sin/cos of 2 pi x / P) fed in
# beside the image. Our choices, measured in docs/performance.md: the coordinate channels bring
# the accuracy transition from ~1,600 to ~1,100 steps and dropping attention makes a step ~15%
# cheaper.
SMALL_MODEL = ModelConfig(
    block_out_channels=(16, 32, 64, 64),
    attention=(False, False, False, False),
    layers_per_block=1,
    norm_num_groups=8,
    attention_head_dim=32,
    num_frequencies=16,
    scale_shift=True,
    coord_frequencies=1,
)

# The model that produced the committed Experiment 1 quick run (docs/results/exp1): the small
# widths with attention at the 4 x 4 level and no coordinate channels, closer to the paper's
# network. Kept for `exp1-quick` so that its report stays reproducible.
EXP1_QUICK_MODEL = replace(SMALL_MODEL, attention=(False, False, False, True), coord_frequencies=0)

# Our fast CPU setting (docs/performance.md): v-prediction on the paper's linear schedule.
FAST_DIFFUSION = DiffusionConfig(prediction_type="v_prediction")

TINY_MODEL = ModelConfig(
    block_out_channels=(8, 16),
    attention=(False, True),
    layers_per_block=1,
    norm_num_groups=4,
    attention_head_dim=8,
    num_frequencies=4,
)


def _small() -> RunConfig:
    return RunConfig(
        name="small",
        data=DataConfig(kind="bump", image_size=32),
        model=SMALL_MODEL,
        diffusion=FAST_DIFFUSION,
        train=TrainConfig(
            epochs=150,
            batch_size=64,
            lr=2e-3,
            warmup_steps=100,
            ema_decay=0.99,
            checkpoint_epochs=(0, 25, 50, 100, 150),
            eval_every_epochs=25,
            eval_num_conditions=256,
            eval_sampler="ddim",
            eval_steps=25,
            precision="auto",
        ),
        eval=EvalConfig(num_samples=1024, sampler="ddim", num_steps=50),
    )


def _quick() -> RunConfig:
    """The README's first command: the `small` setting on 24 x 24 bumps (576 images), sized so
    that it learns within 15 minutes on a 2-core CPU with or without native bf16 (our choice;
    measured in docs/performance.md)."""
    cfg = _small()
    cfg.name = "quick"
    cfg.data = DataConfig(kind="bump", image_size=24)
    # 576 images / batch 64 = 9 steps per epoch: 166 epochs = 1,494 steps
    cfg.train.epochs = 166
    cfg.train.checkpoint_epochs = (0, 45, 90, 135, 166)
    cfg.train.eval_every_epochs = 45
    cfg.eval = EvalConfig(num_samples=512, sampler="ddim", num_steps=25)
    return cfg


def _paper() -> RunConfig:
    return RunConfig(
        name="paper",
        data=DataConfig(kind="bump", image_size=32),
        model=PAPER_MODEL,
        train=TrainConfig(
            epochs=1000,
            batch_size=128,
            lr=2e-4,
            warmup_steps=500,
            ema_decay=0.999,
            checkpoint_epochs=(0, 10, 20, 50, 100, 150, 200, 300, 500, 750),
            eval_every_epochs=50,
            eval_num_conditions=512,
            precision="auto",
        ),
        eval=EvalConfig(num_samples=1024, sampler="ddpm", num_steps=1000),
    )


def _exp1() -> RunConfig:
    cfg = _paper()
    cfg.name = "exp1"
    cfg.data = DataConfig(kind="bump", image_size=32, periodic=True)
    return cfg


def _exp1_quick() -> RunConfig:
    cfg = _small()
    cfg.name = "exp1-quick"
    cfg.data = DataConfig(kind="bump", image_size=32, periodic=True)
    # The setting of the committed quick run (docs/results/exp1), not the faster `small` one.
    cfg.model = EXP1_QUICK_MODEL
    cfg.train.epochs = 200
    cfg.train.ema_decay = 0.995
    cfg.train.checkpoint_epochs = (0, 10, 25, 50, 75, 100, 150)
    cfg.train.eval_every_epochs = 25
    return cfg


def _tiny() -> RunConfig:
    return RunConfig(
        name="tiny",
        data=DataConfig(kind="bump", image_size=16, dx=2.0, dy=2.0),
        model=TINY_MODEL,
        diffusion=DiffusionConfig(num_train_timesteps=100),
        train=TrainConfig(
            epochs=4,
            batch_size=16,
            lr=1e-3,
            warmup_steps=2,
            ema_decay=0.9,
            checkpoint_epochs=(0, 2),
            save_every_epochs=1,
            eval_every_epochs=2,
            eval_num_conditions=16,
            eval_steps=5,
            log_every_steps=2,
            # fp32 and one thread on every CPU: the smoke runs (and the tests built on them)
            # compute the same numbers whether or not the machine has native bf16, and however
            # busy it is (the thread governor of num_threads = 0 changes the order of sums).
            precision="fp32",
            num_threads=1,
        ),
        eval=EvalConfig(num_samples=16, sampler="ddim", num_steps=5),
    )


def register(preset: Preset) -> None:
    """Add run preset ``preset`` to the one catalog of named settings
    (:data:`factordiff.config.catalog.CATALOG`, kind ``run``)."""
    CATALOG.register(
        CatalogEntry("run", preset.name, preset.description, preset.expected, value=preset)
    )


register(
    Preset(
        "small",
        "2D bumps, N=32, sigma=1, dx=dy=1 (1,024 images); a small UNet sized for a 2-core CPU",
        "joint accuracy >= 90% on 256 fixed conditions after 900-1,600 steps (55-100 epochs), "
        "4-7 min of training on 2 cores of a Xeon with AMX (bf16), depending on the seed; "
        "about 3x longer in fp32 on an AVX2-only CPU (docs/performance.md)",
        _small(),
    )
)
register(
    Preset(
        "quick",
        "2D bumps, N=24, sigma=1, dx=dy=1 (576 images) with the `small` UNet: the README's "
        "quick start, sized for 15 minutes on any 2-core CPU",
        "joint accuracy >= 90% on 512 sampled conditions after its 1,494 steps "
        "(docs/performance.md gives the measured steps and minutes per CPU)",
        _quick(),
    )
)
register(
    Preset(
        "paper",
        "2D bumps, N=32 with our reading of the paper's UNet (64-128-256-256, attention "
        "everywhere); meant for a GPU",
        "high joint accuracy (our expectation; this preset has not been run on a GPU yet)",
        _paper(),
    )
)
register(
    Preset(
        "exp1",
        "Experiment 1 training: periodic 32 x 32 bumps (a torus) with the paper-like UNet; GPU",
        "torus topology, orthogonal x and y, superfactored values, effective dimension ~7 "
        "(the paper's claims; run `factordiff experiment exp1`)",
        _exp1(),
    )
)
register(
    Preset(
        "exp1-quick",
        "Experiment 1 training reduced for a 2-core CPU: periodic 32 x 32 bumps, small UNet",
        "99.6% joint accuracy by epoch 150; at this scale none of the five Exp. 1 claims "
        "reproduced (docs/results/exp1/report.md)",
        _exp1_quick(),
    )
)
register(
    Preset(
        "tiny",
        "16 x 16 bumps on a coarse lattice with a 2-level UNet, fp32 on every CPU: a seconds-long "
        "smoke run for tests",
        "runs end to end in seconds; accuracy is not meaningful",
        _tiny(),
    )
)


# What each rung's preset was measured to do (docs/fidelity.md; bf16, our hyperparameters).
RUNG_EXPECTED = {
    0: "95% joint accuracy on 256 fixed conditions at 1,281-1,440 and 961-1,120 steps on these "
    "plain bumps (seeds 0, 1); docs/fidelity.md",
    1: "95% joint accuracy at 1,281-1,440 steps on these plain bumps (seeds 0, 1; seed 1's "
    "loss spiked at its last step); on the periodic bumps at exp1-quick's setting at "
    "1,201-2,400 steps in seeds 0-4; docs/fidelity.md",
    2: "with this setting (min-SNR weighting, cosine schedule) 95% at 3,361-3,520 steps and "
    "1.000 from 4,800 (seed 0); with a constant rate it diverged at step 5,700, without "
    "min-SNR weighting it was at 0.047 after 1,760 steps; docs/fidelity.md",
    3: "measured with min-SNR weighting and a constant rate: 95% at 4,001-4,160 and "
    "5,761-5,920 steps (seeds 0, 1); with this preset's cosine schedule, on the periodic "
    "bumps at exp1-quick's setting, 95% at 3,201-4,400 in seeds 0-4, 0.996-1.000 from "
    "4,800; docs/fidelity.md",
    4: "with this preset's cosine schedule 95% at 3,841-4,000 and 3,681-3,840 steps, 1.000 "
    "from 5,440 and 4,640 (seeds 0, 1); with a constant rate not at 95% by 7,680 (0.938 at "
    "7,360); docs/fidelity.md",
}
GPU_RUNG_EXPECTED = (
    "not measured: beyond our CPU cap (docs/fidelity.md, 'The CPU cap'); meant for a GPU"
)


def _rung(k: int) -> RunConfig:
    """Rung ``k`` on the plain 32 x 32 bumps with the `small` training setting, and for the
    epsilon-prediction rungs (2 on) the setting they were measured to train with (ours;
    docs/fidelity.md): min-SNR loss weighting (gamma 5), which made them learn at all, and a
    cosine schedule over 6,400 steps, which ended rung2's divergence under a constant rate."""
    cfg = rung_config(k, _small())
    if cfg.diffusion.prediction_type == "epsilon":
        cfg = replace(
            cfg,
            diffusion=replace(cfg.diffusion, loss_weighting="min_snr"),
            train=replace(
                cfg.train, lr_schedule="cosine", epochs=400, checkpoint_epochs=(0, 100, 200, 400)
            ),
        )
    return cfg


for _k in range(len(DEVIATIONS) + 1):
    _cfg = _rung(_k)
    _left = deviations(_cfg)
    _setting = (
        "the `small` training setting with min-SNR weighting and a cosine schedule over 6,400 steps"
        if _cfg.diffusion.prediction_type == "epsilon"
        else "the `small` training setting"
    )
    register(
        Preset(
            f"rung{_k}",
            f"ladder rung {_k}, {rung_description(_k)}, on 2D bumps N=32 with {_setting} (our "
            "hyperparameters); deviations from the paper's network: "
            + ("; ".join(d.split(":")[0] for d in _left) if _left else "none"),
            RUNG_EXPECTED.get(_k, GPU_RUNG_EXPECTED),
            _cfg,
        )
    )


def preset_names() -> list[str]:
    return sorted(CATALOG.names("run"))


def get_preset(name: str) -> Preset:
    if not CATALOG.has("run", name):
        raise ValueError(f"unknown preset {name!r}; valid presets: {preset_names()}")
    return CATALOG.get("run", name).value


def preset_config(name: str) -> RunConfig:
    """A fresh copy of a preset's config (safe to modify)."""
    return copy.deepcopy(get_preset(name).config)
