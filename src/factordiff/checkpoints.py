"""The checkpoints of a run: writing them safely, finding them, loading them.

A run keeps ``RUN/checkpoints/epoch-NNNNN.pt`` for its kept epochs
(``config.train.checkpoint_epochs`` and the last) and ``RUN/checkpoints/latest.pt``, the
newest state, for resuming.

Checkpoints are dicts of tensors and plain values written with ``torch.save`` to a temporary
file and renamed into place (atomic on POSIX), and read with ``torch.load(weights_only=True)``
so loading a checkpoint never runs code.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import torch

from factordiff.config import RunConfig, from_dict
from factordiff.model.base import Denoiser
from factordiff.model.registry import build_model

log = logging.getLogger("factordiff.train")

CHECKPOINT_FORMAT = "factordiff-checkpoint-v1"


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to ``path.tmp`` then rename, so ``path`` is never a truncated file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Kept checkpoints of a run (``epoch-*.pt``), sorted by epoch."""
    d = checkpoint_dir(Path(run_dir))
    if not d.is_dir():
        raise FileNotFoundError(f"{run_dir} has no checkpoints/ folder: is it a factordiff run?")
    return sorted(d.glob("epoch-*.pt"), key=lambda p: int(p.stem.split("-")[1]))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint dict safely (``weights_only=True``) and check its format."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        head = f.read(4)
    # torch.save writes a zip archive; anything else (a text file, an empty file) is not a
    # checkpoint at all, which is a different fault from a checkpoint cut short.
    if head != b"PK\x03\x04":
        what = "an empty file" if not head else f"a file that starts with {head!r}"
        raise ValueError(
            f"{path} is not a factordiff checkpoint: it is {what}, not a PyTorch checkpoint "
            "(a zip archive written by torch.save); allowed: a checkpoint file of a run, "
            "RUN/checkpoints/epoch-NNNNN.pt"
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's own message advises weights_only=False, which would run code from the file
        raise ValueError(
            f"{path} is not a factordiff checkpoint: it holds objects other than tensors and "
            "plain values, and factordiff loads checkpoints without running code"
        ) from e
    except Exception as e:  # noqa: BLE001 - a truncated or corrupt file, reported the same way
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(
            f"{path} is not a readable factordiff checkpoint (truncated or corrupt: {reason})"
        ) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a factordiff checkpoint (format {CHECKPOINT_FORMAT!r})")
    return ckpt


def load_model(
    path: str | Path, ema: bool = True, map_location: str | torch.device = "cpu"
) -> tuple[Denoiser, RunConfig, dict]:
    """Rebuild the model of a checkpoint. Returns ``(model, config, meta)``.

    ``ema=True`` loads the EMA weights (what sampling and analysis use). ``meta`` holds
    ``epoch``, ``step`` and ``accuracy`` (None if it was not measured at that epoch)."""
    ckpt = load_checkpoint(path, map_location)
    try:
        cfg = from_dict(RunConfig, ckpt["config"])
    except (KeyError, ValueError) as e:
        raise ValueError(f"{path}: the config stored in the checkpoint is invalid: {e}") from e
    model = build_model(cfg.model, cfg.data)
    state = ckpt["ema_model"] if ema and ckpt.get("ema_model") is not None else ckpt["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not fit the architecture in its config: {e}") from e
    model.to(map_location).eval()
    # T of the schedule travels with the model, so analyses default to t = T - 1 and reject
    # t >= T (factordiff.analysis.ActivationExtractor).
    model.num_train_timesteps = cfg.diffusion.num_train_timesteps
    meta = {k: ckpt.get(k) for k in ("epoch", "step", "accuracy", "metrics")}
    return model, cfg, meta


def newest_readable_checkpoint(
    run_dir: Path, map_location: str | torch.device = "cpu"
) -> tuple[dict, Path] | None:
    """``(checkpoint, path)`` of the newest state a run can resume from; None when it has
    none (a fresh run).

    ``latest.pt`` first; if it is unreadable (e.g. truncated by a full disk), the newest
    readable kept checkpoint, saying so (a warning in the log and on stderr). None readable
    at all raises ``ValueError`` naming each problem."""
    d = checkpoint_dir(run_dir)
    latest = d / "latest.pt"
    kept = list_checkpoints(run_dir) if d.is_dir() else []
    if not latest.is_file() and not kept:
        return None
    ckpt, source, problems = None, None, []
    for path in [latest, *reversed(kept)]:
        if not path.is_file():
            continue
        try:
            ckpt, source = load_checkpoint(path, map_location), path
            break
        except ValueError as e:
            problems.append(str(e))
    if ckpt is None:
        raise ValueError(
            f"no readable checkpoint to resume from in {d} ({'; '.join(problems)}); "
            "use --force to start the run again"
        )
    if problems:
        msg = (
            f"{problems[0]}; resuming from the newest readable checkpoint, {source.name} "
            f"(epoch {ckpt['epoch']})"
        )
        log.warning(msg)
        print(f"warning: {msg}", file=sys.stderr)
    return ckpt, source
