"""The conditional UNet: a diffusers ``UNet2DModel`` plus a label encoder for F factors.

Design (after the paper's Fig. 7): sinusoidal encodings of the timestep and of each factor of
the label (``mu_x`` and ``mu_y``: F = 2 for all of today's data) are combined into one
embedding that is fed into every residual block of the UNet.
We reuse diffusers' ``UNet2DModel`` (well tested, any layer reachable by name) with
``class_embed_type="identity"``: the UNet computes ``emb = MLP_t(sin(t)) + c`` and we supply
``c = MLP_c(concat(sin(mu_x), sin(mu_y)))``. A sum of two MLP outputs is what the paper's
"concatenate, then project" amounts to after the first linear layer, and it lets the
timestep path stay the library's own code.

Label encoding (:class:`LabelEncoder`, ``model.label_encoding``):

- ``periodic`` (the default): for each coordinate, ``sin`` and ``cos`` of
  ``2 pi k (mu - offset) / P`` for integer ``k = 1..K``. For periodic data ``P = N``, so the
  encoding of ``mu`` and ``mu + N`` is identical (the torus is built into the input);
  otherwise ``P = 2 L`` with ``L`` the width of the label range, so no two labels in range
  collide.
- ``positional``: the transformer-style encoding of the raw coordinate that the UNet uses for
  ``t`` (diffusers' ``get_timestep_embedding``): ``cos`` and ``sin`` of ``mu / 10000^(i/K)``,
  ``i = 0..K-1``. No period is built in, so a torus in the data has to be learned from the
  images (the paper's "positional encodings" of mu_x and mu_y, as we read them).

Both give ``2K`` features per coordinate, ``2 F K`` in all, and feed the same MLP. F is the
model's ``num_factors``, derived from the data (:func:`factordiff.data.render.label_factors`),
so the first layer's width follows the labels and no config field (nor run key) holds it.
The pixel-coordinate features (``model.coord_frequencies``) are of the image's two axes, not
of the labels: they stay 2-D whatever F.
"""

from __future__ import annotations

import math

import torch
from diffusers import UNet2DModel
from diffusers.models.embeddings import get_timestep_embedding
from torch import nn

from factordiff.config import LABEL_ENCODINGS, DataConfig, ModelConfig
from factordiff.model.base import Denoiser
from factordiff.model.registry import build_model  # noqa: F401  (its old home; re-exported)
from factordiff.model.unet_config import check_unet_config

#: Longest period of the ``positional`` label encoding (in pixels, up to 2 pi): the
#: transformer's and diffusers' default for the timestep, so the lowest frequencies are close to
#: linear in mu over any label range we use. OUR choice (the paper does not give it).
POSITIONAL_MAX_PERIOD = 10_000


class LabelEncoder(nn.Module):
    """Sinusoidal features of each factor of the label, concatenated, then a two-layer MLP.

    Input ``labels`` (B, F) in pixels, F = ``num_factors`` (2 for ``(mu_x, mu_y)``); output
    (B, emb_dim). ``encoding``: ``periodic`` (frequencies ``2 pi k / period``, labels shifted
    by ``offset``, the same for every factor) or ``positional`` (transformer-style, of the raw
    label; ``period`` and ``offset`` unused)."""

    def __init__(
        self,
        *,
        period: float,
        offset: float,
        num_frequencies: int,
        emb_dim: int,
        encoding: str = "periodic",
        num_factors: int = 2,
    ) -> None:
        super().__init__()
        if encoding not in LABEL_ENCODINGS:
            raise ValueError(
                f"encoding = {encoding!r} is invalid; allowed: one of {list(LABEL_ENCODINGS)}"
            )
        if isinstance(num_factors, bool) or not isinstance(num_factors, int) or num_factors < 1:
            raise ValueError(f"num_factors = {num_factors!r} is invalid; allowed: an integer >= 1")
        self.encoding = encoding
        self.num_factors = num_factors
        self.num_frequencies = int(num_frequencies)
        self.period = float(period)
        self.offset = float(offset)
        k = torch.arange(1, num_frequencies + 1, dtype=torch.float32)
        self.register_buffer("freqs", 2 * math.pi * k / self.period, persistent=False)  # (K,)
        self.mlp = nn.Sequential(
            nn.Linear(2 * num_factors * num_frequencies, emb_dim),
            nn.SiLU(),
            nn.Linear(emb_dim, emb_dim),
        )

    def features(self, labels: torch.Tensor) -> torch.Tensor:
        """(B, F) labels -> (B, 2FK) features, factor by factor: [sin x, cos x, sin y, cos y,
        ...] (periodic) or [cos x, sin x, cos y, sin y, ...] (positional), K of each."""
        if labels.ndim != 2 or labels.shape[1] != self.num_factors:
            raise ValueError(
                f"labels shape {tuple(labels.shape)} is invalid; allowed: (B, "
                f"{self.num_factors}), one value per factor (num_factors = {self.num_factors})"
            )
        b = labels.shape[0]
        if self.encoding == "positional":
            # cos/sin first as in UNet2DModel's own timestep encoding (flip_sin_to_cos)
            feats = get_timestep_embedding(
                labels.float().reshape(-1),  # (FB,): x0, y0, x1, y1, ... for F = 2
                2 * self.num_frequencies,
                flip_sin_to_cos=True,
                downscale_freq_shift=0,
                max_period=POSITIONAL_MAX_PERIOD,
            )  # (FB, 2K)
            return feats.reshape(b, 2 * self.num_factors * self.num_frequencies)
        ang = (labels.float() - self.offset)[:, :, None] * self.freqs  # (B, F, K)
        feats = torch.cat([ang.sin(), ang.cos()], dim=-1)  # (B, F, 2K)
        return feats.flatten(1)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.features(labels))


class ConditionalUNet(Denoiser):
    """Denoiser ``eps_theta(x_t, t, labels)`` for N x N grayscale images; the model of
    ``model.kind = "unet"``.

    ``forward(x_t (B, 1, N, N), t (B,) long, labels (B, F) float) -> (B, 1, N, N)``, F =
    ``num_factors`` of the data (2 today: ``(mu_x, mu_y)``).

    Named submodules (for activation analysis): ``label_encoder``, ``unet.conv_in``,
    ``unet.down_blocks.{i}``, ``unet.mid_block``, ``unet.up_blocks.{i}``, ``unet.conv_out``
    and everything below them (``model.named_modules()``); :meth:`analysis_layers` are the
    blocks, :attr:`default_layer` the last down block."""

    #: N must halve through the levels (checked by ``RunConfig.validate`` via the registry).
    check_config = staticmethod(check_unet_config)

    def __init__(self, model_cfg: ModelConfig, data_cfg: DataConfig) -> None:
        model_cfg.validate()
        super().__init__(model_cfg, data_cfg)
        n = data_cfg.image_size
        if data_cfg.periodic:
            period, offset = float(n), 0.0
        else:
            lo, hi = -data_cfg.margin, n + data_cfg.margin
            period, offset = 2.0 * (hi - lo), float(lo)
        widths = tuple(model_cfg.block_out_channels)
        emb_dim = 4 * widths[0]
        self.label_encoder = LabelEncoder(
            period=period,
            offset=offset,
            num_frequencies=model_cfg.num_frequencies,
            emb_dim=emb_dim,
            encoding=model_cfg.label_encoding,
            num_factors=self.num_factors,
        )
        self.coord_frequencies = model_cfg.coord_frequencies
        if self.coord_frequencies:
            # Fixed Fourier features of the pixel centres with the label encoder's period and
            # frequencies: sin/cos(2 pi k x / P) and sin/cos(2 pi k y / P), k = 1..K. With
            # scale-shift conditioning, one layer can then form sum_k cos(2 pi k (x - mu_x) / P),
            # a peak at x = mu_x, instead of learning absolute position from the zero padding.
            # Off in the paper presets.
            centres = torch.arange(n, dtype=torch.float32) + 0.5 - offset
            k = torch.arange(1, self.coord_frequencies + 1, dtype=torch.float32)
            ang = 2 * math.pi * k[:, None] * centres[None, :] / period  # (K, N)
            gx = ang[:, None, :].expand(-1, n, n)  # (K, N, N), varies along columns (x)
            gy = ang[:, :, None].expand(-1, n, n)  # varies along rows (y)
            coords = torch.cat([gx.sin(), gx.cos(), gy.sin(), gy.cos()])  # (4K, N, N)
            self.register_buffer("coords", coords, persistent=False)
        in_channels = 1 + 4 * self.coord_frequencies
        down = tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in model_cfg.attention)
        up = tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(model_cfg.attention))
        self.unet = UNet2DModel(
            sample_size=n,
            in_channels=in_channels,
            out_channels=1,
            down_block_types=down,
            up_block_types=up,
            block_out_channels=widths,
            layers_per_block=model_cfg.layers_per_block,
            norm_num_groups=model_cfg.norm_num_groups,
            attention_head_dim=model_cfg.attention_head_dim,
            add_attention=model_cfg.attention[-1],
            class_embed_type="identity",
            dropout=model_cfg.dropout,
            time_embedding_type="positional",
            # "scale_shift": h = norm(h) * (1 + scale(emb)) + shift(emb) (FiLM, as in
            # improved-diffusion's use_scale_shift_norm); "default" adds emb as a bias.
            resnet_time_scale_shift="scale_shift" if model_cfg.scale_shift else "default",
        )

    def analysis_layers(self) -> list[str]:
        """Every down block, the mid block and every up block, in forward order."""
        down = [f"unet.down_blocks.{i}" for i in range(len(self.unet.down_blocks))]
        mid = ["unet.mid_block"] if self.unet.mid_block is not None else []
        up = [f"unet.up_blocks.{i}" for i in range(len(self.unet.up_blocks))]
        return down + mid + up

    @property
    def default_layer(self) -> str:
        """The end of the encoder: the last down block (before the mid block)."""
        return f"unet.down_blocks.{len(self.unet.down_blocks) - 1}"

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if x_t.ndim != 4 or x_t.shape[1] != 1:
            raise ValueError(f"x_t must have shape (B, 1, N, N), got {tuple(x_t.shape)}")
        cond = self.label_encoder(labels.to(x_t.device))  # (B, emb_dim)
        h = x_t
        if self.coord_frequencies:
            h = torch.cat([h, self.coords.to(h.dtype).expand(h.shape[0], -1, -1, -1)], dim=1)
        if t.ndim == 0:
            t = t.expand(x_t.shape[0])
        return self.unet(h, t, class_labels=cond.to(h.dtype)).sample


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
