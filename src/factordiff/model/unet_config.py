"""The UNet's rules on a config pair, without torch: ``RunConfig.validate`` runs them through
the model registry, so a config is checked without importing diffusers."""

from __future__ import annotations

from factordiff.config import DataConfig, ModelConfig


def check_unet_config(model_cfg: ModelConfig, data_cfg: DataConfig) -> None:
    """Refuse an image size the UNet's levels cannot halve.

    Each down block but the last halves the image; the up path must meet the skips at the
    same sizes, so N must divide by ``2 ** (levels - 1)`` (N = 12 with 4 levels would fail
    deep inside the UNet, 12 -> 6 -> 3 -> 2 -> 4 != 3)."""
    levels = len(model_cfg.block_out_channels)
    factor = 2 ** (levels - 1)
    if data_cfg.image_size % factor != 0:
        raise ValueError(
            f"data.image_size = {data_cfg.image_size!r} is invalid; allowed: a multiple of "
            f"{factor} for a UNet of {levels} levels (model.block_out_channels)"
        )
