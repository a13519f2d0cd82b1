"""factordiff: how diffusion models learn to factorize and compose."""

from factordiff.config import (
    DataConfig,
    DiffusionConfig,
    EvalConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
)

__version__ = "0.1.0"

__all__ = [
    "DataConfig",
    "DiffusionConfig",
    "EvalConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "__version__",
]
