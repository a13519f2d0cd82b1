"""The batched training step of benchmarks/batched_models.py equals K single runs' steps."""

import importlib.util
from pathlib import Path

import pytest
import torch

from factordiff.config import apply_overrides
from factordiff.presets import preset_config
from factordiff.training import Trainer, _seed_for

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "batched_models.py"


def _module():
    spec = importlib.util.spec_from_file_location("batched_models", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _trainers(seeds, **over):
    """Tiny runs (attention at the 8 x 8 level); clipping tight enough to bind."""
    out = []
    for seed in seeds:
        cfg = preset_config("tiny")
        cfg = apply_overrides(
            cfg,
            [f"seed={seed}", "train.grad_clip=0.05", "train.num_threads=1", "train.warmup_steps=0"]
            + ["train.precision=fp32"]  # compares numbers: pinned, never the machine's `auto`
            + [f"{k}={v}" for k, v in over.items()],
        )
        out.append(Trainer(cfg, "/nonexistent-not-written", progress=False))
    return out


def _batches(trainers, step):
    gen = torch.Generator().manual_seed(step)
    return torch.stack([torch.randperm(len(tr.images), generator=gen)[:8] for tr in trainers])


def test_batched_losses_and_gradients_equal_single_runs():
    mod = _module()
    seeds = (0, 1, 2)
    trainers = _trainers(seeds)
    batched = mod.BatchedRuns(trainers)
    idx = _batches(trainers, 0)
    losses = batched.losses(idx)
    losses.sum().backward()
    for k, tr in enumerate(trainers):
        gen = torch.Generator().manual_seed(_seed_for(tr.cfg.seed, 1, 0))
        single = tr.diffusion.training_losses(
            tr.model, tr.images[idx[k]], tr.labels[idx[k]], gen
        ).mean()
        tr.model.zero_grad(set_to_none=True)
        single.backward()
        torch.testing.assert_close(losses[k], single, rtol=1e-5, atol=1e-6)
        for name, p in tr.model.named_parameters():
            torch.testing.assert_close(
                batched.params[name].grad[k], p.grad, rtol=1e-4, atol=1e-6, msg=name
            )
    # the runs really differ (own weights, data and noise), so equality above is per run
    assert len({round(v, 6) for v in losses.tolist()}) == len(seeds)


def test_batched_steps_equal_single_runs_with_clipping_adamw_and_ema():
    mod = _module()
    seeds = (0, 3)
    singles, others = _trainers(seeds), _trainers(seeds)
    batched = mod.BatchedRuns(others)
    norms = []
    for step in range(3):
        idx = _batches(singles, step)
        single_losses = [tr.train_step(i) for tr, i in zip(singles, idx)]
        batched_losses = batched.train_step(idx)
        norms.append(batched.last_grad_norms)
        assert batched_losses == pytest.approx(single_losses, rel=1e-5, abs=1e-6)
    # clipping bound for every run at every step, so a shared (not per-run) norm would differ
    assert all((n > 0.05).all() for n in norms)
    for k, tr in enumerate(singles):
        want = tr.model.state_dict()
        got = batched.state_dict_of(k)
        assert set(got) == set(want)
        for name in want:
            torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-5, msg=name)
        ema_single = tr.ema_model().state_dict()
        for name, p in zip(batched.params, batched.ema.shadow_params):
            torch.testing.assert_close(p[k], ema_single[name], rtol=1e-4, atol=1e-5, msg=name)


def test_batched_runs_refuse_runs_that_differ_in_more_than_seed_and_data():
    mod = _module()
    a = _trainers((0,))[0]
    b = _trainers((1,), **{"train.lr": 5e-4})[0]
    with pytest.raises(ValueError, match="differ in train"):
        mod.BatchedRuns([a, b])
