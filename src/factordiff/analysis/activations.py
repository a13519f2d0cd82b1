"""Capture a denoiser's internal representation for a grid of conditions.

Works on any ``torch.nn.Module``. By default the model is called as ``model(x_t, t, labels)``
with ``x_t`` (B, C, N, N) float, ``t`` (B,) long and ``labels`` (B, 2) float ``(mu_x, mu_y)``
in pixels; pass ``forward_fn(model, x_t, t, labels)`` for any other signature (for example a
diffusers ``UNet2DModel`` that takes ``class_labels=``; see ``docs/analysis.md``).

The input ``x_t`` is pure Gaussian noise drawn once from ``seed`` and shared by every
condition, so the representations differ only through the conditioning. That noise is what
the model sees at the start of sampling (``t = T - 1``); at smaller ``t`` it is a fixed probe.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import torch
from torch import nn

# POOLINGS and ForwardFn are defined with the hooks; they stay importable from here.
from factordiff.analysis.capture import POOLINGS, ForwardFn, LayerCapture, pool
from factordiff.analysis.grid import Representation

#: Timestep used when neither ``t`` nor the model's ``T`` is known: the last step of the
#: DDPM schedule ``T = 1000``.
DEFAULT_T = 999


def default_forward(model: nn.Module, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor):
    """The factordiff calling convention: ``model(x_t, t, labels)``."""
    return model(x_t, t, labels)


def layer_names(model: nn.Module) -> list[str]:
    """Names of every submodule of ``model`` (``model.named_modules()``, the root excluded)."""
    return [name for name, _ in model.named_modules() if name]


def resolve_layer(model: nn.Module, layer: str | None) -> str:
    """Check ``layer`` names a submodule of ``model`` and return it.

    ``layer=None`` means the model's own default, ``getattr(model, "default_analysis_layer")``
    (a string, or a callable returning one; a :class:`factordiff.model.base.Denoiser` gives
    its ``default_layer``). Raises ``ValueError`` listing the available names
    when the layer does not exist or no default is known."""
    names = layer_names(model)
    if layer is None:
        default = getattr(model, "default_analysis_layer", None)
        layer = default() if callable(default) else default
        if layer is None:
            raise ValueError(
                f"{type(model).__name__} has no default_analysis_layer; pass layer=NAME, one "
                f"of: {', '.join(names)}"
            )
    if layer not in names:
        close = difflib.get_close_matches(str(layer), names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(
            f"layer {layer!r} is not a submodule of {type(model).__name__}{hint}; available "
            f"layers: {', '.join(names)}"
        )
    return layer


def num_timesteps_of(model: nn.Module, num_train_timesteps: int | None = None) -> int | None:
    """``T`` of the model's schedule: ``num_train_timesteps`` when given, else the model's
    ``num_train_timesteps`` attribute, else ``None`` (unknown)."""
    T = num_train_timesteps
    if T is None:
        T = getattr(model, "num_train_timesteps", None)
    if T is not None and (not isinstance(T, int | np.integer) or T < 1):
        raise ValueError(f"num_train_timesteps = {T!r} is invalid; allowed: an integer >= 1")
    return None if T is None else int(T)


def resolve_timesteps(
    model: nn.Module, ts: list[int | None], num_train_timesteps: int | None = None
) -> list[int]:
    """Check each timestep for ``model`` and replace ``None`` by the last step ``T - 1``
    (``999`` when ``T`` is unknown). Raises ``ValueError`` naming the bad value and the
    allowed range."""
    T = num_timesteps_of(model, num_train_timesteps)
    out = []
    for t in ts:
        if t is None:
            t = DEFAULT_T if T is None else T - 1
        allowed = "an integer timestep >= 0" if T is None else f"an integer in [0, {T - 1}]"
        if isinstance(t, bool) or not isinstance(t, int | np.integer) or t < 0:
            raise ValueError(f"t = {t!r} is invalid; allowed: {allowed}")
        if T is not None and t >= T:
            raise ValueError(
                f"t = {t!r} is invalid for a model trained with T = {T} timesteps; allowed: "
                f"{allowed}"
            )
        out.append(int(t))
    return out


def check_labels(labels: np.ndarray | torch.Tensor, num_factors: int = 2) -> np.ndarray:
    """Conditions as a float32 array (n_conditions, F), F = ``num_factors`` (2 for every
    dataset today); ``ValueError`` on another shape or on NaN / infinite labels (naming the
    first bad row)."""
    if torch.is_tensor(labels):
        labels = labels.detach().cpu().numpy()
    labels_np = np.asarray(labels, dtype=np.float32)
    f = num_factors
    if labels_np.ndim != 2 or labels_np.shape[1] != f or len(labels_np) == 0:
        raise ValueError(f"labels must have shape (n_conditions, {f}), got {labels_np.shape}")
    bad = np.flatnonzero(~np.isfinite(labels_np).all(axis=1))
    if bad.size:
        raise ValueError(
            f"labels must be finite; {bad.size} row(s) hold NaN or inf, first row {bad[0]}: "
            f"{labels_np[bad[0]].tolist()}"
        )
    return labels_np


class ActivationExtractor:
    """Representation matrix of one layer for a set of conditions.

    Parameters
    ----------
    layer : name of any submodule (``model.named_modules()``); ``None`` uses the model's
        ``default_analysis_layer`` (a factordiff ``Denoiser``'s ``default_layer``; the UNet's:
        the end of the encoder).
    t : diffusion timestep fed with every condition (long), in ``[0, T - 1]``. ``None`` (the
        default) is the last step ``T - 1``, where pure-noise input is in distribution; when
        ``T`` is unknown it is ``999``, the last step of the DDPM ``T = 1000`` schedule.
    num_train_timesteps : ``T`` of the model's diffusion schedule; ``None`` reads
        ``model.num_train_timesteps`` (set by :func:`factordiff.training.load_model`), else
        ``T`` is unknown and only ``t >= 0`` is checked.
    pooling : ``"flatten"`` (all C * H * W values), ``"mean"`` or ``"max"`` over the spatial
        dims (everything after dim 1), giving C values.
    seed : seed of the noise input ``x_t`` (one draw of shape (C, N, N), shared by all
        conditions; drawn on the CPU so the same seed gives the same noise on any device).
    n_noise : number of noise draws; the representation is the mean over draws (each pooled
        first).
    batch_size : conditions per forward pass.
    image_size : N; ``None`` reads ``model.image_size``.
    in_channels : C of ``x_t``.
    forward_fn : ``forward_fn(model, x_t, t, labels)`` runs the model; defaults to
        ``model(x_t, t, labels)``.

    The layer's output is captured with a forward hook; when it returns a tuple, list or dict
    the first tensor in it is taken. If the layer runs several times in one forward pass, the
    first call is captured. The forward pass stops right after the capture (what comes after
    the layer is not needed). The model runs in ``eval`` mode without gradients, on the device
    of its parameters, and is returned to its previous mode afterwards.

    Attributes (after :meth:`extract`)
    ----------
    layer_ : the resolved layer name.
    output_shape_ : per-condition shape of the captured tensor, before pooling.
    representation_ : the last :class:`Representation` returned.
    """

    def __init__(
        self,
        layer: str | None = None,
        t: int | None = None,
        pooling: str = "flatten",
        seed: int = 0,
        n_noise: int = 1,
        batch_size: int = 256,
        image_size: int | None = None,
        in_channels: int = 1,
        forward_fn: ForwardFn | None = None,
        num_train_timesteps: int | None = None,
    ) -> None:
        self.layer = layer
        self.t = t
        self.pooling = pooling
        self.seed = seed
        self.n_noise = n_noise
        self.batch_size = batch_size
        self.image_size = image_size
        self.in_channels = in_channels
        self.forward_fn = forward_fn
        self.num_train_timesteps = num_train_timesteps

    def check_params(self, model: nn.Module) -> int:
        """Validate the parameters for ``model``; return the image size N. Raises
        ``ValueError`` naming the bad value and the allowed range."""
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling = {self.pooling!r} is invalid; allowed: {list(POOLINGS)}")
        for name in ("n_noise", "batch_size", "in_channels"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} = {v!r} is invalid; allowed: an integer >= 1")
        self.resolve_t(model)
        if not isinstance(self.seed, int | np.integer) or self.seed < 0:
            raise ValueError(f"seed = {self.seed!r} is invalid; allowed: an integer >= 0")
        size = (
            self.image_size if self.image_size is not None else getattr(model, "image_size", None)
        )
        if not isinstance(size, int) or size < 1:
            raise ValueError(
                f"image_size = {size!r}: pass image_size=N (an integer >= 1); "
                f"{type(model).__name__} has no integer attribute image_size"
            )
        return size

    def resolve_t(self, model: nn.Module) -> int:
        """The timestep to use for ``model``: ``t``, or ``T - 1`` when ``t`` is ``None``.

        Raises ``ValueError`` when ``t`` is not an integer in ``[0, T - 1]`` (or ``>= 0``
        when ``T`` is unknown)."""
        return resolve_timesteps(model, [self.t], self.num_train_timesteps)[0]

    def extract(
        self,
        model: nn.Module,
        labels: np.ndarray | torch.Tensor,
        grid_shape: tuple[int, int] | None = None,
    ) -> Representation:
        """Run the model on every condition and return its representation.

        ``labels`` (n_conditions, 2) ``(mu_x, mu_y)`` in pixels; ``grid_shape`` ``(n_x, n_y)``
        when they form an x-major grid (as from :func:`condition_grid`). Returns a
        :class:`Representation` with ``X`` (n_conditions, d) float32 and metadata recording
        layer, t, pooling, seed, n_noise, image_size and the captured output shape.

        A factordiff model (one with ``data_cfg``, as :func:`factordiff.load_model` gives)
        refuses labels outside the label range of its data with a ``ValueError``, as
        ``factordiff sample`` does: build them with
        ``condition_grid(cfg.data.image_size, n_x, n_y)``."""
        reps = self.extract_many(model, labels, grid_shape)
        (rep,) = reps.values()
        self.layer_ = rep.metadata["layer"]
        self.output_shape_ = tuple(rep.metadata["output_shape"])
        self.representation_ = rep
        return rep

    def extract_many(
        self,
        model: nn.Module,
        labels: np.ndarray | torch.Tensor,
        grid_shape: tuple[int, int] | None = None,
        *,
        layers: list[str | None] | None = None,
        ts: list[int | None] | None = None,
        poolings: list[str] | None = None,
    ) -> dict[tuple[str, int, str], Representation]:
        """Representations of several layers, timesteps and poolings in one sweep.

        For each timestep, noise draw and batch of conditions the model runs *once*, with a
        hook on every layer; the pass stops once every layer has been captured, and each
        capture is pooled every way asked. ``layers``, ``ts`` and ``poolings`` default to
        ``[self.layer]``, ``[self.t]`` and ``[self.pooling]``. Returns
        ``{(layer, t, pooling): Representation}`` (names and ``t`` resolved), each equal to
        what :meth:`extract` gives with those settings."""
        image_size = self.check_params(model)
        names, ts_resolved, poolings = self._sweep_axes(model, layers, ts, poolings)
        labels_np = _checked_conditions(model, labels)
        totals, output_shapes = self._sum_over_noise(
            model, labels_np, names, ts_resolved, poolings, image_size
        )
        out = {}
        for name in names:
            for t_step in ts_resolved:
                for pooling in poolings:
                    X = (totals[(name, t_step, pooling)] / self.n_noise).astype(np.float32)
                    out[(name, t_step, pooling)] = Representation(
                        X=X,
                        labels=labels_np,
                        grid_shape=grid_shape,
                        metadata={
                            "source": "model",
                            "model": type(model).__name__,
                            "layer": name,
                            "t": t_step,
                            "pooling": pooling,
                            "seed": int(self.seed),
                            "n_noise": self.n_noise,
                            "image_size": image_size,
                            "output_shape": list(output_shapes[name]),
                        },
                    )
        return out

    def _sweep_axes(
        self,
        model: nn.Module,
        layers: list[str | None] | None,
        ts: list[int | None] | None,
        poolings: list[str] | None,
    ) -> tuple[list[str], list[int], list[str]]:
        """``(layers, ts, poolings)`` of a sweep, resolved for ``model`` and checked (each a
        non-empty list of distinct values); ``None`` means this extractor's own setting."""
        ts_resolved = resolve_timesteps(
            model, list(ts) if ts is not None else [self.t], self.num_train_timesteps
        )
        names = [resolve_layer(model, layer) for layer in (layers or [self.layer])]
        poolings = list(poolings) if poolings is not None else [self.pooling]
        for pooling in poolings:
            if pooling not in POOLINGS:
                raise ValueError(f"pooling = {pooling!r} is invalid; allowed: {list(POOLINGS)}")
        for what, values in (("layers", names), ("ts", ts_resolved), ("poolings", poolings)):
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{what} = {values!r} is invalid; allowed: distinct values")
        return names, ts_resolved, poolings

    def _sum_over_noise(
        self,
        model: nn.Module,
        labels_np: np.ndarray,
        names: list[str],
        ts: list[int],
        poolings: list[str],
        image_size: int,
    ) -> tuple[dict[tuple[str, int, str], np.ndarray], dict[str, tuple[int, ...]]]:
        """``(totals, output_shapes)``: per (layer, t, pooling) the (n_conditions, d) float64
        sum of the pooled captures over the noise draws, and per layer the captured shape."""
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        gen = torch.Generator().manual_seed(int(self.seed))
        noise = torch.randn(
            (self.n_noise, self.in_channels, image_size, image_size), generator=gen
        )  # (n_noise, C, N, N)
        totals: dict[tuple[str, int, str], np.ndarray] = {}
        capture = LayerCapture(model, names, self.forward_fn or default_forward)
        with capture, torch.no_grad():
            for t_step in ts:
                for k in range(self.n_noise):
                    for (name, pooling), rep in self._one_draw(
                        capture, noise[k : k + 1], t_step, labels_np, poolings, device, dtype
                    ).items():
                        key = (name, t_step, pooling)
                        totals[key] = rep if key not in totals else totals[key] + rep
        return totals, dict(capture.shapes)

    def _one_draw(
        self,
        capture: LayerCapture,
        noise: torch.Tensor,
        t_step: int,
        labels_np: np.ndarray,
        poolings: list[str],
        device: torch.device,
        dtype: torch.dtype,
    ) -> dict[tuple[str, str], np.ndarray]:
        """``{(layer, pooling): (n_conditions, d) float64}`` for one noise draw (1, C, N, N)
        at one timestep, one forward pass per batch of conditions."""
        chunks: dict[tuple[str, str], list[np.ndarray]] = {}
        for start in range(0, len(labels_np), self.batch_size):
            lab = torch.from_numpy(labels_np[start : start + self.batch_size])
            b = lab.shape[0]
            x_t = noise.expand(b, -1, -1, -1).to(device, dtype)
            t = torch.full((b,), t_step, dtype=torch.long, device=device)
            for name, h in capture.run(x_t, t, lab.to(device)).items():
                for pooling in poolings:
                    pooled = pool(h.float(), pooling).cpu().numpy()
                    chunks.setdefault((name, pooling), []).append(pooled)
        return {key: np.concatenate(parts).astype(np.float64) for key, parts in chunks.items()}


def _checked_conditions(model: nn.Module, labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """``labels`` checked (:func:`check_labels`); a factordiff model (one with ``data_cfg``)
    also refuses labels outside the label range of its data, as ``factordiff sample`` does."""
    # F from the model (a factordiff Denoiser knows it); 2 for a plain module
    labels_np = check_labels(labels, getattr(model, "num_factors", 2))
    data_cfg = getattr(model, "data_cfg", None)  # a factordiff model knows its data
    if data_cfg is not None:
        from factordiff.runs import check_label_range  # the check `sample` makes

        check_label_range(torch.from_numpy(labels_np), data_cfg)
    return labels_np


def extract_representations(
    model: nn.Module,
    labels: np.ndarray | torch.Tensor,
    grid_shape: tuple[int, int] | None = None,
    *,
    layers: list[str | None] | None = None,
    ts: list[int | None] | None = None,
    poolings: list[str] | None = None,
    **params: Any,
) -> dict[tuple[str, int, str], Representation]:
    """Shorthand for ``ActivationExtractor(**params).extract_many(model, labels, grid_shape,
    layers=..., ts=..., poolings=...)``: ``{(layer, t, pooling): Representation}`` from one
    forward pass per timestep, noise draw and batch of conditions."""
    return ActivationExtractor(**params).extract_many(
        model, labels, grid_shape, layers=layers, ts=ts, poolings=poolings
    )


def extract_representation(
    model: nn.Module,
    labels: np.ndarray | torch.Tensor,
    grid_shape: tuple[int, int] | None = None,
    **params: Any,
) -> Representation:
    """Shorthand for ``ActivationExtractor(**params).extract(model, labels, grid_shape)``."""
    return ActivationExtractor(**params).extract(model, labels, grid_shape)
