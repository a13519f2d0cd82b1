"""factordiff: how diffusion models learn to factorize and compose.

The public names below are imported on first use (PEP 562), so that ``import factordiff``
and ``factordiff --help`` load neither torch nor diffusers; ``fd.build_model`` and
``from factordiff import build_model`` work as if they were imported here. A new public name
is one entry of :data:`_LAZY` (and one line under ``TYPE_CHECKING`` for type checkers).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Each public name -> the module that defines it (imported on first access).
_LAZY: dict[str, str] = {
    "ConditionalUNet": "factordiff.model.unet",
    "Denoiser": "factordiff.model.base",
    "GaussianDiffusion": "factordiff.diffusion",
    "build_dataset": "factordiff.data",
    "build_model": "factordiff.model.registry",
    "evaluate_run": "factordiff.runs",
    "get_preset": "factordiff.presets",
    "list_checkpoints": "factordiff.training",
    "load_model": "factordiff.training",
    "load_run": "factordiff.api",
    "open_experiment": "factordiff.api",
    "per_region": "factordiff.evaluation",
    "preset_config": "factordiff.presets",
    "preset_names": "factordiff.presets",
    "register_model": "factordiff.model.registry",
    "render_images": "factordiff.data",
    "sample_run": "factordiff.runs",
    "score": "factordiff.evaluation",
    "train": "factordiff.training",
    "DataConfig": "factordiff.config",
    "DiffusionConfig": "factordiff.config",
    "EvalConfig": "factordiff.config",
    "ModelConfig": "factordiff.config",
    "RunConfig": "factordiff.config",
    "TrainConfig": "factordiff.config",
}

__all__ = [  # the keys of _LAZY and the version (a test checks that they agree)
    "ConditionalUNet",
    "Denoiser",
    "GaussianDiffusion",
    "build_dataset",
    "build_model",
    "evaluate_run",
    "get_preset",
    "list_checkpoints",
    "load_model",
    "load_run",
    "open_experiment",
    "per_region",
    "preset_config",
    "preset_names",
    "register_model",
    "render_images",
    "sample_run",
    "score",
    "train",
    "DataConfig",
    "DiffusionConfig",
    "EvalConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "__version__",
]

if TYPE_CHECKING:  # type checkers and IDEs see the names as eager imports
    from factordiff.api import load_run, open_experiment
    from factordiff.config import (
        DataConfig,
        DiffusionConfig,
        EvalConfig,
        ModelConfig,
        RunConfig,
        TrainConfig,
    )
    from factordiff.data import build_dataset, render_images
    from factordiff.diffusion import GaussianDiffusion
    from factordiff.evaluation import per_region, score
    from factordiff.model.base import Denoiser
    from factordiff.model.registry import build_model, register_model
    from factordiff.model.unet import ConditionalUNet
    from factordiff.presets import get_preset, preset_config, preset_names
    from factordiff.runs import evaluate_run, sample_run
    from factordiff.training import list_checkpoints, load_model, train


def __getattr__(name: str) -> Any:
    """A public name from its module, or a submodule (``fd.training``), on first access;
    the value is then cached in the package's namespace."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The package's namespace with every public name, imported yet or not."""
    return sorted(set(globals()) | set(__all__))
