"""Sample (and score) images from a model: the one path every caller takes.

Training's evaluations (:meth:`factordiff.training.Trainer.evaluate`), ``factordiff sample``
and ``evaluate`` (:mod:`factordiff.runs`), Experiment 2's sections and Experiment 3's
accuracy all generate images the same way: the run's diffusion process, its precision (bf16
autocast only where the run's ``train.precision`` resolves to bf16 on this device), the
EMA weights of a checkpoint, no gradients. A change to how images are generated is made
here, once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from factordiff.config import DataConfig, RunConfig
from factordiff.data.render import label_factors
from factordiff.diffusion import GaussianDiffusion
from factordiff.hardware import PrecisionChoice, autocast, resolve_precision


def load_checkpoint(path: str | Path, device: str | torch.device = "auto", *, ema: bool = True):
    """``(model, cfg, meta, device)``: a checkpoint's EMA weights (``ema=False``: its raw
    weights) on the resolved device, in eval mode."""
    from factordiff.training import load_model, resolve_device

    dev = resolve_device(device)
    model, cfg, meta = load_model(Path(path), ema=ema, map_location=dev)
    return model, cfg, meta, dev


def _label_rows(labels, data: DataConfig) -> torch.Tensor:
    """``labels`` as float32 (M, F) rows, F the factors of ``data``'s labels
    (:func:`~factordiff.data.render.label_factors`; 2 today, ``(mu_x, mu_y)``). A flat array
    is read as consecutive rows; an (M, F') array with another F' is refused, not re-cut."""
    factors = label_factors(data)
    f = len(factors)
    lab = torch.as_tensor(np.asarray(labels), dtype=torch.float32)
    if lab.ndim == 2 and lab.shape[1] != f:
        raise ValueError(
            f"labels shape {tuple(lab.shape)} is invalid; allowed: (M, {f}), one "
            f"({', '.join(factors)}) per image (F = {f} factors of the run's data)"
        )
    return lab.reshape(-1, f)


def sample_images(
    model: torch.nn.Module,
    cfg: RunConfig,
    labels,
    *,
    sampler: str,
    num_steps: int,
    seed: int,
    device: torch.device,
    precision: PrecisionChoice | None = None,
    diffusion: GaussianDiffusion | None = None,
) -> torch.Tensor:
    """One image per label, ``(M, 1, N, N)`` on the CPU, in [-1, 1]. ``labels``: (M, F) in
    px, F the factors of ``cfg.data`` (``(mu_x, mu_y)``), array or tensor; ``seed`` fixes each
    label's noise; ``precision``: the resolved choice (default: ``cfg.train.precision`` on
    ``device``)."""
    labels = _label_rows(labels, cfg.data)
    if precision is None:
        precision = resolve_precision(cfg.train.precision, device)
    diffusion = diffusion if diffusion is not None else GaussianDiffusion(cfg.diffusion)
    with autocast(device, precision), torch.no_grad():
        return diffusion.sample(
            model, labels, sampler=sampler, num_steps=num_steps, seed=seed, device=device
        )


def score_images(images: torch.Tensor, labels, data: DataConfig, cfg: RunConfig):
    """:func:`factordiff.evaluation.score` of ``images`` against ``labels`` under ``data``,
    at the run's tolerance (``cfg.eval.tolerance_px``). Scoring locates a 2-D centre, so it
    needs F = 2 factors (:func:`~factordiff.evaluation.score` says so for another F)."""
    from factordiff.evaluation import score

    labels = _label_rows(labels, data)
    return score(images, labels, data, tolerance_px=cfg.eval.tolerance_px)
