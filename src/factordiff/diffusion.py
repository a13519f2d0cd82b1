"""The diffusion process: noise schedule, ``q_sample``, the training loss and the samplers.

The model is an argument everywhere (nothing here knows the network's structure). Schedules
and sampler updates are diffusers' schedulers (``DDPMScheduler`` for the forward process and
ancestral sampling, ``DDIMScheduler`` and ``DPMSolverMultistepScheduler`` for few-step
sampling), so factordiff's numbers are those of a widely used implementation.

Reproducibility: every sample owns a ``torch.Generator`` seeded with ``seed + k`` for the
k-th label, used for its initial noise and for its ancestral noise at every step, so sample
``k`` is the same whatever the batch size it is drawn in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from torch import nn

from factordiff.config import DiffusionConfig

SAMPLERS = ("ddpm", "ddim", "dpm")


def check_labels(labels, dtype: torch.dtype = torch.float32, num_factors: int = 2) -> torch.Tensor:
    """``labels`` as an (M, F) tensor of ``dtype`` with M >= 1 finite rows and F =
    ``num_factors`` (2 for every dataset today: mu_x, mu_y), else ``ValueError``."""
    f = num_factors
    what = "(mu_x, mu_y) in px" if f == 2 else f"{f} factor values"
    try:
        lab = torch.as_tensor(labels, dtype=dtype)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(
            f"labels {str(labels)[:60]!r} are invalid ({e}); allowed: an (M, {f}) array of {what}"
        ) from e
    if lab.ndim != 2 or lab.shape[0] < 1 or lab.shape[1] != f:
        raise ValueError(
            f"labels shape {tuple(lab.shape)} is invalid; allowed: (M, {f}) with M >= 1, one "
            f"row of {what} per image"
        )
    bad = ~torch.isfinite(lab).all(dim=1)
    if bad.any():
        k = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"labels[{k}] = {lab[k].tolist()} is invalid; allowed: finite numbers (px)"
        )
    return lab


class GaussianDiffusion:
    """DDPM forward process and objective for a :class:`DiffusionConfig`.

    Attributes: ``alphas_cumprod`` (T,) float64 -- ``alpha_bar_t`` of the DDPM literature."""

    def __init__(self, cfg: DiffusionConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.num_timesteps = cfg.num_train_timesteps
        self._sched_kwargs = dict(
            num_train_timesteps=cfg.num_train_timesteps,
            beta_schedule=cfg.beta_schedule,
            beta_start=cfg.beta_start,
            beta_end=cfg.beta_end,
            prediction_type=cfg.prediction_type,
        )
        self.scheduler = DDPMScheduler(**self._sched_kwargs, clip_sample=False)
        self.alphas_cumprod = self.scheduler.alphas_cumprod.to(torch.float64)  # (T,)

    # ------------------------------------------------------------------ forward process
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise; x0, noise (B, C, H, W)."""
        ab = self.alphas_cumprod.to(x0.device)[t].to(x0.dtype)  # (B,)
        ab = ab.view(-1, *([1] * (x0.ndim - 1)))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def target(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """What the network regresses: epsilon, v = sqrt(ab) eps - sqrt(1-ab) x0, or x0."""
        kind = self.cfg.prediction_type
        if kind == "epsilon":
            return noise
        if kind == "sample":
            return x0
        ab = self.alphas_cumprod.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
        return ab.sqrt() * noise - (1 - ab).sqrt() * x0

    def loss_weights(self, t: torch.Tensor) -> torch.Tensor:
        """Per-sample weights (B,). ``min_snr``: Hang et al. 2023, min(SNR, gamma) / SNR for
        epsilon, min(SNR, gamma) / (SNR + 1) for v, min(SNR, gamma) for x0 prediction."""
        if self.cfg.loss_weighting == "none":
            return torch.ones(t.shape[0], device=t.device)
        ab = self.alphas_cumprod.to(t.device)[t]
        snr = ab / (1 - ab)
        clipped = snr.clamp(max=self.cfg.min_snr_gamma)
        kind = self.cfg.prediction_type
        if kind == "epsilon":
            w = clipped / snr
        elif kind == "v_prediction":
            w = clipped / (snr + 1)
        else:
            w = clipped
        return w.float()

    def training_losses(
        self,
        model: nn.Module,
        x0: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Per-sample weighted MSE (B,) at uniformly drawn timesteps.

        ``x0`` (B, 1, N, N) in [-1, 1]; ``labels`` (B, 2). Timesteps and noise come from
        ``generator`` so a training step is reproducible."""
        b = x0.shape[0]
        t = torch.randint(0, self.num_timesteps, (b,), generator=generator, device="cpu")
        noise = torch.randn(x0.shape, generator=generator, device="cpu", dtype=torch.float32)
        t, noise = t.to(x0.device), noise.to(x0.device, x0.dtype)
        x_t = self.q_sample(x0, t, noise)
        pred = model(x_t, t, labels)
        err = (pred.float() - self.target(x0, t, noise).float()).pow(2).flatten(1).mean(1)
        return err * self.loss_weights(t)

    # ------------------------------------------------------------------ sampling
    def make_scheduler(self, sampler: str):
        """A fresh diffusers scheduler for ``sampler`` (ddpm | ddim | dpm)."""
        if sampler == "ddpm":
            return DDPMScheduler(**self._sched_kwargs, clip_sample=False)
        if sampler == "ddim":
            return DDIMScheduler(**self._sched_kwargs, clip_sample=False, set_alpha_to_one=False)
        if sampler == "dpm":
            return DPMSolverMultistepScheduler(**self._sched_kwargs, algorithm_type="dpmsolver++")
        raise ValueError(f"sampler = {sampler!r} is invalid; allowed: {list(SAMPLERS)}")

    @torch.no_grad()
    def sample(
        self,
        model: nn.Module,
        labels: torch.Tensor,
        *,
        sampler: str = "ddim",
        num_steps: int = 50,
        seed: int = 0,
        seeds: Sequence[int] | None = None,
        batch_size: int = 256,
        image_size: int | None = None,
        device: torch.device | str | None = None,
        progress: Callable | None = None,
    ) -> torch.Tensor:
        """Generate one image per label. Returns (M, 1, N, N) float32 on the CPU.

        ``sampler``: ``ddpm`` (ancestral; uses ``num_steps`` steps, all T by default for the
        paper's setting), ``ddim`` (eta = 0) or ``dpm`` (DPM-Solver++ multistep).
        Sample ``k`` uses seed ``seeds[k]`` if given, else ``seed + k``."""
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler = {sampler!r} is invalid; allowed: {list(SAMPLERS)}")
        if (
            isinstance(num_steps, bool)
            or not isinstance(num_steps, int | np.integer)
            or not 1 <= num_steps <= self.num_timesteps
        ):
            raise ValueError(
                f"num_steps = {num_steps!r} is invalid; allowed: an integer in "
                f"1..{self.num_timesteps}"
            )
        # F from the model (a factordiff Denoiser knows it); 2 for a plain module
        labels = check_labels(labels, num_factors=getattr(model, "num_factors", 2))
        m = labels.shape[0]
        if seeds is None:
            seeds = [seed + k for k in range(m)]
        if len(seeds) != m:
            raise ValueError(f"seeds has {len(seeds)} entries for {m} labels")
        if any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0 for s in seeds):
            raise ValueError(
                f"seed = {seed!r} (seeds {list(seeds)[:4]}...) is invalid; allowed: integers >= 0"
            )
        n = image_size or getattr(model, "image_size", None)
        if n is None:
            raise ValueError("image_size must be given for a model without .image_size")
        if device is None:
            device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        out = []
        try:
            for start in range(0, m, batch_size):
                lab = labels[start : start + batch_size].to(device)
                gens = [
                    torch.Generator().manual_seed(int(s)) for s in seeds[start : start + batch_size]
                ]
                out.append(
                    self._sample_batch(model, lab, gens, sampler, num_steps, n, device, progress)
                )
        finally:
            model.train(was_training)
        return torch.cat(out)

    def _sample_batch(self, model, labels, gens, sampler, num_steps, n, device, progress):
        sched = self.make_scheduler(sampler)
        sched.set_timesteps(num_steps)
        # Per-sample initial noise, drawn on the CPU so results do not depend on the device.
        x = torch.stack([torch.randn((1, n, n), generator=g) for g in gens]).to(device)
        x = x * sched.init_noise_sigma
        for t in sched.timesteps:
            tt = torch.full((x.shape[0],), int(t), device=device, dtype=torch.long)
            eps = model(sched.scale_model_input(x, t), tt, labels)
            if sampler == "ddpm":
                # A list of CPU generators: diffusers draws each sample's ancestral noise
                # from its own generator, so batch composition does not matter.
                x = sched.step(eps.float(), t, x, generator=gens).prev_sample
            elif sampler == "ddim":
                x = sched.step(eps.float(), t, x, eta=0.0).prev_sample
            else:
                x = sched.step(eps.float(), t, x).prev_sample
            if progress is not None:
                progress(1)
        return x.float().cpu()
