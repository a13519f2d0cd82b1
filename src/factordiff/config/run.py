"""The whole run's config, :class:`RunConfig`: its sections, seed and device.

It is resolved once (preset -> ``--set`` overrides -> validation), printed, saved as
``config.json`` in the run folder (:meth:`RunConfig.to_json`, with its ``schema_version``)
and stored inside every checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from factordiff import migrate
from factordiff.config.schema import from_dict, to_dict
from factordiff.config.sections import (
    DataConfig,
    DiffusionConfig,
    EvalConfig,
    ModelConfig,
    TrainConfig,
)
from factordiff.config.validate import validate_run


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
        """Validate every section: a config mutated after construction is checked too
        (:func:`factordiff.config.validate.validate_run`)."""
        validate_run(self)

    def to_json(self) -> str:
        """The config as ``config.json`` holds it: with its ``schema_version`` first."""
        return json.dumps(migrate.stamp(to_dict(self)), indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return from_dict(cls, json.loads(text))
