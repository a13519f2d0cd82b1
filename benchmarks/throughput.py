"""Training throughput of a preset, the share of the machine's peak it reaches, and memory.

    python benchmarks/throughput.py                       # small preset: fp32 vs bf16, channels-last
    python benchmarks/throughput.py --preset paper --steps 3

For each variant it times ``--steps`` training steps (after two warm-up steps) and prints the
median step time, images per second, the model's FLOPs per step (counted by
``torch.utils.flop_counter.FlopCounterMode`` on one step: forward and backward), the achieved
GFLOP/s and its share of the peak. The peak is measured in the same run as the best of a few
2048 x 2048 matrix products in fp32 and in bf16. Peak memory is the process's maximum resident
set size after all variants (``resource.getrusage``): an upper bound for one training run of
the preset, since the dataset, model and optimizer of every variant were alive in it.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from factordiff.config import apply_overrides
from factordiff.data import build_dataset
from factordiff.diffusion import GaussianDiffusion
from factordiff.hardware import cpu_description
from factordiff.model.unet import build_model, count_parameters
from factordiff.presets import preset_config


def matmul_peak_gflops(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def time_variant(cfg, bf16: bool, channels_last: bool, steps: int) -> dict:
    torch.manual_seed(0)
    ds = build_dataset(cfg.data, seed=0)
    model = build_model(cfg.model, cfg.data)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    diffusion = GaussianDiffusion(cfg.diffusion)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    bs = min(cfg.train.batch_size, len(ds.images))
    x0, labels = ds.images[:bs], ds.labels[:bs]
    if channels_last:
        x0 = x0.contiguous(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)

    def ctx():
        return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def step():
        with ctx():
            loss = diffusion.training_losses(model, x0, labels, gen).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {
        "batch": bs,
        "params": count_parameters(model),
        "step_s": med,
        "images_per_s": bs / med,
        "gflop_per_step": flops / 1e9,
        "gflops": flops / med / 1e9,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--preset", default="small")
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = apply_overrides(preset_config(args.preset), args.set)

    peak32 = matmul_peak_gflops(torch.float32)
    peak16 = matmul_peak_gflops(torch.bfloat16)
    print(
        f"preset {args.preset}, N = {cfg.data.image_size}, threads {torch.get_num_threads()}, torch {torch.__version__}, "
        f"CPU {cpu_description()}"
    )
    print(f"peak (2048^2 matmul): fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s")
    print(
        f"{'variant':<26} {'step ms':>8} {'images/s':>9} {'GFLOP/step':>11} {'GFLOP/s':>8} {'% of peak':>9}"
    )
    for bf16 in (False, True):
        for cl in (False, True):
            r = time_variant(cfg, bf16, cl, args.steps)
            peak = peak16 if bf16 else peak32
            name = f"{'bf16' if bf16 else 'fp32'}{' channels-last' if cl else ''}"
            print(
                f"{name:<26} {r['step_s'] * 1000:>8.0f} {r['images_per_s']:>9.0f} {r['gflop_per_step']:>11.2f} "
                f"{r['gflops']:>8.0f} {100 * r['gflops'] / peak:>8.0f}%",
                flush=True,
            )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak resident memory of this process: {rss_mb:.0f} MB (batch {r['batch']}, {r['params'] / 1e6:.2f} M parameters)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
