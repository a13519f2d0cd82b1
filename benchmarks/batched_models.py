"""K runs of one sweep trained as one batched model (torch.func) against one after another.

    python benchmarks/batched_models.py                       # the default cases, 1 thread
    python benchmarks/batched_models.py --case 16:64:1,4 --threads 1,2 --rounds 3 --steps 3

A *case* ``N:B:K1,K2,...`` is the preset's model on N x N bumps at batch size B, for each
model count K. For each K it times one training step of K runs (seeds 0..K-1, each with its own
batch of data, its own timesteps and noise) done two ways in the same process:

- ``sequential``: ``Trainer.train_step`` of each run in turn (the baseline; what one sweep
  worker does today, one run after another);
- ``batched``: :class:`BatchedRuns`, the K models' parameters stacked along a new first axis
  (``torch.func.stack_module_state``) and the loss of all K computed by one
  ``vmap(functional_call(...))`` call, so every convolution is one grouped convolution and
  every linear layer one batched matrix product; then one backward, per-run gradient clipping,
  one AdamW step and one EMA step on the stacked parameters. AdamW and EMA are elementwise, so
  on stacked tensors they are the K separate ones (tests/test_batched_models.py checks that
  losses, gradients and updated weights equal the K single runs').

The variants take turns (rounds x cases x threads x K x variant) so a slow spell of a shared
machine hits them alike; each (K, variant) is warmed up by one step the first time. The
table gives medians over all timed steps: images per second over the K runs together, ms per
step per run (one step of all K, divided by K) and the batched/sequential throughput ratio.
B = 64 is the batch of every quick preset; a smaller B is what runs on small data shares
train with (a run's batch is ``min(batch_size, images)``: 3 images for exp3-quick's 5% share
at N = 8, 5 for percolation-quick's 2% share at N = 16).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from dataclasses import replace

import torch
from diffusers.training_utils import EMAModel
from torch.func import functional_call, stack_module_state, vmap

from factordiff.hardware import cpu_description
from factordiff.presets import preset_config
from factordiff.training import Trainer, TrainingDiverged, _seed_for, lr_at

DEFAULT_CASES = ["8:64:1,2,4,8", "16:64:1,2,4,8", "16:8:1,2,4,8", "32:64:1,4"]


class BatchedRuns:
    """The training step of K runs that differ only in seed (and data), as one model.

    ``trainers``: K :class:`Trainer` objects of configs equal up to ``seed`` and ``data``
    subsets (same model, diffusion, optimizer settings and label geometry); their models'
    current weights are the starting point (copied; the trainers are not changed). State:
    ``params`` and ``buffers`` dicts of (K, ...) tensors, one AdamW and one EMA over them.
    A step draws each run's timesteps and noise from the generator its own ``Trainer`` would
    use at that step, so run k's step k is the very step a single run would take."""

    def __init__(self, trainers: list[Trainer]) -> None:
        if not trainers:
            raise ValueError("trainers is empty; allowed: one or more Trainer objects")
        first = trainers[0]
        for tr in trainers[1:]:
            for what in ("model", "diffusion", "train"):
                if getattr(tr.cfg, what) != getattr(first.cfg, what):
                    raise ValueError(
                        f"runs {first.cfg.name!r} and {tr.cfg.name!r} differ in {what}; "
                        "allowed: runs that differ only in seed and data"
                    )
            enc, enc0 = tr.model.label_encoder, first.model.label_encoder
            if (enc.period, enc.offset, tr.model.image_size) != (
                enc0.period,
                enc0.offset,
                first.model.image_size,
            ):
                raise ValueError(
                    f"runs {first.cfg.name!r} and {tr.cfg.name!r} differ in image size or label "
                    "range; allowed: the same N, periodicity and margin"
                )
        self.trainers = trainers
        self.k = len(trainers)
        tc = first.cfg.train
        self.train_cfg = tc
        self.total_steps = first.total_steps
        self.diffusion = first.diffusion
        self.step = first.step
        self.last_grad_norms: torch.Tensor | None = None  # (K,) before clipping, last step
        # (K, ...) leaves that require grad; the model skeleton lives on the meta device and
        # only supplies the code (functional_call swaps the stacked slices in).
        self.params, self.buffers = stack_module_state([tr.model for tr in trainers])
        self.base = copy.deepcopy(first.model).to("meta")
        self.attention_workaround = _prepare_attention_for_vmap(self.base)
        self.optimizer = torch.optim.AdamW(
            list(self.params.values()), lr=tc.lr, weight_decay=tc.weight_decay
        )
        self.ema = (
            EMAModel(list(self.params.values()), decay=tc.ema_decay, use_ema_warmup=False)
            if tc.ema_decay > 0
            else None
        )
        # The model has no random op (dropout 0 in every preset); "different" would give each
        # run its own dropout mask, but not the mask a single run draws.
        randomness = "error" if first.cfg.model.dropout == 0 else "different"
        self._losses = vmap(self._loss_one, randomness=randomness)

    def _loss_one(self, params, buffers, x0, labels, t, noise) -> torch.Tensor:
        """One run's mean loss: x0 (B, 1, N, N), labels (B, 2), t (B,), noise like x0."""
        d = self.diffusion
        x_t = d.q_sample(x0, t, noise)
        pred = functional_call(self.base, (params, buffers), (x_t, t, labels))
        err = (pred.float() - d.target(x0, t, noise).float()).pow(2).flatten(1).mean(1)
        return (err * d.loss_weights(t)).mean()

    def losses(self, idx: torch.Tensor) -> torch.Tensor:
        """(K,) losses of the current step on run k's images ``idx[k]`` (idx: (K, B))."""
        x0 = torch.stack([tr.images[i] for tr, i in zip(self.trainers, idx)])  # (K, B, 1, N, N)
        labels = torch.stack([tr.labels[i] for tr, i in zip(self.trainers, idx)])  # (K, B, 2)
        ts, noises = [], []
        for tr, x in zip(self.trainers, x0):
            # As GaussianDiffusion.training_losses draws them in Trainer.train_step.
            gen = torch.Generator().manual_seed(_seed_for(tr.cfg.seed, 1, self.step))
            ts.append(torch.randint(0, self.diffusion.num_timesteps, (x.shape[0],), generator=gen))
            noises.append(torch.randn(x.shape, generator=gen, dtype=torch.float32))
        return self._losses(
            self.params, self.buffers, x0, labels, torch.stack(ts), torch.stack(noises)
        )

    def clip_gradients(self) -> torch.Tensor:
        """Per-run ``clip_grad_norm_``: run k's gradients scaled by min(1, c / (|g_k| + 1e-6)),
        |g_k| the 2-norm over all of run k's parameters. Returns the (K,) norms before."""
        grads = [p.grad for p in self.params.values() if p.grad is not None]
        norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads], dim=1).norm(dim=1)  # (K,)
        coef = (self.train_cfg.grad_clip / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.ndim - 1))))
        return norms

    def train_step(self, idx: torch.Tensor) -> list[float]:
        """One optimizer step of every run; ``idx`` (K, B) image indices. Returns K losses."""
        lr = lr_at(self.step, self.total_steps, self.train_cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        losses = self.losses(idx)  # (K,)
        bad = ~torch.isfinite(losses)
        if bad.any():
            k = int(bad.nonzero()[0, 0])
            raise TrainingDiverged(f"run {k}: loss became {losses[k].item()} at step {self.step}")
        self.optimizer.zero_grad(set_to_none=True)
        # Run k's parameters get only run k's loss gradient: the sum separates.
        losses.sum().backward()
        if self.train_cfg.grad_clip > 0:
            self.last_grad_norms = self.clip_gradients()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.step(list(self.params.values()))
        self.step += 1
        return losses.tolist()

    def state_dict_of(self, k: int) -> dict[str, torch.Tensor]:
        """Run k's model weights as a single model's ``state_dict()`` (persistent entries)."""
        stacked = {**self.params, **self.buffers}
        return {name: stacked[name][k].detach().clone() for name in self.base.state_dict()}


def _prepare_attention_for_vmap(model: torch.nn.Module) -> int:
    """Make diffusers' self-attention blocks of ``model`` work under ``vmap``; returns how many.

    Two problems, both measured with torch 2.13 and diffusers 0.42: (1) the default processor
    calls ``F.scaled_dot_product_attention``, which has no batching rule on the CPU (torch falls
    back to a slow loop over the K models, with a warning); diffusers' plain ``AttnProcessor``
    (``baddbmm`` + softmax) has them. (2) The block's output is a transposed view with
    channels-last strides, and the ``group_norm`` that follows asks for a channels-last
    contiguous copy, which vmap does not implement ("NYI: querying is_contiguous inside of vmap
    for memory_format other than torch.contiguous_format"); a forward hook returns the output
    as a plain contiguous tensor (same values)."""
    from diffusers.models.attention_processor import Attention, AttnProcessor

    blocks = [m for m in model.modules() if isinstance(m, Attention)]
    for block in blocks:
        block.set_processor(AttnProcessor())
        block.register_forward_hook(lambda _module, _inputs, out: out.contiguous())
    return len(blocks)


# ----------------------------------------------------------------------------- benchmark
def parse_case(text: str) -> tuple[int, int, list[int]]:
    try:
        n, b, ks = text.split(":")
        case = int(n), int(b), [int(k) for k in ks.split(",")]
    except ValueError:
        raise ValueError(
            f"case {text!r} is invalid; allowed: N:B:K1,K2,... e.g. 16:64:1,2,4,8"
        ) from None
    if case[0] < 4 or case[1] < 1 or not case[2] or min(case[2]) < 1:
        raise ValueError(f"case {text!r} is invalid; allowed: N >= 4, B >= 1, every K >= 1")
    return case


def make_trainers(preset: str, n: int, batch: int, count: int) -> list[Trainer]:
    """``count`` runs (seeds 0..count-1) of ``preset`` on N x N bumps at batch ``batch``."""
    trainers = []
    for seed in range(count):
        cfg = preset_config(preset)
        cfg.seed = seed
        cfg.data = replace(cfg.data, image_size=n)
        cfg.train = replace(cfg.train, batch_size=batch, num_threads=1, precision="fp32")
        trainers.append(Trainer(cfg, "/nonexistent-benchmark-run", progress=False))
    return trainers


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--preset", default="small", help="the run preset whose model is trained")
    p.add_argument("--case", action="append", default=None, help="N:B:K1,K2,... (repeatable)")
    p.add_argument("--threads", default="1", help="comma-separated torch thread counts")
    p.add_argument("--steps", type=int, default=2, help="timed steps per turn")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    cases = [parse_case(c) for c in (args.case or DEFAULT_CASES)]
    threads = [int(t) for t in args.threads.split(",")]
    cpu = cpu_description()
    print(
        f"CPU: {cpu}; {os.cpu_count()} logical cores; torch {torch.__version__}; preset "
        f"{args.preset} (fp32); load average before: {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    setups = {}
    for n, b, ks in cases:
        trainers = make_trainers(args.preset, n, b, max(ks))
        for k in ks:
            setups[(n, b, k)] = (trainers[:k], BatchedRuns(trainers[:k]))
    gen = torch.Generator().manual_seed(0)

    def indices(trainers, b):
        """(K, B) image indices: each run's own random batch."""
        return torch.stack(
            [
                torch.randperm(len(tr.images), generator=gen)[: min(b, len(tr.images))]
                for tr in trainers
            ]
        )

    times: dict[tuple, list[float]] = {}
    warm: set[tuple] = set()
    for _ in range(args.rounds):
        for n, b, ks in cases:
            for t in threads:
                torch.set_num_threads(t)
                for k in ks:
                    trainers, batched = setups[(n, b, k)]
                    for variant in ("sequential", "batched"):
                        key = (n, b, t, k, variant)
                        reps = args.steps + (0 if key in warm else 1)
                        for rep in range(reps):
                            idx = indices(trainers, b)
                            t0 = time.perf_counter()
                            if variant == "sequential":
                                for tr, i in zip(trainers, idx):
                                    tr.train_step(i)
                            else:
                                batched.train_step(idx)
                            dt = time.perf_counter() - t0
                            if key in warm or rep > 0:
                                times.setdefault(key, []).append(dt)
                        warm.add(key)
                    seq = statistics.median(times[(n, b, t, k, "sequential")])
                    bat = statistics.median(times[(n, b, t, k, "batched")])
                    print(
                        f"  N={n} B={b} threads={t} K={k}: sequential {seq * 1000:.0f} ms, "
                        f"batched {bat * 1000:.0f} ms per step of all K (so far)",
                        flush=True,
                    )
    print(f"\nCPU: {cpu}; load average after: {os.getloadavg()[0]:.2f}")
    print(
        f"{'N':>3} {'B':>3} {'thr':>3} {'K':>2} | {'seq img/s':>9} {'bat img/s':>9} | "
        f"{'seq ms/run':>10} {'bat ms/run':>10} | {'bat/seq':>7} | {'steps':>5}"
    )
    for n, b, ks in cases:
        for t in threads:
            for k in ks:
                seq = statistics.median(times[(n, b, t, k, "sequential")])
                bat = statistics.median(times[(n, b, t, k, "batched")])
                bsz = min(b, len(setups[(n, b, k)][0][0].images))
                print(
                    f"{n:>3} {bsz:>3} {t:>3} {k:>2} | {k * bsz / seq:>9.0f} {k * bsz / bat:>9.0f} | "
                    f"{seq / k * 1000:>10.1f} {bat / k * 1000:>10.1f} | {seq / bat:>6.2f}x | "
                    f"{len(times[(n, b, t, k, 'batched')]):>5}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
