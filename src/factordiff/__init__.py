"""factordiff: how diffusion models learn to factorize and compose."""

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
from factordiff.model.unet import ConditionalUNet, build_model
from factordiff.presets import get_preset, preset_config, preset_names
from factordiff.runs import evaluate_run, sample_run
from factordiff.training import list_checkpoints, load_model, train

__version__ = "0.1.0"

__all__ = [
    "ConditionalUNet",
    "GaussianDiffusion",
    "build_dataset",
    "build_model",
    "evaluate_run",
    "get_preset",
    "list_checkpoints",
    "load_model",
    "per_region",
    "preset_config",
    "preset_names",
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
