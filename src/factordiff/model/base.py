"""The Denoiser interface: what training, sampling and the representation analysis ask of a model.

A denoiser is a ``torch.nn.Module`` built from a run's ``(ModelConfig, DataConfig)`` that

- predicts from ``forward(x_t, t, labels)``: ``x_t`` (B, 1, N, N) float, ``t`` (B,) long
  timesteps in ``[0, T - 1]``, ``labels`` (B, F) float conditions in pixels, one column per
  factor of the data (:attr:`Denoiser.num_factors`, from
  :func:`factordiff.data.render.label_factors`; F = 2 today: ``(mu_x, mu_y)``); it returns a tensor of ``x_t``'s shape (epsilon, v or x_0, as
  ``diffusion.prediction_type`` says; the model does not need to know which);
- names the layers the representation analysis may hook, in forward order
  (:meth:`Denoiser.analysis_layers`: what a sensitivity map reads for ``layers="all"``), and
  the one Experiment 1 reads by default (:attr:`Denoiser.default_layer`);
- may refuse a config pair it cannot be built from (:meth:`Denoiser.check_config`, called by
  ``RunConfig.validate`` before anything trains).

A new model subclasses :class:`Denoiser` and registers itself with
:func:`factordiff.model.registry.register_model`; ``model.kind`` then selects it.
"""

from __future__ import annotations

import abc

import torch
from torch import nn

from factordiff.config import DataConfig, ModelConfig
from factordiff.data.render import label_factors


class Denoiser(nn.Module, abc.ABC):
    """Base class of factordiff's denoisers ``eps_theta(x_t, t, labels)``.

    ``__init__(model_cfg, data_cfg)`` stores both configs, ``image_size`` (N) and
    ``num_factors`` (F, the label columns ``forward`` takes, derived from the data, not a
    config field): the data a model is trained on travels with it, so the analysis refuses
    conditions outside its label range (:class:`factordiff.analysis.ActivationExtractor`), as
    sampling does."""

    def __init__(self, model_cfg: ModelConfig, data_cfg: DataConfig) -> None:
        super().__init__()
        self.model_cfg = model_cfg
        self.data_cfg = data_cfg
        self.image_size = data_cfg.image_size
        self.num_factors = len(label_factors(data_cfg))

    @abc.abstractmethod
    def forward(self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``x_t`` (B, 1, N, N), ``t`` (B,) long, ``labels`` (B, F) -> (B, 1, N, N)."""

    @abc.abstractmethod
    def analysis_layers(self) -> list[str]:
        """Names of the submodules (``named_modules()``) the representation analysis may hook,
        in forward order: what a sensitivity map reads for ``layers="all"``."""

    @property
    @abc.abstractmethod
    def default_layer(self) -> str:
        """The layer Experiment 1 and ``analyze_run`` read when no layer is given; one of
        :meth:`analysis_layers`."""

    @property
    def default_analysis_layer(self) -> str:
        """:attr:`default_layer` under the name :mod:`factordiff.analysis` reads on any
        module (so a plain ``nn.Module`` can declare a default without subclassing)."""
        return self.default_layer

    @classmethod
    def check_config(cls, model_cfg: ModelConfig, data_cfg: DataConfig) -> None:
        """Raise ``ValueError`` (naming the value and what is allowed) when this model cannot
        be built for ``(model_cfg, data_cfg)``. The default accepts every pair."""
