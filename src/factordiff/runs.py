"""High-level operations on a run folder: sample from it, evaluate it.

These are what the ``factordiff sample`` / ``factordiff evaluate`` commands call, and what a
notebook user calls directly::

    from factordiff.runs import evaluate_run
    summary = evaluate_run("runs/train/small")  # factordiff train --preset small
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from factordiff.config import DataConfig, RunConfig, json_ready
from factordiff.diffusion import check_labels
from factordiff.paths import check_writable_folder
from factordiff.sampling import load_checkpoint, sample_images, score_images
from factordiff.training import (
    atomic_write_text,
    list_checkpoints,
    run_state,
)


def final_checkpoint(run_dir: str | Path) -> Path:
    """The newest kept checkpoint of a run. Warns when the run's ``state.json`` records a
    later epoch than that checkpoint (its kept checkpoint was lost, e.g. by a crash of an
    older version between two files), since the caller would use an older model."""
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        raise FileNotFoundError(f"{run_dir} has no kept checkpoints yet (train it first)")
    newest = int(ckpts[-1].stem.split("-")[1])
    state = run_state(run_dir) or {}
    if isinstance(state.get("epoch"), int) and state["epoch"] > newest and state.get("finished"):
        warnings.warn(
            f"{run_dir} finished at epoch {state['epoch']} but its newest kept checkpoint is "
            f"{ckpts[-1].name} (epoch {newest}); using that one",
            stacklevel=2,
        )
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
            row = [float(vals[0]), float(vals[1])]
            if not all(math.isfinite(v) for v in row):
                raise ValueError
            rows.append(row)
        except ValueError:
            raise ValueError(
                f"--labels entry {part!r} is invalid; allowed: 'mu_x,mu_y' pairs of finite "
                "numbers (px) separated by ';'"
            ) from None
    if not rows:
        raise ValueError(f"--labels {text!r} holds no labels; e.g. '3.5,4.5;10,12'")
    return torch.tensor(rows, dtype=torch.float32)


def check_label_range(labels: torch.Tensor, cfg: DataConfig) -> None:
    """Refuse labels (M, 2) outside the label range of the data a model was trained on:
    ``[-m, N + m]`` on both axes, ``[0, N)`` when periodic."""
    from factordiff.data.datasets import label_range

    lab = check_labels(labels)
    lo, hi = (v + 0.0 for v in label_range(cfg))  # + 0.0: -0.0 prints as 0
    if cfg.periodic:
        inside = (lab >= lo) & (lab < hi)
        allowed = f"[{lo:g}, {hi:g}) (periodic data: {hi:g} is {lo:g})"
    else:
        inside = (lab >= lo) & (lab <= hi)
        allowed = f"[{lo:g}, {hi:g}]"
    bad = ~inside.all(dim=1)
    if bad.any():
        k = int(bad.nonzero()[0, 0])
        mu = ", ".join(f"{v:g}" for v in lab[k].tolist())
        raise ValueError(
            f"label ({mu}) is outside the run's label range; allowed: mu_x and mu_y in "
            f"{allowed} (data.image_size = {cfg.image_size}, data.margin = {cfg.margin})"
        )


def check_int(name: str, value, low: int, high: int | None = None) -> None:
    """``value`` is an integer in ``low..high`` (``high`` None: no upper bound), else a
    ``ValueError`` naming it and what is allowed."""
    ok = not isinstance(value, bool) and isinstance(value, int | np.integer)
    ok = ok and value >= low and (high is None or value <= high)
    if not ok:
        allowed = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
        raise ValueError(f"{name} = {value!r} is invalid; allowed: {allowed}")


def sampler_settings(cfg: RunConfig, sampler: str | None, num_steps: int | None) -> tuple:
    """``(sampler, num_steps)`` to sample a run with: its ``eval`` settings where None; the
    step count checked against the run's ``T``."""
    sampler = cfg.eval.sampler if sampler is None else sampler
    num_steps = cfg.eval.num_steps if num_steps is None else num_steps
    check_int("num_steps", num_steps, 1, cfg.diffusion.num_train_timesteps)
    return sampler, num_steps


def _load(run_dir, checkpoint, device):
    path = Path(checkpoint) if checkpoint else final_checkpoint(run_dir)
    model, cfg, meta, dev = load_checkpoint(path, device)
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
    ``samples.png`` into ``out`` (default ``RUN/samples``). Returns the paths, the checkpoint
    and its ``epoch``.

    Raises ``ValueError`` before sampling on labels outside the run's label range (or not
    finite), ``num_steps`` outside ``1..T`` or a negative ``seed``, and an ``OSError`` when
    ``out`` cannot be written."""
    from factordiff.plotting import sample_grid_figure, save_figure

    check_int("seed", seed, 0)
    labels = check_labels(labels)
    model, cfg, meta, path, dev = _load(run_dir, checkpoint, device)
    sampler, num_steps = sampler_settings(cfg, sampler, num_steps)
    check_label_range(labels, cfg.data)
    out = Path(out) if out else Path(run_dir) / "samples"
    check_writable_folder(out)  # before sampling: a bad folder must not cost the samples
    images = sample_images(
        model, cfg, labels, sampler=sampler, num_steps=num_steps, seed=seed, device=dev
    )
    out.mkdir(parents=True, exist_ok=True)
    seeds = np.arange(seed, seed + len(labels))
    np.savez_compressed(
        out / "samples.npz", images=images[:, 0].numpy(), labels=labels.numpy(), seeds=seeds
    )
    fig = sample_grid_figure(
        images[:, 0].numpy(), labels.numpy(), title=f"{cfg.name} epoch {meta['epoch']}"
    )
    save_figure(fig, out / "samples.png", dpi=100)
    return {
        "npz": str(out / "samples.npz"),
        "png": str(out / "samples.png"),
        "checkpoint": str(path),
        "epoch": meta["epoch"],
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
    from factordiff.evaluation import per_region
    from factordiff.plotting import sample_grid_figure, save_figure

    if num_samples is not None:
        check_int("num_samples", num_samples, 1)
    check_int("seed", seed, 0)
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
    n = cfg.eval.num_samples if num_samples is None else num_samples
    labels = eval_conditions(data_cfg, n, seed=seed)
    sampler, num_steps = sampler_settings(cfg, sampler, num_steps)
    out = Path(out) if out else Path(run_dir) / "eval"
    check_writable_folder(out)  # before sampling: a bad folder must not cost the samples
    t0 = time.perf_counter()
    images = sample_images(
        model, cfg, labels, sampler=sampler, num_steps=num_steps, seed=seed, device=dev
    )
    seconds = time.perf_counter() - t0
    scores = score_images(images, labels, data_cfg, cfg)
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
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "samples.npz", images=images[:, 0].numpy(), labels=labels.numpy())
    k = min(64, n)
    fig = sample_grid_figure(
        images[:k, 0].numpy(),
        labels[:k].numpy(),
        correct=np.asarray(scores.joint_ok[:k]),
        tolerance_px=cfg.eval.tolerance_px,
        title=f"{cfg.name} epoch {meta['epoch']}: accuracy {summary['overall'].get('accuracy', 0):.2f}",
    )
    save_figure(fig, out / "samples.png", dpi=100)
    atomic_write_text(out / "evaluation.json", json.dumps(json_ready(summary), indent=2) + "\n")
    return summary
