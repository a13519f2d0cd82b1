"""Typed configuration for factordiff.

One :class:`RunConfig` describes a whole run (data, model, diffusion, training, evaluation).
It is resolved once (preset -> ``--set`` overrides -> validation), printed, saved as
``config.json`` in the run folder and stored inside every checkpoint.

Loading is strict: an unknown key or a value of the wrong type raises ``ValueError`` naming
the key, the value and what is allowed; nothing is silently fixed. Saved configs carry a
``schema_version``; an older one is upgraded through the migrations of
:mod:`factordiff.migrate` before it is read, a newer one is refused.

The package's modules, each one concern (import the names from here):

- :mod:`~factordiff.config.schema`: the strict loader (:func:`from_dict`, :func:`to_dict`,
  :func:`saved_as_current`, :func:`json_ready`, :func:`check_fields`)
- :mod:`~factordiff.config.overrides`: ``--set key=value`` (:func:`apply_overrides`)
- :mod:`~factordiff.config.sections`: the section dataclasses (:class:`DataConfig`, ...)
- :mod:`~factordiff.config.run`: :class:`RunConfig`
- :mod:`~factordiff.config.validate`: the rules of each section, and the allowed choices

No torch or numpy here: ``factordiff --help`` imports this package.
"""

from factordiff.config.overrides import apply_overrides, parse_value
from factordiff.config.run import RunConfig
from factordiff.config.schema import (
    check,
    check_fields,
    from_dict,
    json_ready,
    saved_as_current,
    to_dict,
)
from factordiff.config.sections import (
    DataConfig,
    DiffusionConfig,
    EvalConfig,
    ModelConfig,
    TrainConfig,
)
from factordiff.config.validate import (
    DATA_KINDS,
    HOLE_KINDS,
    LABEL_ENCODINGS,
    MAX_LATTICE_LABELS,
)

__all__ = [
    "DATA_KINDS",
    "HOLE_KINDS",
    "LABEL_ENCODINGS",
    "MAX_LATTICE_LABELS",
    "DataConfig",
    "DiffusionConfig",
    "EvalConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "apply_overrides",
    "check",
    "check_fields",
    "from_dict",
    "json_ready",
    "parse_value",
    "saved_as_current",
    "to_dict",
]
