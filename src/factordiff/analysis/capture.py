"""Capture the outputs of named layers during a forward pass, with forward hooks.

:class:`~factordiff.analysis.activations.ActivationExtractor` puts a hook on every layer it
reads (:class:`LayerCapture`); the pass stops as soon as the last of them has run, since
nothing after it is needed. Each captured tensor is then pooled to one vector per condition
(:func:`pool`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

ForwardFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], Any]

POOLINGS = ("flatten", "mean", "max")


class _Captured(Exception):
    """Raised by the hook to stop the forward pass once the layer's output is in hand."""


def _first_tensor(output: Any, layer: str) -> torch.Tensor:
    # Many blocks return tuples, e.g. a diffusers down block returns
    # (hidden_states, skip_states); the representation is the first tensor.
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):  # includes diffusers' BaseOutput
        items = list(output.values())
    elif isinstance(output, tuple | list):
        items = list(output)
    else:
        items = []
    for item in items:
        if isinstance(item, torch.Tensor):
            return item
    raise TypeError(f"layer {layer!r} returned {type(output).__name__} with no tensor to capture")


def pool(h: torch.Tensor, pooling: str) -> torch.Tensor:
    """(B, C, *spatial) -> (B, d): all values, or the mean / max over the spatial dims."""
    if pooling == "flatten" or h.ndim <= 2:
        return h.flatten(1)
    spatial = tuple(range(2, h.ndim))
    if pooling == "mean":
        return h.mean(dim=spatial)
    return h.amax(dim=spatial)


class LayerCapture:
    """Forward hooks on the submodules ``names`` of ``model``, as a context manager.

    Inside the ``with`` block the model is in ``eval`` mode; on leaving it the hooks are
    removed and the model is returned to its previous mode. :meth:`run` runs one forward
    pass through ``forward(model, x_t, t, labels)`` and returns the first output of every
    layer (the first tensor when a layer returns a tuple, list or dict); :attr:`shapes`
    keeps the per-condition shape of each."""

    def __init__(self, model: nn.Module, names: list[str], forward: ForwardFn) -> None:
        self.model = model
        self.names = names
        self.forward = forward
        self.captured: dict[str, torch.Tensor] = {}
        #: Per layer, the shape of its output for one condition (batch dim left out).
        self.shapes: dict[str, tuple[int, ...]] = {}

    def _hook(self, name: str):
        def hook(_module, _inputs, output):
            # The first call of a layer is kept; the hook returns None, so the model's own
            # output is never replaced.
            if name not in self.captured:
                self.captured[name] = _first_tensor(output, name)
            if len(self.captured) == len(self.names):
                raise _Captured  # nothing after the last layer is needed

        return hook

    def __enter__(self) -> LayerCapture:
        modules = dict(self.model.named_modules())
        self._handles = [
            modules[name].register_forward_hook(self._hook(name)) for name in self.names
        ]
        self._was_training = self.model.training
        self.model.eval()
        return self

    def __exit__(self, *exc_info) -> None:
        for handle in self._handles:
            handle.remove()
        self.model.train(self._was_training)

    def run(
        self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """``{layer: output}`` of one forward pass on a batch of B conditions. Raises
        ``RuntimeError`` when a layer was not called or its output has no batch dim first."""
        self.captured.clear()
        try:
            self.forward(self.model, x_t, t, labels)
        except _Captured:
            pass
        b = x_t.shape[0]
        for name in self.names:
            h = self.captured.get(name)
            if h is None:
                raise RuntimeError(
                    f"layer {name!r} was not called during the forward pass; choose a layer "
                    "the forward pass uses"
                )
            if h.shape[0] != b:
                raise RuntimeError(
                    f"layer {name!r} output has batch size {h.shape[0]}, expected {b}; choose "
                    "a layer with a batch dimension first"
                )
            self.shapes[name] = tuple(h.shape[1:])
        return {name: self.captured[name] for name in self.names}
