"""The rules a config must satisfy beyond its field types: one function per section.

Each section's ``validate()`` (:mod:`factordiff.config.sections`, :mod:`factordiff.config.run`)
calls its function here; every check raises ``ValueError`` naming the field, its value and
what is allowed (:func:`factordiff.config.schema.check`). The allowed choices of the string
fields are here too, as the constants other modules import (``HOLE_KINDS``,
``LABEL_ENCODINGS``).

The checks run in a fixed order, and the first that fails is the one reported: keep it when
moving checks around, since tests and users see that one message.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from factordiff.config.schema import check, check_fields
from factordiff.model.registry import check_model_config, registered_kinds

if TYPE_CHECKING:
    from factordiff.config.run import RunConfig
    from factordiff.config.sections import (
        DataConfig,
        DiffusionConfig,
        EvalConfig,
        ModelConfig,
        TrainConfig,
    )


# ----------------------------------------------------------------------------- choices
DATA_KINDS = ("bump", "sos", "stripes")
#: Most labels a lattice may hold (ten times the paper's densest, 320 x 320 = 102,400):
#: beyond it the images alone need gigabytes (4 GiB at N = 32). OUR bound.
MAX_LATTICE_LABELS = 1_048_576
HOLE_KINDS = ("none", "plus", "square_interior", "square_exterior", "lesion", "custom")
#: How the label encoder turns (mu_x, mu_y) into features (factordiff.model.unet).
LABEL_ENCODINGS = ("periodic", "positional")


# ----------------------------------------------------------------------------- data
def validate_data(cfg: DataConfig) -> None:
    """The checks of ``data``: lattice, canvas, shares kept, holes (in that order)."""
    check_fields(cfg, "data")
    _check_lattice(cfg)
    _check_canvas(cfg)
    _check_shares(cfg)
    _check_holes(cfg)


def _check_lattice(cfg: DataConfig) -> None:
    """Kind, image size, bump widths, margin and label spacings; the lattice's size."""
    n = cfg.image_size
    check(cfg.kind in DATA_KINDS, "data.kind", cfg.kind, f"one of {list(DATA_KINDS)}")
    check(cfg.image_size >= 4, "data.image_size", cfg.image_size, "an integer >= 4")
    for name in ("sigma_x", "sigma_y"):
        v = getattr(cfg, name)
        check(v > 0, f"data.{name}", v, "a number > 0 (px)")
    check(cfg.margin >= 0, "data.margin", cfg.margin, "an integer >= 0")
    extent = n + 2 * cfg.margin
    for name in ("dx", "dy"):
        v = getattr(cfg, name)
        check(
            0 < v <= extent,
            f"data.{name}",
            v,
            f"a spacing in (0, {extent}] px (the label range is N + 2 * margin = {extent})",
        )
    # Bound the lattice before anything is built: its labels and images are held in
    # memory (N x N float32 per label), and a tiny spacing would ask for gigabytes.
    kx, ky = (int(math.floor(extent / d * (1 + 1e-9))) for d in (cfg.dx, cfg.dy))
    check(
        kx * ky <= MAX_LATTICE_LABELS,
        "data.dx, data.dy",
        (cfg.dx, cfg.dy),
        f"spacings giving at most {MAX_LATTICE_LABELS:,} lattice labels (these give "
        f"{kx:,} x {ky:,} = {kx * ky:,} over the label range of {extent} px; "
        f"e.g. dx = dy >= {extent / math.isqrt(MAX_LATTICE_LABELS):g})",
    )


def _check_canvas(cfg: DataConfig) -> None:
    """The margin each kind needs or forbids (torus, 1D stripes, SOS)."""
    check(
        not (cfg.periodic and cfg.margin > 0),
        "data.margin",
        cfg.margin,
        "0 when data.periodic is true (a torus has no canvas outside the frame)",
    )
    if cfg.kind == "stripes":
        check(
            cfg.margin >= 1,
            "data.margin",
            cfg.margin,
            "an integer >= 1 for data.kind = 'stripes' (1D stripes need labels outside the frame)",
        )
        check(
            not cfg.mix_stripes,
            "data.mix_stripes",
            cfg.mix_stripes,
            "false when data.kind = 'stripes' (the dataset is stripes already)",
        )
    if cfg.mix_stripes:
        check(
            cfg.margin >= 1,
            "data.margin",
            cfg.margin,
            "an integer >= 1 when data.mix_stripes is true (1D stripes need labels "
            "outside the frame)",
        )
    check(
        not (cfg.kind == "sos" and cfg.margin > 0 and not cfg.mix_stripes),
        "data.margin",
        cfg.margin,
        "0 for data.kind = 'sos' unless data.mix_stripes is true (use kind 'stripes' "
        "for 1D stripes with an SOS rim)",
    )


def _check_shares(cfg: DataConfig) -> None:
    """The hole kind and the shares of the lattice (and of the stripes part) kept."""
    check(cfg.hole in HOLE_KINDS, "data.hole", cfg.hole, f"one of {list(HOLE_KINDS)}")
    check(0 < cfg.subsample <= 1, "data.subsample", cfg.subsample, "a share in (0, 1]")
    check(
        0 < cfg.stripes_subsample <= 1,
        "data.stripes_subsample",
        cfg.stripes_subsample,
        "a share in (0, 1]",
    )
    check(
        cfg.mix_stripes or cfg.stripes_subsample == 1.0,
        "data.stripes_subsample",
        cfg.stripes_subsample,
        "1.0 unless data.mix_stripes is true (there is no stripes part to subsample)",
    )


def _check_holes(cfg: DataConfig) -> None:
    """The rim, and the held-out region: inside the frame, rectangles only when custom."""
    n = cfg.image_size
    check(cfg.rim_width >= 0, "data.rim_width", cfg.rim_width, "a number >= 0 (px)")
    check(cfg.hole_width > 0, "data.hole_width", cfg.hole_width, "a number > 0 (px)")
    check(
        cfg.hole_low < cfg.hole_high,
        "data.hole_low",
        cfg.hole_low,
        f"a number below hole_high = {cfg.hole_high}",
    )
    frame = f"inside the frame [0, {n}] (holes are stated in frame px)"
    if cfg.hole == "plus":
        check(cfg.hole_low >= 0, "data.hole_low", cfg.hole_low, f"a bound {frame}")
        check(cfg.hole_high <= n, "data.hole_high", cfg.hole_high, f"a bound {frame}")
    if cfg.hole in ("square_interior", "square_exterior", "lesion"):
        check(cfg.hole_width <= n, "data.hole_width", cfg.hole_width, f"a width <= {n}, {frame}")
    if cfg.hole == "custom":
        check(
            len(cfg.hole_rects) > 0,
            "data.hole_rects",
            cfg.hole_rects,
            "one or more rectangles (x_min, x_max, y_min, y_max) when data.hole = 'custom'",
        )
        for rect in cfg.hole_rects:
            x0, x1, y0, y1 = rect
            check(
                0 <= x0 < x1 <= n and 0 <= y0 < y1 <= n,
                "data.hole_rects",
                rect,
                f"rectangles (x_min, x_max, y_min, y_max) with min < max, {frame}",
            )
    else:
        check(
            len(cfg.hole_rects) == 0,
            "data.hole_rects",
            cfg.hole_rects,
            "() unless data.hole = 'custom'",
        )


# ----------------------------------------------------------------------------- other sections
def validate_model(cfg: ModelConfig) -> None:
    """The checks of ``model``; the model's own rules on the (model, data) pair are in
    :func:`validate_run`."""
    check_fields(cfg, "model")
    check(
        cfg.kind in registered_kinds(),
        "model.kind",
        cfg.kind,
        f"one of {registered_kinds()} (register a new kind with "
        "factordiff.model.registry.register_model)",
    )
    n = len(cfg.block_out_channels)
    check(n >= 2, "model.block_out_channels", cfg.block_out_channels, "2 or more widths")
    check(
        len(cfg.attention) == n,
        "model.attention",
        cfg.attention,
        f"one true/false per level ({n} levels)",
    )
    for c in cfg.block_out_channels:
        check(
            c > 0 and c % cfg.norm_num_groups == 0,
            "model.block_out_channels",
            cfg.block_out_channels,
            f"positive widths divisible by norm_num_groups = {cfg.norm_num_groups}",
        )
    check(cfg.layers_per_block >= 1, "model.layers_per_block", cfg.layers_per_block, ">= 1")
    check(cfg.num_frequencies >= 1, "model.num_frequencies", cfg.num_frequencies, ">= 1")
    check(
        cfg.label_encoding in LABEL_ENCODINGS,
        "model.label_encoding",
        cfg.label_encoding,
        f"one of {list(LABEL_ENCODINGS)}",
    )
    check(0 <= cfg.dropout < 1, "model.dropout", cfg.dropout, "a number in [0, 1)")
    check(cfg.coord_frequencies >= 0, "model.coord_frequencies", cfg.coord_frequencies, ">= 0")


def validate_diffusion(cfg: DiffusionConfig) -> None:
    """The checks of ``diffusion``."""
    check_fields(cfg, "diffusion")
    check(
        cfg.num_train_timesteps >= 2,
        "diffusion.num_train_timesteps",
        cfg.num_train_timesteps,
        ">= 2",
    )
    allowed = ("linear", "scaled_linear", "squaredcos_cap_v2")
    check(
        cfg.beta_schedule in allowed,
        "diffusion.beta_schedule",
        cfg.beta_schedule,
        f"one of {list(allowed)}",
    )
    check(
        0 < cfg.beta_start < cfg.beta_end < 1,
        "diffusion.beta_start",
        cfg.beta_start,
        "0 < beta_start < beta_end < 1",
    )
    allowed = ("epsilon", "v_prediction", "sample")
    check(
        cfg.prediction_type in allowed,
        "diffusion.prediction_type",
        cfg.prediction_type,
        f"one of {list(allowed)}",
    )
    allowed = ("none", "min_snr")
    check(
        cfg.loss_weighting in allowed,
        "diffusion.loss_weighting",
        cfg.loss_weighting,
        f"one of {list(allowed)}",
    )
    check(cfg.min_snr_gamma > 0, "diffusion.min_snr_gamma", cfg.min_snr_gamma, "> 0")


def validate_train(cfg: TrainConfig) -> None:
    """The checks of ``train``."""
    check_fields(cfg, "train")
    check(
        cfg.precision in ("auto", "bf16", "fp32"),
        "train.precision",
        cfg.precision,
        "auto | bf16 | fp32",
    )
    check(cfg.epochs >= 1, "train.epochs", cfg.epochs, "an integer >= 1")
    check(
        cfg.max_steps >= 0,
        "train.max_steps",
        cfg.max_steps,
        "an integer >= 0 (0 = train `epochs` epochs)",
    )
    check(cfg.batch_size >= 1, "train.batch_size", cfg.batch_size, "an integer >= 1")
    check(cfg.lr > 0, "train.lr", cfg.lr, "a number > 0")
    check(cfg.warmup_steps >= 0, "train.warmup_steps", cfg.warmup_steps, ">= 0")
    check(
        cfg.lr_schedule in ("constant", "cosine"),
        "train.lr_schedule",
        cfg.lr_schedule,
        "constant | cosine",
    )
    check(0 <= cfg.ema_decay < 1, "train.ema_decay", cfg.ema_decay, "a number in [0, 1)")
    check(cfg.grad_clip >= 0, "train.grad_clip", cfg.grad_clip, ">= 0")
    # With a step budget the epoch count depends on the dataset size, so the upper bound
    # of checkpoint_epochs is checked when the dataset is built (Trainer).
    for e in cfg.checkpoint_epochs:
        check(
            0 <= e and (cfg.max_steps > 0 or e <= cfg.epochs),
            "train.checkpoint_epochs",
            cfg.checkpoint_epochs,
            f"epochs in [0, {cfg.epochs}]"
            if cfg.max_steps == 0
            else "epochs >= 0 (with train.max_steps, at most the derived epoch count)",
        )
    check(cfg.save_every_epochs >= 1, "train.save_every_epochs", cfg.save_every_epochs, ">= 1")
    check(cfg.eval_every_epochs >= 0, "train.eval_every_epochs", cfg.eval_every_epochs, ">= 0")
    check(
        cfg.eval_num_conditions >= 1,
        "train.eval_num_conditions",
        cfg.eval_num_conditions,
        ">= 1",
    )
    check(
        cfg.eval_sampler in ("ddim", "ddpm", "dpm"),
        "train.eval_sampler",
        cfg.eval_sampler,
        "ddim | ddpm | dpm",
    )
    check(cfg.eval_steps >= 1, "train.eval_steps", cfg.eval_steps, ">= 1")
    check(cfg.num_threads >= 0, "train.num_threads", cfg.num_threads, ">= 0")
    check(cfg.log_every_steps >= 1, "train.log_every_steps", cfg.log_every_steps, ">= 1")


def validate_eval(cfg: EvalConfig) -> None:
    """The checks of ``eval``."""
    check_fields(cfg, "eval")
    check(cfg.tolerance_px > 0, "eval.tolerance_px", cfg.tolerance_px, "> 0")
    check(cfg.num_samples >= 1, "eval.num_samples", cfg.num_samples, ">= 1")
    check(
        cfg.sampler in ("ddim", "ddpm", "dpm"),
        "eval.sampler",
        cfg.sampler,
        "ddim | ddpm | dpm",
    )
    check(cfg.num_steps >= 1, "eval.num_steps", cfg.num_steps, ">= 1")


# ----------------------------------------------------------------------------- whole run
def validate_run(cfg: RunConfig) -> None:
    """Validate every section: a config mutated after construction is checked too."""
    # Imported here, not above: the sections' own validate() import this module.
    from factordiff.config.sections import (
        DataConfig,
        DiffusionConfig,
        EvalConfig,
        ModelConfig,
        TrainConfig,
    )

    check_fields(cfg)
    check(cfg.seed >= 0, "seed", cfg.seed, "an integer >= 0")
    for name, cls in (
        ("data", DataConfig),
        ("model", ModelConfig),
        ("diffusion", DiffusionConfig),
        ("train", TrainConfig),
        ("eval", EvalConfig),
    ):
        section = getattr(cfg, name)
        if not isinstance(section, cls):
            raise ValueError(f"{name} = {section!r} is invalid; allowed: a {cls.__name__}")
        section.validate()
    # The model's own rules on the pair (the UNet: N must halve through its levels).
    check_model_config(cfg.model, cfg.data)
