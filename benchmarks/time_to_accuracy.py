"""Time until a model's joint accuracy first reaches a target, for factordiff's training and for
a plain diffusers loop, side by side in one process on the same machine.

    python benchmarks/time_to_accuracy.py                        # small preset vs the baseline
    python benchmarks/time_to_accuracy.py --skip-baseline --set train.precision=fp32
    python benchmarks/time_to_accuracy.py --image-size 16 --skip-baseline
    python benchmarks/time_to_accuracy.py --skip-baseline --set model.coord_frequencies=0 --eval-raw

Both trainings see the same data (the ``bump`` dataset: 32 x 32, sigma = 1, dx = dy = 1, 1,024
images unless changed), and both are scored the same way: every ``--eval-every`` steps the
current EMA weights sample the same ``--num-conditions`` fixed conditions with DDIM
(``--eval-steps`` steps) and ``factordiff.evaluation.score`` judges them. The clock counts
training steps only; evaluation time is reported beside it.

The baseline is a plain loop built from diffusers' ``UNet2DModel`` and ``DDPMScheduler`` with
the library's usual settings for small images: widths (16, 32, 64), two residual blocks per
level, attention at the two lower levels, epsilon prediction, linear schedule over 1,000
steps, AdamW at lr 1e-3, batch 128, fp32, EMA 0.999. It is conditioned through the same
sinusoidal label encoder as factordiff's model (``class_embed_type="identity"``), so the
comparison is about the training setup and network, not about how labels are fed in.

Prints one JSON line per evaluation and a final table.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time

import torch
from diffusers import DDPMScheduler, UNet2DModel
from diffusers.training_utils import EMAModel
from torch import nn

from factordiff.config import apply_overrides
from factordiff.data import build_dataset, eval_conditions
from factordiff.diffusion import GaussianDiffusion
from factordiff.evaluation import score
from factordiff.hardware import cpu_description
from factordiff.model.unet import LabelEncoder
from factordiff.presets import preset_config
from factordiff.training import Trainer


def evaluate(model, diffusion, labels, data_cfg, steps, bf16):
    ctx = (
        torch.autocast("cpu", dtype=torch.bfloat16)
        if bf16
        else torch.autocast("cpu", enabled=False)
    )
    with ctx:
        images = diffusion.sample(
            model,
            labels,
            sampler="ddim",
            num_steps=steps,
            seed=1234,
            image_size=data_cfg.image_size,
        )
    return score(images, labels, data_cfg).summary()


def run_factordiff(args, cfg, labels):
    trainer = Trainer(cfg, "/nonexistent-benchmark-run", progress=False)
    m = len(trainer.images)
    bs = min(cfg.train.batch_size, m)
    gen = torch.Generator().manual_seed(cfg.seed)
    t_train = t_eval = 0.0
    reached = None
    step = 0
    history = []

    def score_now(model):
        return evaluate(
            model, trainer.diffusion, labels, cfg.data, args.eval_steps, trainer.precision.bf16
        )

    while step < args.max_steps and t_train < args.max_minutes * 60:
        perm = torch.randperm(m, generator=gen)
        for i in range(trainer.steps_per_epoch):
            t0 = time.perf_counter()
            trainer.train_step(perm[i * bs : (i + 1) * bs])
            t_train += time.perf_counter() - t0
            step += 1
            if step % args.eval_every == 0:
                t0 = time.perf_counter()
                s = score_now(trainer.ema_model())
                t_eval += time.perf_counter() - t0
                rec = {
                    "setup": "factordiff",
                    "step": step,
                    "train_s": round(t_train, 1),
                    "accuracy": s["accuracy"],
                    "x_accuracy": s["x_accuracy"],
                    "y_accuracy": s["y_accuracy"],
                }
                if args.eval_raw:  # the raw (non-EMA) weights, to see what the EMA costs
                    t0 = time.perf_counter()
                    raw = score_now(trainer.model)
                    t_eval += time.perf_counter() - t0
                    rec["raw_accuracy"] = raw["accuracy"]
                print(json.dumps(rec), flush=True)
                history.append(rec)
                if reached is None and s["accuracy"] >= args.target:
                    reached = rec
                    if not args.continue_after:
                        return reached, step, t_train, t_eval, bs, history
            if step >= args.max_steps or t_train >= args.max_minutes * 60:
                break
    return reached, step, t_train, t_eval, bs, history


class BaselineDenoiser(nn.Module):
    """UNet2DModel + factordiff's label encoder, called as model(x_t, t, labels)."""

    def __init__(self, image_size: int):
        super().__init__()
        self.image_size = image_size
        self.unet = UNet2DModel(
            sample_size=image_size,
            in_channels=1,
            out_channels=1,
            block_out_channels=(16, 32, 64),
            down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
            norm_num_groups=8,
            class_embed_type="identity",
        )
        self.label_encoder = LabelEncoder(
            period=2.0 * image_size, offset=0.0, num_frequencies=16, emb_dim=64
        )

    def forward(self, x_t, t, labels):
        return self.unet(x_t, t, class_labels=self.label_encoder(labels)).sample


def run_baseline(args, data_cfg, labels):
    torch.manual_seed(0)
    ds = build_dataset(data_cfg, seed=0)
    x0, lab = ds.images, ds.labels
    model = BaselineDenoiser(data_cfg.image_size)
    sched = DDPMScheduler(num_train_timesteps=1000)
    diffusion = GaussianDiffusion(preset_config("small").diffusion)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ema = EMAModel(model.parameters(), decay=0.999)
    bs = min(128, len(x0))
    gen = torch.Generator().manual_seed(0)
    t_train = t_eval = 0.0
    step = 0
    reached = None
    history = []
    while step < args.max_steps and t_train < args.baseline_minutes * 60:
        perm = torch.randperm(len(x0), generator=gen)
        for i in range(max(1, len(x0) // bs)):
            t0 = time.perf_counter()
            idx = perm[i * bs : (i + 1) * bs]
            noise = torch.randn(x0[idx].shape, generator=gen)
            t = torch.randint(0, 1000, (len(idx),), generator=gen)
            pred = model(sched.add_noise(x0[idx], noise, t), t, lab[idx])
            loss = nn.functional.mse_loss(pred, noise)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ema.step(model.parameters())
            t_train += time.perf_counter() - t0
            step += 1
            if step % args.baseline_eval_every == 0:
                t0 = time.perf_counter()
                em = copy.deepcopy(model)
                ema.copy_to(em.parameters())
                s = evaluate(em.eval(), diffusion, labels, data_cfg, args.eval_steps, False)
                t_eval += time.perf_counter() - t0
                rec = {
                    "setup": "diffusers-baseline",
                    "step": step,
                    "train_s": round(t_train, 1),
                    "accuracy": s["accuracy"],
                    "loss": loss.item(),
                }
                print(json.dumps(rec), flush=True)
                history.append(rec)
                if s["accuracy"] >= args.target:
                    reached = rec
                    return reached, step, t_train, t_eval, bs, history
            if t_train >= args.baseline_minutes * 60:
                break
    return reached, step, t_train, t_eval, bs, history


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--preset", default="small")
    p.add_argument("--set", action="append", default=[], help="config override, e.g. train.lr=1e-3")
    p.add_argument("--image-size", type=int, default=None, help="N (default: the preset's)")
    p.add_argument("--target", type=float, default=0.9)
    p.add_argument("--num-conditions", type=int, default=256)
    p.add_argument("--eval-every", type=int, default=100, help="steps between evaluations")
    p.add_argument("--eval-steps", type=int, default=25, help="DDIM steps when evaluating")
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument(
        "--max-minutes", type=float, default=20.0, help="cap on factordiff's training time"
    )
    p.add_argument(
        "--eval-raw", action="store_true", help="also score the raw weights (not the target)"
    )
    p.add_argument("--continue-after", action="store_true", help="keep training after the target")
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument(
        "--baseline-minutes", type=float, default=30.0, help="cap on the baseline's training time"
    )
    p.add_argument("--baseline-eval-every", type=int, default=100)
    args = p.parse_args(argv)

    overrides = list(args.set)
    if args.image_size:
        overrides.append(f"data.image_size={args.image_size}")
    cfg = apply_overrides(preset_config(args.preset), overrides)
    labels = eval_conditions(cfg.data, args.num_conditions, seed=999)
    print(
        f"threads {torch.get_num_threads()}, torch {torch.__version__}, N={cfg.data.image_size}, "
        f"CPU {cpu_description()}",
        flush=True,
    )

    rows = []
    reached, steps, t_train, t_eval, bs, _ = run_factordiff(args, cfg, labels)
    rows.append(("factordiff " + args.preset, reached, steps, t_train, t_eval, bs))
    if not args.skip_baseline:
        reached_b, steps_b, t_train_b, t_eval_b, bs_b, _ = run_baseline(args, cfg.data, labels)
        rows.append(("diffusers baseline", reached_b, steps_b, t_train_b, t_eval_b, bs_b))

    print(
        f"\ntarget: joint accuracy >= {args.target:.0%} on {args.num_conditions} fixed conditions, N = {cfg.data.image_size}"
    )
    print(f"{'setup':<24} {'time to target':>15} {'steps':>7} {'images/s':>9} {'eval time':>10}")
    for name, reached, steps, t_train, t_eval, bs in rows:
        ttt = f"{reached['train_s']:.0f} s" if reached else f"> {t_train:.0f} s"
        st = reached["step"] if reached else steps
        print(
            f"{name:<24} {ttt:>15} {st:>7} {steps * bs / max(t_train, 1e-9):>9.0f} {t_eval:>8.0f} s"
        )
    if len(rows) == 2 and rows[0][1]:
        base = rows[1][1]["train_s"] if rows[1][1] else rows[1][3]
        sign = "" if rows[1][1] else ">= "
        print(f"speed-up in time to target: {sign}{base / rows[0][1]['train_s']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
