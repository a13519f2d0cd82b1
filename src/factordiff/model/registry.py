"""Denoisers by kind: ``model.kind`` of a run config selects how its network is built.

``register_model(kind, builder)`` adds a kind; :func:`build_model` builds the network of a
config pair (training, checkpoint loading, the untrained control all call it, so a checkpoint
of a registered model is rebuilt through here); :func:`check_model_config` runs the kind's
own config rules (``RunConfig.validate`` calls it, so a bad pair fails before anything
trains). Adding a denoiser::

    class MyDenoiser(Denoiser):  # factordiff.model.base
        ...

    register_model("mine", MyDenoiser)  # then --set model.kind=mine

A builder is any callable ``builder(model_cfg, data_cfg) -> Denoiser`` (a ``Denoiser``
subclass is one); its ``check_config`` is the kind's check unless ``check`` is given. Both
may be given as ``"module:attribute"`` strings, imported on first use: this module imports
no torch, so ``factordiff.config`` can validate kinds without loading any network code.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from factordiff.config import DataConfig, ModelConfig
    from factordiff.model.base import Denoiser

Builder = Callable[["ModelConfig", "DataConfig"], "Denoiser"]
Check = Callable[["ModelConfig", "DataConfig"], None]

#: The kind a config without ``model.kind`` (every run written before it existed) builds.
DEFAULT_KIND = "unet"

_KIND = re.compile(r"^[a-z][a-z0-9_\-]*$")


@dataclass(frozen=True)
class _Entry:
    builder: Builder | str  # a callable, or "module:attribute" imported on first use
    check: Check | str | None


_REGISTRY: dict[str, _Entry] = {}


def _resolve(ref: Any) -> Any:
    """A callable, or the object a ``"module:attr.attr"`` string names (imported now)."""
    if not isinstance(ref, str):
        return ref
    module, _, attrs = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for name in attrs.split("."):
        obj = getattr(obj, name)
    return obj


def register_model(
    kind: str, builder: Builder | str, *, check: Check | str | None = None, replace: bool = False
) -> None:
    """Make ``model.kind = kind`` build its network with ``builder(model_cfg, data_cfg)``.

    ``check(model_cfg, data_cfg)`` raises ``ValueError`` for a pair the model cannot be built
    from; default: ``builder.check_config`` when the builder has one. A kind already
    registered is refused unless ``replace``."""
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError(
            f"kind = {kind!r} is invalid; allowed: a lower-case name of letters, digits, '_' "
            "and '-', starting with a letter"
        )
    if kind in _REGISTRY and not replace:
        raise ValueError(
            f"model kind {kind!r} is already registered; allowed: a new kind (one of "
            f"{registered_kinds()} is taken), or replace=True"
        )
    if not (callable(builder) or isinstance(builder, str)):
        raise ValueError(
            f"builder = {builder!r} is invalid; allowed: a callable (model_cfg, data_cfg) -> "
            "Denoiser, or a 'module:attribute' string"
        )
    if check is None and not isinstance(builder, str):
        check = getattr(builder, "check_config", None)
    _REGISTRY[kind] = _Entry(builder, check)


def unregister_model(kind: str) -> None:
    """Remove a registered kind (a test's toy model, say)."""
    _entry(kind)
    del _REGISTRY[kind]


def registered_kinds() -> list[str]:
    """The kinds ``model.kind`` may take, in registration order."""
    return list(_REGISTRY)


def _entry(kind: str) -> _Entry:
    if kind not in _REGISTRY:
        raise ValueError(
            f"model.kind = {kind!r} is invalid; allowed: one of {registered_kinds()} (register "
            "a new kind with factordiff.model.registry.register_model)"
        )
    return _REGISTRY[kind]


def check_model_config(model_cfg: ModelConfig, data_cfg: DataConfig) -> None:
    """Run the rules of ``model_cfg.kind`` on the pair; ``ValueError`` for an unknown kind or
    a pair that kind cannot be built from."""
    entry = _entry(model_cfg.kind)
    if entry.check is not None:
        check = _resolve(entry.check)
        check(model_cfg, data_cfg)
    elif isinstance(entry.builder, str):  # a lazy builder's own check_config, if any
        check = getattr(_resolve(entry.builder), "check_config", None)
        if check is not None:
            check(model_cfg, data_cfg)


def build_model(model_cfg: ModelConfig, data_cfg: DataConfig) -> Denoiser:
    """The denoiser of ``model_cfg.kind`` for a run's configs (freshly initialised from the
    global torch seed). Both configs are validated first; the builder must return a
    :class:`~factordiff.model.base.Denoiser`."""
    from factordiff.model.base import Denoiser  # torch: only once a network is built

    model_cfg.validate()
    data_cfg.validate()
    check_model_config(model_cfg, data_cfg)
    model = _resolve(_entry(model_cfg.kind).builder)(model_cfg, data_cfg)
    if not isinstance(model, Denoiser):
        raise TypeError(
            f"model.kind = {model_cfg.kind!r} built a {type(model).__name__}; allowed: a "
            "factordiff.model.base.Denoiser (subclass it and implement forward, "
            "analysis_layers and default_layer)"
        )
    return model


# The built-in kinds, imported on first use (the UNet's rules need no torch).
register_model(
    DEFAULT_KIND,
    "factordiff.model.unet:ConditionalUNet",
    check="factordiff.model.unet_config:check_unet_config",
)
