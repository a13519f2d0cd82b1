"""The sections of a run config: data, model, diffusion, training and evaluation.

Each is a dataclass of plain fields with defaults (the field comments say what each means)
and a ``validate()`` that applies its section's rules (:mod:`factordiff.config.validate`).
Field names, order and defaults are what ``config.json`` holds and what run keys hash: a new
field needs a migration (:mod:`factordiff.migrate`), never a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass

from factordiff.config.validate import (
    validate_data,
    validate_diffusion,
    validate_eval,
    validate_model,
    validate_train,
)


@dataclass
class DataConfig:
    """What images a model is trained on (see ``factordiff.data``).

    Coordinates: pixel ``i`` covers ``[i, i+1)`` and has centre ``i + 0.5``; labels
    ``(mu_x, mu_y)`` live in ``[-margin, N + margin]`` (``[0, N)`` when periodic). ``x`` is
    the column, ``y`` the row. The frame is ``[0, N]``; a coordinate is visible when it lies
    in the frame. Holes are stated in frame coordinates and must lie inside the frame.

    Kinds: ``bump`` (2D Gaussian bumps; with ``margin > 0`` the whole extended lattice, blank
    images included), ``sos`` (2D Gaussian sum of stripes, in-frame labels), ``stripes``
    (1D stripes over the extended range plus SOS images along the rim of the frame).
    ``mix_stripes`` adds a part of 1D stripes (labels with exactly one visible coordinate) to
    a ``bump`` or ``sos`` dataset, whose own images are then the in-frame ones."""

    kind: str = "bump"  # bump | sos | stripes (1D stripes + SOS rim)
    image_size: int = 32  # N
    sigma_x: float = 1.0  # px
    sigma_y: float = 1.0  # px
    dx: float = 1.0  # lattice spacing of mu_x, px
    dy: float = 1.0  # lattice spacing of mu_y, px
    periodic: bool = False  # wrap distances around the frame (torus)
    margin: int = 0  # m: render on an (N+2m)^2 canvas, keep the centre N x N
    hole: str = "none"  # none | plus | square_interior | square_exterior | lesion | custom
    hole_low: float = 13.0  # plus: held-out band is [hole_low, hole_high] in x or y
    hole_high: float = 19.0
    hole_width: float = 6.0  # W for the squares, w for the lesion (px)
    hole_inclusive: bool = True  # hole bounds belong to the hole (closed) or not (open)
    # custom: held-out rectangles (x_min, x_max, y_min, y_max) in frame px, unioned
    hole_rects: tuple[tuple[float, float, float, float], ...] = ()
    rim_width: float = 2.0  # stripes: SOS images kept along the frame rim (0 = pure 1D)
    subsample: float = 1.0  # lambda: share of the lattice kept, in (0, 1]
    mix_stripes: bool = False  # add a 1D-stripes part (bumps + stripes mixtures)
    stripes_subsample: float = 1.0  # share of the stripes part kept, in (0, 1]

    def validate(self) -> None:
        """Check every field (:func:`factordiff.config.validate.validate_data`)."""
        validate_data(self)


@dataclass
class ModelConfig:
    """The denoiser (``factordiff.model``): its kind, and the conditional UNet's settings.

    ``kind`` names a model registered with ``factordiff.model.registry.register_model``
    (``"unet"``: :class:`factordiff.model.unet.ConditionalUNet`); configs written before the
    field existed load as ``"unet"``, the only model there was."""

    kind: str = "unet"
    block_out_channels: tuple[int, ...] = (32, 64, 64, 64)  # widths; len - 1 downsamplings
    attention: tuple[bool, ...] = (False, False, True, True)  # self-attention per level
    layers_per_block: int = 1
    norm_num_groups: int = 8
    attention_head_dim: int = 32
    num_frequencies: int = 16  # sinusoidal frequencies per label coordinate
    # periodic: sin/cos(2 pi k mu / P), k = 1..K (P = N on a torus); positional: the
    # transformer-style encoding of the raw mu (no period built in). Configs written before
    # this field existed load as "periodic", the encoding they were trained with.
    label_encoding: str = "periodic"
    coord_frequencies: int = 0  # K > 0 adds sin/cos of 2 pi k x / P, k = 1..K (and of y) as inputs
    scale_shift: bool = False  # embedding scales and shifts normalised features (FiLM)
    dropout: float = 0.0

    def validate(self) -> None:
        """Check every field (:func:`factordiff.config.validate.validate_model`)."""
        validate_model(self)


@dataclass
class DiffusionConfig:
    """Forward process and training objective (``factordiff.diffusion``)."""

    num_train_timesteps: int = 1000  # T
    beta_schedule: str = "linear"  # linear | scaled_linear | squaredcos_cap_v2
    beta_start: float = 1e-4
    beta_end: float = 0.02
    prediction_type: str = "epsilon"  # epsilon | v_prediction | sample
    loss_weighting: str = "none"  # none | min_snr
    min_snr_gamma: float = 5.0

    def validate(self) -> None:
        """Check every field (:func:`factordiff.config.validate.validate_diffusion`)."""
        validate_diffusion(self)


@dataclass
class TrainConfig:
    """Optimisation, checkpoints and evaluation during training (``factordiff.training``)."""

    epochs: int = 200
    # Step budget: > 0 trains exactly this many optimizer steps whatever the dataset size,
    # and the number of epochs is derived from it (the last one may be partial); 0 = train
    # `epochs` full epochs. Sweeps over data size use a budget, so that a run on a quarter
    # of the data does not also get a quarter of the compute.
    max_steps: int = 0
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    lr_schedule: str = "constant"  # constant | cosine (after warm-up)
    grad_clip: float = 1.0  # 0 disables clipping
    ema_decay: float = 0.999  # 0 disables EMA; early on diffusers uses min(decay, (1+s)/(10+s))
    checkpoint_epochs: tuple[int, ...] = ()  # extra checkpoints (the last epoch is always kept)
    save_every_epochs: int = 10  # refresh checkpoints/latest.pt (for resuming) this often
    eval_every_epochs: int = 25  # 0 disables accuracy during training
    eval_num_conditions: int = 256  # fixed conditions scored during training
    eval_sampler: str = "ddim"  # ddim | ddpm | dpm
    eval_steps: int = 25  # sampler steps for evaluation during training
    # auto: bf16 autocast only where the device computes bf16 natively, else fp32
    # (factordiff.hardware); bf16 | fp32: as asked (bf16 warns where it is emulated)
    precision: str = "auto"
    num_threads: int = 0  # torch intra-op threads; 0 = factordiff.hardware.default_num_threads()
    log_every_steps: int = 20

    def validate(self) -> None:
        """Check every field (:func:`factordiff.config.validate.validate_train`)."""
        validate_train(self)


@dataclass
class EvalConfig:
    """How generated images are judged (``factordiff.evaluation``)."""

    tolerance_px: float = 1.0  # a centre within this distance of the label is correct
    num_samples: int = 1024  # conditions drawn for `factordiff evaluate`
    sampler: str = "ddim"
    num_steps: int = 50

    def validate(self) -> None:
        """Check every field (:func:`factordiff.config.validate.validate_eval`)."""
        validate_eval(self)
