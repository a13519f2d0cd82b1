"""High-level operations on a run folder: sample from it, evaluate it.

These are what the ``factordiff sample`` / ``factordiff evaluate`` commands call, and what a
notebook user calls directly::

    from factordiff.runs import evaluate_run
    summary = evaluate_run("runs/small")
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from factordiff.config import DataConfig, json_ready
from factordiff.diffusion import GaussianDiffusion
from factordiff.hardware import autocast, resolve_precision
from factordiff.training import (
    atomic_write_text,
    list_checkpoints,
    load_model,
    resolve_device,
)


def final_checkpoint(run_dir: str | Path) -> Path:
    """The newest kept checkpoint of a run."""
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        raise FileNotFoundError(f"{run_dir} has no kept checkpoints yet (train it first)")
    return ckpts[-1]


def parse_labels(text: str) -> torch.Tensor:
    """``"3.5,4.5;10,12"`` -> tensor [[3.5, 4.5], [10, 12]] (mu_x, mu_y in pixels)."""
    rows = []
    for part in text.replace(" ", "").split(";"):
        if not part:
            continue
        vals = part.split(",")
        try:
            if len(vals) != 2:
                raise ValueError
            rows.append([float(vals[0]), float(vals[1])])
        except ValueError:
            raise ValueError(
                f"--labels entry {part!r} is invalid; allowed: 'mu_x,mu_y' pairs separated by ';'"
            ) from None
    if not rows:
        raise ValueError(f"--labels {text!r} holds no labels; e.g. '3.5,4.5;10,12'")
    return torch.tensor(rows, dtype=torch.float32)


def _load(run_dir, checkpoint, device):
    dev = resolve_device(device)
    path = Path(checkpoint) if checkpoint else final_checkpoint(run_dir)
    model, cfg, meta = load_model(path, ema=True, map_location=dev)
    return model, cfg, meta, path, dev


def sample_run(
    run_dir: str | Path,
    labels: torch.Tensor,
    *,
    out: str | Path | None = None,
    checkpoint: str | Path | None = None,
    sampler: str | None = None,
    num_steps: int | None = None,
    seed: int = 0,
    device: str = "auto",
) -> dict:
    """Generate one image per label from a run's EMA weights.

    Writes ``samples.npz`` (images (M, N, N) in [-1, 1], labels (M, 2), seeds) and
    ``samples.png`` into ``out`` (default ``RUN/samples``). Returns the paths."""
    from factordiff.plotting import sample_grid_figure

    model, cfg, meta, path, dev = _load(run_dir, checkpoint, device)
    sampler = sampler or cfg.eval.sampler
    num_steps = num_steps or cfg.eval.num_steps
    labels = torch.as_tensor(labels, dtype=torch.float32).reshape(-1, 2)
    diffusion = GaussianDiffusion(cfg.diffusion)
    with autocast(dev, resolve_precision(cfg.train.precision, dev)):
        images = diffusion.sample(
            model, labels, sampler=sampler, num_steps=num_steps, seed=seed, device=dev
        )
    out = Path(out) if out else Path(run_dir) / "samples"
    out.mkdir(parents=True, exist_ok=True)
    seeds = np.arange(seed, seed + len(labels))
    np.savez_compressed(
        out / "samples.npz", images=images[:, 0].numpy(), labels=labels.numpy(), seeds=seeds
    )
    fig = sample_grid_figure(
        images[:, 0].numpy(), labels.numpy(), title=f"{cfg.name} epoch {meta['epoch']}"
    )
    fig.savefig(out / "samples.png", dpi=100)
    return {
        "npz": str(out / "samples.npz"),
        "png": str(out / "samples.png"),
        "checkpoint": str(path),
    }


def evaluate_run(
    run_dir: str | Path,
    *,
    dataset: str | DataConfig | None = None,
    checkpoint: str | Path | None = None,
    num_samples: int | None = None,
    sampler: str | None = None,
    num_steps: int | None = None,
    seed: int = 12345,
    out: str | Path | None = None,
    device: str = "auto",
) -> dict:
    """Sample ``num_samples`` conditions over a dataset's label space and score them.

    ``dataset``: a dataset preset name or :class:`DataConfig` whose label space and named
    regions are used (default: the run's own). Writes ``evaluation.json`` (overall and per
    region), ``samples.npz`` and ``samples.png`` (a grid with each target marked) into
    ``out`` (default ``RUN/eval``). Returns the summary dict."""
    from factordiff.data import build_regions, eval_conditions, get_dataset_preset
    from factordiff.evaluation import per_region, score
    from factordiff.plotting import sample_grid_figure

    model, cfg, meta, path, dev = _load(run_dir, checkpoint, device)
    data_cfg = cfg.data
    if isinstance(dataset, str):
        data_cfg = get_dataset_preset(dataset)
    elif isinstance(dataset, DataConfig):
        data_cfg = dataset
    if data_cfg.image_size != cfg.data.image_size:
        raise ValueError(
            f"dataset image_size = {data_cfg.image_size} does not match the run's "
            f"image_size = {cfg.data.image_size}"
        )
    n = num_samples or cfg.eval.num_samples
    labels = eval_conditions(data_cfg, n, seed=seed)
    diffusion = GaussianDiffusion(cfg.diffusion)
    sampler = sampler or cfg.eval.sampler
    num_steps = num_steps or cfg.eval.num_steps
    t0 = time.perf_counter()
    with autocast(dev, resolve_precision(cfg.train.precision, dev)):
        images = diffusion.sample(
            model, labels, sampler=sampler, num_steps=num_steps, seed=seed, device=dev
        )
    seconds = time.perf_counter() - t0
    scores = score(images, labels, data_cfg, tolerance_px=cfg.eval.tolerance_px)
    regions = build_regions(data_cfg)
    summary = {
        "run": str(run_dir),
        "checkpoint": str(path),
        "epoch": meta["epoch"],
        "dataset": data_cfg.kind
        if dataset is None
        else (dataset if isinstance(dataset, str) else "custom"),
        "num_samples": n,
        "sampler": sampler,
        "num_steps": num_steps,
        "seed": seed,
        "sampling_seconds": seconds,
        "tolerance_px": cfg.eval.tolerance_px,
        "overall": scores.summary(),
        "regions": per_region(scores, labels, regions),
    }
    out = Path(out) if out else Path(run_dir) / "eval"
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "samples.npz", images=images[:, 0].numpy(), labels=labels.numpy())
    k = min(64, n)
    fig = sample_grid_figure(
        images[:k, 0].numpy(),
        labels[:k].numpy(),
        correct=np.asarray(scores.joint_ok[:k]),
        title=f"{cfg.name} epoch {meta['epoch']}: accuracy {summary['overall'].get('accuracy', 0):.2f}",
    )
    fig.savefig(out / "samples.png", dpi=100)
    atomic_write_text(out / "evaluation.json", json.dumps(json_ready(summary), indent=2) + "\n")
    return summary
