"""The ladder from our fast CPU model to our reading of the paper's network, one deviation
removed per rung, and the deviations of any run from the paper's network.

The paper's network, as we read its Fig. 7 (docs/model.md, ../shared/paper/NOTES.md): a UNet of
widths 64-128-256-256, two residual blocks per level, self-attention at every level,
epsilon-prediction, the embedding added inside every block (additive conditioning), and
sinusoidal (positional) encodings of t, mu_x and mu_y, with no coordinate channels. Each of
our choices that differs is a *deviation*; :func:`deviations` names those of a config, and
every experiment report lists them.

Rungs (presets ``rung0`` ... ``rung7``, listed by ``factordiff list``): ``rung0`` is the fast
CPU model of the ``small`` preset; each next rung removes one deviation, coordinate channels
first; ``rung7`` is the paper's network. Training hyperparameters (learning rate, warmup,
EMA, batch, budget) are ours, not the paper's, and are not deviations of the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from factordiff.config import DiffusionConfig, ModelConfig, RunConfig

#: The paper's network as we read it (the last rung).
PAPER_NETWORK = ModelConfig(
    block_out_channels=(64, 128, 256, 256),
    attention=(True, True, True, True),
    layers_per_block=2,
    norm_num_groups=32,
    attention_head_dim=64,
    num_frequencies=16,
    label_encoding="positional",
    coord_frequencies=0,
    scale_shift=False,
)
PAPER_PREDICTION = "epsilon"


@dataclass(frozen=True)
class Deviation:
    """One way a config's network differs from the paper's: its name, the test, and the
    change that removes it."""

    name: str
    words: Callable[[RunConfig], str]  # the deviation in words, for a config that has it
    present: Callable[[RunConfig], bool]
    remove: Callable[[RunConfig], RunConfig]


def _model(cfg: RunConfig, **changes) -> RunConfig:
    return replace(cfg, model=replace(cfg.model, **changes))


# In ladder order: the first deviation is the first removed.
DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "coordinate channels",
        lambda c: (
            f"{c.model.coord_frequencies} pair(s) of sin/cos pixel-coordinate channels "
            "per axis beside the image (the paper feeds the image alone)"
        ),
        lambda c: c.model.coord_frequencies > 0,
        lambda c: _model(c, coord_frequencies=0),
    ),
    Deviation(
        "v-prediction",
        lambda c: f"{c.diffusion.prediction_type} objective (the paper predicts epsilon)",
        lambda c: c.diffusion.prediction_type != PAPER_PREDICTION,
        lambda c: replace(c, diffusion=replace(c.diffusion, prediction_type=PAPER_PREDICTION)),
    ),
    Deviation(
        "scale-shift conditioning",
        lambda c: "the embedding scales and shifts normalised features (FiLM; the paper adds it)",
        lambda c: c.model.scale_shift,
        lambda c: _model(c, scale_shift=False),
    ),
    Deviation(
        "periodic label encoding",
        lambda c: (
            f"labels encoded as sin/cos of 2 pi k mu / P, k = 1..{c.model.num_frequencies} "
            "(the paper: sinusoidal positional encodings of the raw coordinate)"
        ),
        lambda c: c.model.label_encoding != PAPER_NETWORK.label_encoding,
        lambda c: _model(c, label_encoding=PAPER_NETWORK.label_encoding),
    ),
    Deviation(
        "narrow widths",
        lambda c: (
            f"widths {'-'.join(map(str, c.model.block_out_channels))} (the paper: "
            f"{'-'.join(map(str, PAPER_NETWORK.block_out_channels))})"
        ),
        lambda c: tuple(c.model.block_out_channels) != PAPER_NETWORK.block_out_channels,
        lambda c: _model(
            c,
            block_out_channels=PAPER_NETWORK.block_out_channels,
            norm_num_groups=PAPER_NETWORK.norm_num_groups,
            attention_head_dim=PAPER_NETWORK.attention_head_dim,
        ),
    ),
    Deviation(
        "one residual block per level",
        lambda c: (
            f"{c.model.layers_per_block} residual block(s) per level (the paper: "
            f"{PAPER_NETWORK.layers_per_block})"
        ),
        lambda c: c.model.layers_per_block != PAPER_NETWORK.layers_per_block,
        lambda c: _model(c, layers_per_block=PAPER_NETWORK.layers_per_block),
    ),
    Deviation(
        "attention at some levels only",
        lambda c: (
            "self-attention at levels "
            f"{[i for i, a in enumerate(c.model.attention) if a] or 'none'} of "
            f"{len(c.model.attention)} (the paper: every level)"
        ),
        lambda c: not all(c.model.attention) or len(c.model.attention) != 4,
        lambda c: _model(c, attention=PAPER_NETWORK.attention),
    ),
)


def deviations(cfg: RunConfig) -> list[str]:
    """The deviations of ``cfg``'s network from the paper's, in words (empty: the paper's
    network as we read it). Training hyperparameters are not counted."""
    return [f"{d.name}: {d.words(cfg)}" for d in DEVIATIONS if d.present(cfg)]


def rung_config(k: int, base: RunConfig) -> RunConfig:
    """``base`` with the first ``k`` deviations removed (``k`` in 0..len(DEVIATIONS))."""
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(DEVIATIONS):
        raise ValueError(f"rung = {k!r} is invalid; allowed: an integer in 0..{len(DEVIATIONS)}")
    cfg = base
    for d in DEVIATIONS[:k]:
        cfg = d.remove(cfg)
    return replace(cfg, name=f"rung{k}")


def rung_description(k: int) -> str:
    """What rung ``k`` removes, in words."""
    if k == 0:
        return "our fast CPU model (the `small` preset's network)"
    if k == len(DEVIATIONS):
        return f"rung{k - 1} without {DEVIATIONS[k - 1].name}: the paper's network as we read it"
    return f"rung{k - 1} without {DEVIATIONS[k - 1].name}"


def paper_diffusion(base: DiffusionConfig) -> DiffusionConfig:
    """``base`` with the paper's objective."""
    return replace(base, prediction_type=PAPER_PREDICTION)
