"""Typed configuration for factordiff.

One :class:`RunConfig` describes a whole run (data, model, diffusion, training, evaluation).
It is resolved once (preset -> ``--set`` overrides -> validation), printed, saved as
``config.json`` in the run folder and stored inside every checkpoint.

Loading is strict: an unknown key or a value of the wrong type raises ``ValueError`` naming
the key, the value and what is allowed; nothing is silently fixed. Saved configs carry a
``schema_version``; an older one is upgraded through the migrations of
:mod:`factordiff.migrate` before it is read, a newer one is refused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from factordiff import migrate
from factordiff.model.registry import check_model_config, registered_kinds

T = TypeVar("T")


# ----------------------------------------------------------------------------- machinery
def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, path: str, version: int | None = None) -> Any:
    """Check ``value`` against annotation ``tp`` and convert lossless cases (int -> float,
    list -> tuple). Raises ``ValueError`` naming ``path`` on a mismatch. ``version``: the
    schema version of the saved file a nested config comes from (:func:`from_dict`)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, path, version)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(f"{path}: value {value!r} matches none of {tp}")
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"{path}: {value!r} is not allowed; choose one of {list(args)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{path}: expected a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            out = [_coerce(v, args[0], f"{path}[{i}]") for i, v in enumerate(value)]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise ValueError(f"{path}: expected {len(args)} items, got {len(value)}: {value!r}")
            out = [_coerce(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
        else:
            sub = args[0] if args else Any
            out = [_coerce(v, sub, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected a mapping for {_type_name(tp)}, got {value!r}")
        return from_dict(tp, value, path, version)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{path}: expected a number, got {value!r}")
        if not math.isfinite(value):
            # NaN/inf would train on constant images or diverge, and are not valid JSON
            raise ValueError(f"{path} = {value!r} is invalid; allowed: a finite number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{path}: unsupported annotation {tp!r}")


def from_dict(cls: type[T], data: dict[str, Any], path: str = "", version: int | None = None) -> T:
    """Build dataclass ``cls`` from a mapping, strictly.

    Unknown keys and wrongly typed values raise ``ValueError`` listing the valid keys. A saved
    config is first upgraded to the current schema (:mod:`factordiff.migrate`): its
    ``schema_version`` (top level; absent: the oldest) says which migrations it needs, and a
    newer one than this code knows is refused. ``version``: the schema version of the file
    a nested config comes from (passed down by the loader itself)."""
    if not isinstance(data, dict):
        raise ValueError(f"{path or cls.__name__}: expected a mapping, got {data!r}")
    if not path or migrate.has_migrations(cls.__name__):  # a saved file's top, or a run config
        if migrate.VERSION_KEY in data or version is None:
            version = migrate.saved_version(data)
        data = migrate.upgrade(data, cls.__name__, version)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{path}." if path else ""
        raise ValueError(
            f"unknown config key(s) {[where + k for k in unknown]}; "
            f"valid keys{' of ' + path if path else ''}: {sorted(fields)}"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], f"{path}.{name}" if path else name, version)
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain JSON-ready structures (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def saved_as_current(cls: type, saved: Any) -> Any:
    """Saved config ``saved`` of class ``cls`` as the current code reads it: upgraded through
    its migrations (:mod:`factordiff.migrate`) and loaded (defaults for fields it does not
    hold), as a plain dict. What resume and "is this the same config" compare. A config that
    no longer loads is returned upgraded but as it is, so that a comparison names what
    differs; one of a newer schema raises ``migrate.FutureSchemaError``."""
    try:
        return to_dict(from_dict(cls, saved))
    except migrate.FutureSchemaError:
        raise
    except (ValueError, TypeError):
        try:
            return migrate.upgrade(saved, cls.__name__)
        except ValueError:  # a garbled schema_version: compared as saved
            return saved


def json_ready(value: Any) -> Any:
    """NaN/inf -> None and numpy scalars -> Python numbers, recursively: what ``json.dump``
    and ``torch.load(weights_only=True)`` both accept."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy / torch scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def parse_value(text: str) -> Any:
    """Parse the right-hand side of ``--set key=value``: JSON if it parses, else a string.

    ``3e-4`` -> 0.0003, ``true`` -> True, ``[1,2]`` -> [1, 2], ``bump`` -> "bump"."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        low = text.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        if low in ("none", "null"):
            return None
        return text


def apply_overrides(cfg: T, overrides: list[str] | None) -> T:
    """Return a copy of ``cfg`` with dotted ``key=value`` overrides applied (strictly)."""
    data = to_dict(cfg)
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like section.key=value")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for i, p in enumerate(parts[:-1]):
            if not isinstance(node, dict) or p not in node or not isinstance(node[p], dict):
                valid = sorted(k for k, v in node.items() if isinstance(v, dict))
                raise ValueError(
                    f"unknown config section {'.'.join(parts[: i + 1])!r}; valid sections: {valid}"
                )
            node = node[p]
        if parts[-1] not in node:
            sect = ".".join(parts[:-1]) or "top level"
            raise ValueError(f"unknown config key {key!r}; valid keys of {sect}: {sorted(node)}")
        node[parts[-1]] = parse_value(text)
    return from_dict(type(cfg), data)


def check_fields(obj: Any, section: str = "") -> None:
    """Check every field of dataclass ``obj`` against its annotation (types, finite numbers,
    choices), as :func:`from_dict` does; nested dataclasses are checked by their own
    ``validate``. Lets ``validate()`` refuse a config mutated after construction."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            continue
        _coerce(value, hints[f.name], f"{section}.{f.name}" if section else f.name)


def _check(cond: bool, field_name: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ValueError(f"{field_name} = {value!r} is invalid; allowed: {allowed}")


# ----------------------------------------------------------------------------- sections
DATA_KINDS = ("bump", "sos", "stripes")
#: Most labels a lattice may hold (ten times the paper's densest, 320 x 320 = 102,400):
#: beyond it the images alone need gigabytes (4 GiB at N = 32). OUR bound.
MAX_LATTICE_LABELS = 1_048_576
HOLE_KINDS = ("none", "plus", "square_interior", "square_exterior", "lesion", "custom")
#: How the label encoder turns (mu_x, mu_y) into features (factordiff.model.unet).
LABEL_ENCODINGS = ("periodic", "positional")


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
        check_fields(self, "data")
        n = self.image_size
        _check(self.kind in DATA_KINDS, "data.kind", self.kind, f"one of {list(DATA_KINDS)}")
        _check(self.image_size >= 4, "data.image_size", self.image_size, "an integer >= 4")
        for name in ("sigma_x", "sigma_y"):
            v = getattr(self, name)
            _check(v > 0, f"data.{name}", v, "a number > 0 (px)")
        _check(self.margin >= 0, "data.margin", self.margin, "an integer >= 0")
        extent = n + 2 * self.margin
        for name in ("dx", "dy"):
            v = getattr(self, name)
            _check(
                0 < v <= extent,
                f"data.{name}",
                v,
                f"a spacing in (0, {extent}] px (the label range is N + 2 * margin = {extent})",
            )
        # Bound the lattice before anything is built: its labels and images are held in
        # memory (N x N float32 per label), and a tiny spacing would ask for gigabytes.
        kx, ky = (int(math.floor(extent / d * (1 + 1e-9))) for d in (self.dx, self.dy))
        _check(
            kx * ky <= MAX_LATTICE_LABELS,
            "data.dx, data.dy",
            (self.dx, self.dy),
            f"spacings giving at most {MAX_LATTICE_LABELS:,} lattice labels (these give "
            f"{kx:,} x {ky:,} = {kx * ky:,} over the label range of {extent} px; "
            f"e.g. dx = dy >= {extent / math.isqrt(MAX_LATTICE_LABELS):g})",
        )
        _check(
            not (self.periodic and self.margin > 0),
            "data.margin",
            self.margin,
            "0 when data.periodic is true (a torus has no canvas outside the frame)",
        )
        if self.kind == "stripes":
            _check(
                self.margin >= 1,
                "data.margin",
                self.margin,
                "an integer >= 1 for data.kind = 'stripes' (1D stripes need labels outside "
                "the frame)",
            )
            _check(
                not self.mix_stripes,
                "data.mix_stripes",
                self.mix_stripes,
                "false when data.kind = 'stripes' (the dataset is stripes already)",
            )
        if self.mix_stripes:
            _check(
                self.margin >= 1,
                "data.margin",
                self.margin,
                "an integer >= 1 when data.mix_stripes is true (1D stripes need labels "
                "outside the frame)",
            )
        _check(
            not (self.kind == "sos" and self.margin > 0 and not self.mix_stripes),
            "data.margin",
            self.margin,
            "0 for data.kind = 'sos' unless data.mix_stripes is true (use kind 'stripes' "
            "for 1D stripes with an SOS rim)",
        )
        _check(self.hole in HOLE_KINDS, "data.hole", self.hole, f"one of {list(HOLE_KINDS)}")
        _check(0 < self.subsample <= 1, "data.subsample", self.subsample, "a share in (0, 1]")
        _check(
            0 < self.stripes_subsample <= 1,
            "data.stripes_subsample",
            self.stripes_subsample,
            "a share in (0, 1]",
        )
        _check(
            self.mix_stripes or self.stripes_subsample == 1.0,
            "data.stripes_subsample",
            self.stripes_subsample,
            "1.0 unless data.mix_stripes is true (there is no stripes part to subsample)",
        )
        _check(self.rim_width >= 0, "data.rim_width", self.rim_width, "a number >= 0 (px)")
        _check(self.hole_width > 0, "data.hole_width", self.hole_width, "a number > 0 (px)")
        _check(
            self.hole_low < self.hole_high,
            "data.hole_low",
            self.hole_low,
            f"a number below hole_high = {self.hole_high}",
        )
        frame = f"inside the frame [0, {n}] (holes are stated in frame px)"
        if self.hole == "plus":
            _check(self.hole_low >= 0, "data.hole_low", self.hole_low, f"a bound {frame}")
            _check(self.hole_high <= n, "data.hole_high", self.hole_high, f"a bound {frame}")
        if self.hole in ("square_interior", "square_exterior", "lesion"):
            _check(
                self.hole_width <= n, "data.hole_width", self.hole_width, f"a width <= {n}, {frame}"
            )
        if self.hole == "custom":
            _check(
                len(self.hole_rects) > 0,
                "data.hole_rects",
                self.hole_rects,
                "one or more rectangles (x_min, x_max, y_min, y_max) when data.hole = 'custom'",
            )
            for rect in self.hole_rects:
                x0, x1, y0, y1 = rect
                _check(
                    0 <= x0 < x1 <= n and 0 <= y0 < y1 <= n,
                    "data.hole_rects",
                    rect,
                    f"rectangles (x_min, x_max, y_min, y_max) with min < max, {frame}",
                )
        else:
            _check(
                len(self.hole_rects) == 0,
                "data.hole_rects",
                self.hole_rects,
                "() unless data.hole = 'custom'",
            )


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
        check_fields(self, "model")
        _check(
            self.kind in registered_kinds(),
            "model.kind",
            self.kind,
            f"one of {registered_kinds()} (register a new kind with "
            "factordiff.model.registry.register_model)",
        )
        n = len(self.block_out_channels)
        _check(n >= 2, "model.block_out_channels", self.block_out_channels, "2 or more widths")
        _check(
            len(self.attention) == n,
            "model.attention",
            self.attention,
            f"one true/false per level ({n} levels)",
        )
        for c in self.block_out_channels:
            _check(
                c > 0 and c % self.norm_num_groups == 0,
                "model.block_out_channels",
                self.block_out_channels,
                f"positive widths divisible by norm_num_groups = {self.norm_num_groups}",
            )
        _check(self.layers_per_block >= 1, "model.layers_per_block", self.layers_per_block, ">= 1")
        _check(self.num_frequencies >= 1, "model.num_frequencies", self.num_frequencies, ">= 1")
        _check(
            self.label_encoding in LABEL_ENCODINGS,
            "model.label_encoding",
            self.label_encoding,
            f"one of {list(LABEL_ENCODINGS)}",
        )
        _check(0 <= self.dropout < 1, "model.dropout", self.dropout, "a number in [0, 1)")
        _check(
            self.coord_frequencies >= 0, "model.coord_frequencies", self.coord_frequencies, ">= 0"
        )


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
        check_fields(self, "diffusion")
        _check(
            self.num_train_timesteps >= 2,
            "diffusion.num_train_timesteps",
            self.num_train_timesteps,
            ">= 2",
        )
        allowed = ("linear", "scaled_linear", "squaredcos_cap_v2")
        _check(
            self.beta_schedule in allowed,
            "diffusion.beta_schedule",
            self.beta_schedule,
            f"one of {list(allowed)}",
        )
        _check(
            0 < self.beta_start < self.beta_end < 1,
            "diffusion.beta_start",
            self.beta_start,
            "0 < beta_start < beta_end < 1",
        )
        allowed = ("epsilon", "v_prediction", "sample")
        _check(
            self.prediction_type in allowed,
            "diffusion.prediction_type",
            self.prediction_type,
            f"one of {list(allowed)}",
        )
        allowed = ("none", "min_snr")
        _check(
            self.loss_weighting in allowed,
            "diffusion.loss_weighting",
            self.loss_weighting,
            f"one of {list(allowed)}",
        )
        _check(self.min_snr_gamma > 0, "diffusion.min_snr_gamma", self.min_snr_gamma, "> 0")


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
        check_fields(self, "train")
        _check(
            self.precision in ("auto", "bf16", "fp32"),
            "train.precision",
            self.precision,
            "auto | bf16 | fp32",
        )
        _check(self.epochs >= 1, "train.epochs", self.epochs, "an integer >= 1")
        _check(
            self.max_steps >= 0,
            "train.max_steps",
            self.max_steps,
            "an integer >= 0 (0 = train `epochs` epochs)",
        )
        _check(self.batch_size >= 1, "train.batch_size", self.batch_size, "an integer >= 1")
        _check(self.lr > 0, "train.lr", self.lr, "a number > 0")
        _check(self.warmup_steps >= 0, "train.warmup_steps", self.warmup_steps, ">= 0")
        _check(
            self.lr_schedule in ("constant", "cosine"),
            "train.lr_schedule",
            self.lr_schedule,
            "constant | cosine",
        )
        _check(0 <= self.ema_decay < 1, "train.ema_decay", self.ema_decay, "a number in [0, 1)")
        _check(self.grad_clip >= 0, "train.grad_clip", self.grad_clip, ">= 0")
        # With a step budget the epoch count depends on the dataset size, so the upper bound
        # of checkpoint_epochs is checked when the dataset is built (Trainer).
        for e in self.checkpoint_epochs:
            _check(
                0 <= e and (self.max_steps > 0 or e <= self.epochs),
                "train.checkpoint_epochs",
                self.checkpoint_epochs,
                f"epochs in [0, {self.epochs}]"
                if self.max_steps == 0
                else "epochs >= 0 (with train.max_steps, at most the derived epoch count)",
            )
        _check(
            self.save_every_epochs >= 1, "train.save_every_epochs", self.save_every_epochs, ">= 1"
        )
        _check(
            self.eval_every_epochs >= 0, "train.eval_every_epochs", self.eval_every_epochs, ">= 0"
        )
        _check(
            self.eval_num_conditions >= 1,
            "train.eval_num_conditions",
            self.eval_num_conditions,
            ">= 1",
        )
        _check(
            self.eval_sampler in ("ddim", "ddpm", "dpm"),
            "train.eval_sampler",
            self.eval_sampler,
            "ddim | ddpm | dpm",
        )
        _check(self.eval_steps >= 1, "train.eval_steps", self.eval_steps, ">= 1")
        _check(self.num_threads >= 0, "train.num_threads", self.num_threads, ">= 0")
        _check(self.log_every_steps >= 1, "train.log_every_steps", self.log_every_steps, ">= 1")


@dataclass
class EvalConfig:
    """How generated images are judged (``factordiff.evaluation``)."""

    tolerance_px: float = 1.0  # a centre within this distance of the label is correct
    num_samples: int = 1024  # conditions drawn for `factordiff evaluate`
    sampler: str = "ddim"
    num_steps: int = 50

    def validate(self) -> None:
        check_fields(self, "eval")
        _check(self.tolerance_px > 0, "eval.tolerance_px", self.tolerance_px, "> 0")
        _check(self.num_samples >= 1, "eval.num_samples", self.num_samples, ">= 1")
        _check(
            self.sampler in ("ddim", "ddpm", "dpm"),
            "eval.sampler",
            self.sampler,
            "ddim | ddpm | dpm",
        )
        _check(self.num_steps >= 1, "eval.num_steps", self.num_steps, ">= 1")


@dataclass
class RunConfig:
    """Everything one training run needs. Saved as ``config.json`` and in each checkpoint."""

    name: str = "small"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def validate(self) -> None:
        """Validate every section: a config mutated after construction is checked too."""
        check_fields(self)
        _check(self.seed >= 0, "seed", self.seed, "an integer >= 0")
        for name, cls in (
            ("data", DataConfig),
            ("model", ModelConfig),
            ("diffusion", DiffusionConfig),
            ("train", TrainConfig),
            ("eval", EvalConfig),
        ):
            section = getattr(self, name)
            if not isinstance(section, cls):
                raise ValueError(f"{name} = {section!r} is invalid; allowed: a {cls.__name__}")
            section.validate()
        # The model's own rules on the pair (the UNet: N must halve through its levels).
        check_model_config(self.model, self.data)

    def to_json(self) -> str:
        """The config as ``config.json`` holds it: with its ``schema_version`` first."""
        return json.dumps(migrate.stamp(to_dict(self)), indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return from_dict(cls, json.loads(text))
