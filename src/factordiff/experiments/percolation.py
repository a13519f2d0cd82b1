"""The percolation experiment of the paper: a sudden onset of learning (Figs. 6e, 14c, 15).

Models are trained, on one step budget, on 2D bump datasets that differ only in the bump
width sigma, each at several kept shares lambda of the lattice (``data.subsample``). Per run:
the terminal accuracy of 2D bumps at frame lattice sites, the final training loss (the last
logged value of ``metrics.jsonl``), a validation loss (the diffusion loss of the EMA model on
lattice sites held out of its training set, at fixed noise and timesteps) and, optionally, a
UMAP of the final representation. Beside them, the simulated largest-cluster mass ratio for
the same sigma and lattice (:mod:`factordiff.percolation`, thresholds 0.005 and 0.05).

Claims: the onset is sharp, comes earlier for wider bumps, and sits near the simulated
percolation threshold, each measured on every seed's own curves and judged from its interval
over seeds (:func:`verdicts_from_rows`). The rules are in :class:`PercolationExpConfig` and
docs/exp3.md.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from factordiff.config import RunConfig, json_ready
from factordiff.experiments.exp3 import (
    budget_check_lines,
    check_min_seeds,
    fmt_number,
    frame_lattice,
    label_mask,
    sample_rows,
    score_last_two,
    with_step_budget,
)
from factordiff.experiments.judgement import METHOD, REPRODUCED, Rule, judge
from factordiff.experiments.skeleton import (
    Experiment,
    ExperimentPreset,
    Verdict,
    check_seeds,
    check_shares,
    finish_config,
    precision_used,
)
from factordiff.experiments.sweep import SweepRun
from factordiff.presets import preset_config


# ----------------------------------------------------------------------------- config
@dataclass
class PercolationExpConfig:
    """The sweep (sigmas x lambdas x seeds) on one step budget, the measurements and the
    verdict rules. Values the paper does not state are OUR choices (docs/exp3.md)."""

    name: str = "percolation-quick"
    run: RunConfig = field(default_factory=lambda: _quick_run())
    image_size: int = 16
    # 0.75 px, not 0.5: at 0.5 px the small UNet needs more than 1,200 steps at N = 16
    # (measured; docs/exp3.md), over the quick budget
    sigmas: tuple[float, ...] = (0.75, 1.0, 1.5)
    lambdas: tuple[float, ...] = (0.02, 0.04, 0.08, 0.15, 0.3, 0.6, 1.0)
    seeds: tuple[int, ...] = ()  # () = the one run.seed
    max_steps: int = 800  # ONE step budget for every run
    eval_fraction: float = 0.75
    num_eval: int = 256  # lattice sites scored (and used for the validation loss)
    eval_sampler: str = "ddim"
    eval_steps: int = 25
    eval_seed: int = 4242
    val_repeats: int = 4  # fixed (noise, timestep) draws per held-out site
    umap: bool = True  # UMAP of the final representation per (sigma, lambda)
    thresholds: tuple[float, ...] = (0.005, 0.05)  # overlap thresholds of the simulation
    sim_draws: int = 32
    sim_lambdas: int = 60  # log-spaced shares of the simulated curves
    # Verdict rules (stated before the run, not tuned to the outcome).
    low: float = 0.2  # sharp: accuracy rises from below `low` ...
    high: float = 0.8  # ... to above `high` ...
    sharp_factor: float = 2.0  # ... within this factor of lambda
    near_factor: float = 2.0  # trained lambda_50 within this factor of a simulated critical one
    plateau_tolerance: float = 0.05  # budget check: accuracy rose at most this much at the end
    # Seeds a claim needs before its interval over seeds may decide it (fewer: inconclusive;
    # factordiff.experiments.judgement). 3 in every preset, the smoke one included.
    min_seeds: int = 3

    def validate(self) -> None:
        if self.image_size < 4:
            raise ValueError(f"image_size = {self.image_size} is invalid; allowed: >= 4")
        if (
            len(self.sigmas) < 2
            or list(self.sigmas) != sorted(set(self.sigmas))
            or self.sigmas[0] <= 0
        ):
            raise ValueError(
                f"sigmas = {list(self.sigmas)} is invalid; allowed: 2 or more strictly "
                "increasing widths > 0 (px)"
            )
        check_shares("lambdas", self.lambdas)
        check_seeds(self.seeds)
        if self.max_steps < 1:
            raise ValueError(f"max_steps = {self.max_steps} is invalid; allowed: >= 1")
        if not 0 < self.eval_fraction < 1:
            raise ValueError(f"eval_fraction = {self.eval_fraction} is invalid; allowed: (0, 1)")
        if self.num_eval < 4:
            raise ValueError(f"num_eval = {self.num_eval} is invalid; allowed: >= 4")
        if self.eval_sampler not in ("ddim", "ddpm", "dpm"):
            raise ValueError(
                f"eval_sampler = {self.eval_sampler!r} is invalid; allowed: ddim | ddpm | dpm"
            )
        for name in ("eval_steps", "val_repeats", "sim_draws"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)} is invalid; allowed: >= 1")
        if self.sim_lambdas < 3:
            raise ValueError(f"sim_lambdas = {self.sim_lambdas} is invalid; allowed: >= 3")
        if not self.thresholds or not all(0 <= t < 1 for t in self.thresholds):
            raise ValueError(
                f"thresholds = {list(self.thresholds)} is invalid; allowed: one or more in [0, 1)"
            )
        if not 0 < self.low < self.high < 1:
            raise ValueError(
                f"low, high = {self.low}, {self.high} are invalid; allowed: 0 < low < high < 1"
            )
        if self.plateau_tolerance <= 0:
            raise ValueError(
                f"plateau_tolerance = {self.plateau_tolerance} is invalid; allowed: > 0"
            )
        for name in ("sharp_factor", "near_factor"):
            if getattr(self, name) <= 1:
                raise ValueError(f"{name} = {getattr(self, name)} is invalid; allowed: > 1")
        if self.eval_seed < 0:
            raise ValueError(f"eval_seed = {self.eval_seed} is invalid; allowed: >= 0")
        check_min_seeds(self.min_seeds)
        for s in self.sigmas:  # each dataset must be valid at this size
            replace(self.run.data, image_size=self.image_size, sigma_x=s, sigma_y=s).validate()

    def seed_list(self) -> list[int]:
        return list(self.seeds) if self.seeds else [self.run.seed]


def _quick_run() -> RunConfig:
    run = preset_config("small")
    run.name = "percolation-quick"
    return run


PRESETS = {
    "percolation": ExperimentPreset(
        "percolation",
        "the percolation experiment at N = 32: four widths, nine shares, three seeds, the "
        "small UNet on a 3,000-step budget; meant for a GPU",
        "a sharp onset of accuracy, earlier for wider bumps, near the simulated threshold "
        "(the paper's claim; not run yet)",
        "small",
    ),
    "percolation-quick": ExperimentPreset(
        "percolation-quick",
        "reduced for a 2-core CPU: N = 16, sigma 0.75 / 1 / 1.5 px, seven shares, seeds 0, 1, "
        "2 (each claim needs 3), the small UNet in fp32 on an 800-step budget (docs/exp3.md)",
        "three seeds: not run yet (~2 h estimated on 2 AVX2 cores: 21 runs of one seed took "
        "42.3 min with sigma 0.5 in place of 0.75). Seeds 0 and 1 (docs/results/percolation; "
        "budget check passed) read, per seed: sharp onset failing in both, earlier for wider "
        "bumps holding in both, near the simulated threshold failing in both; judged by the "
        "per-seed intervals those two seeds are inconclusive (fewer than 3 seeds)",
        "small",
    ),
    "percolation-tiny": ExperimentPreset(
        "percolation-tiny",
        "a seconds-long smoke version for tests: tiny UNet, N = 8, two widths, two shares",
        "runs end to end; accuracy is not meaningful; one seed against a minimum of 3, so "
        "every claim reads inconclusive (or not judged)",
        "tiny",
    ),
}


def percolation_config(preset: str, seeds=None, overrides=None) -> PercolationExpConfig:
    """The resolved, validated config of a ``percolation`` preset."""

    if preset == "percolation":
        cfg = PercolationExpConfig(
            name="percolation",
            run=replace(preset_config("small"), name="percolation"),
            image_size=32,
            sigmas=(0.5, 0.75, 1.0, 1.5),
            lambdas=(0.01, 0.02, 0.04, 0.07, 0.12, 0.2, 0.35, 0.6, 1.0),
            seeds=(0, 1, 2),
            max_steps=3000,
            num_eval=512,
            sim_draws=64,
        )
    elif preset == "percolation-quick":
        cfg = PercolationExpConfig(seeds=(0, 1, 2))
    elif preset == "percolation-tiny":
        run = preset_config("tiny")
        run.name = "percolation-tiny"
        run.train = replace(run.train, batch_size=8)
        run.data = replace(run.data, dx=1.0, dy=1.0)
        cfg = PercolationExpConfig(
            name="percolation-tiny",
            run=run,
            image_size=8,
            sigmas=(0.5, 1.0),
            lambdas=(0.5, 1.0),
            max_steps=8,
            eval_fraction=0.5,
            num_eval=8,
            eval_steps=3,
            val_repeats=1,
            umap=False,
            sim_draws=4,
            sim_lambdas=8,
        )
    else:
        raise ValueError(f"unknown preset {preset!r}; valid presets: {sorted(PRESETS)}")
    return finish_config(cfg, seeds, overrides)


# ----------------------------------------------------------------------------- sweep
def sweep_runs(cfg: PercolationExpConfig) -> list[tuple[dict[str, Any], RunConfig]]:
    """One run per (sigma, lambda, seed): the run's bump data with only sigma and the share
    changed (frame ``image_size``, no margin, no hole)."""
    out = []
    for sigma in cfg.sigmas:
        for lam in cfg.lambdas:
            for seed in cfg.seed_list():
                data = replace(
                    cfg.run.data,
                    kind="bump",
                    image_size=cfg.image_size,
                    sigma_x=sigma,
                    sigma_y=sigma,
                    subsample=lam,
                )
                run = replace(cfg.run, seed=seed, data=data)
                run = with_step_budget(run, cfg.max_steps, cfg.eval_fraction)
                out.append(({"sigma": sigma, "lambda": lam, "seed": seed}, run))
    return out


def last_train_loss(run_dir: Path) -> float:
    """The last logged training loss of a run (mean over its last logging interval)."""
    from factordiff.training import read_metrics  # skips replays, names a bad line

    last = math.nan
    if (Path(run_dir) / "metrics.jsonl").is_file():
        for rec in read_metrics(run_dir):
            if "loss" in rec:
                last = float(rec["loss"])
    return last


def fixed_noise_loss(model, diffusion, images, labels, repeats: int, seed: int) -> float:
    """Mean diffusion loss of ``model`` on (images (M, 1, N, N), labels (M, 2)) over
    ``repeats`` fixed (timestep, noise) draws per image, drawn from ``seed``: the same
    noise and timesteps for every run scored on the same sites."""
    import torch

    if len(images) == 0:
        return math.nan
    gen = torch.Generator().manual_seed(seed)
    losses = []
    with torch.no_grad():
        for _ in range(repeats):
            losses.append(diffusion.training_losses(model, images, labels, gen).mean().item())
    return float(np.mean(losses))


def analyse_run(cfg: PercolationExpConfig, run: SweepRun, device: str) -> dict:
    """Accuracy at the last two checkpoints, final training and validation loss, the mass
    ratio of the run's own kept sites, and (optionally) the final representation."""
    import torch

    from factordiff.data import build_labels, render_images
    from factordiff.diffusion import GaussianDiffusion
    from factordiff.percolation import cluster_labels, kept_mask_from_labels, lattice_graph
    from factordiff.training import list_checkpoints, load_model, resolve_device

    rc = run.config
    sigma = rc.data.sigma_x
    ls = build_labels(rc.data, seed=rc.seed)
    sites_all = frame_lattice(cfg.image_size, rc.data)
    sites = sites_all[sample_rows(len(sites_all), cfg.num_eval, cfg.eval_seed)]
    trained = label_mask(sites, ls.labels)
    ckpts = list_checkpoints(run.dir)[-2:]
    last, prev = score_last_two(ckpts, sites, trained, rc.data, cfg, device, overall="accuracy")

    dev = resolve_device(device)
    model, _, _ = load_model(ckpts[-1], ema=True, map_location=dev)
    diffusion = GaussianDiffusion(rc.diffusion)

    def loss_on(labels: np.ndarray) -> float:
        imgs = render_images(labels, rc.data).to(dev)
        lab = torch.as_tensor(labels, dtype=torch.float32).to(dev)
        return fixed_noise_loss(model, diffusion, imgs, lab, cfg.val_repeats, cfg.eval_seed)

    held_sites = sites[~trained]
    train_sites = ls.labels[sample_rows(len(ls.labels), cfg.num_eval, cfg.eval_seed)]
    row: dict[str, Any] = {
        "sigma": sigma,
        "lambda": run.params["lambda"],
        "seed": rc.seed,
        "n_images": int(len(ls.labels)),
        "step": last["step"],
        "accuracy": last["accuracy"],
        "heldout": last["heldout"],
        "step_prev": prev["step"],
        "accuracy_prev": prev["accuracy"],
        "heldout_prev": prev["heldout"],
        "train_loss": last_train_loss(run.dir),
        "train_loss_fixed": loss_on(train_sites),
        "val_loss": loss_on(held_sites),
        "n_val": int(len(held_sites)),
    }
    for t in cfg.thresholds:  # the mass ratio of the very subset this model saw
        graph = lattice_graph(sigma, t, image_size=cfg.image_size, spacing=rc.data.dx)
        lab = cluster_labels(graph, kept_mask_from_labels(graph, ls.labels))
        kept = lab >= 0
        row[f"mass_ratio_t{t:g}"] = float((lab == 0).sum() / max(1, kept.sum()))
    out: dict[str, Any] = {"row": row}
    if cfg.umap:
        from factordiff.analysis.activations import extract_representation

        grid = frame_lattice(cfg.image_size, rc.data)
        rep = extract_representation(
            model, grid, t=rc.diffusion.num_train_timesteps - 1, pooling="flatten", seed=0
        )
        out["representation"] = (rep.X, grid)
    return out


# ----------------------------------------------------------------------------- simulation
def simulate_curves(cfg: PercolationExpConfig, spacing: float) -> dict:
    """``{(sigma, threshold): MassRatioCurve}`` on the experiment's lattice."""
    from factordiff.percolation import lattice_graph, mass_ratio_curve

    k = len(frame_lattice(cfg.image_size, cfg.run.data))
    lo = max(1.0 / k, 1e-3)  # below one kept site per lattice the curve is meaningless
    lams = np.unique(np.geomspace(lo, 1.0, cfg.sim_lambdas))
    out = {}
    for s in cfg.sigmas:
        for t in cfg.thresholds:
            g = lattice_graph(s, t, image_size=cfg.image_size, spacing=spacing)
            out[(s, t)] = mass_ratio_curve(g, lams, cfg.sim_draws, seed=0)
    return out


# ----------------------------------------------------------------------------- verdicts
def crossing(lambdas, accuracy, level: float) -> tuple[float, str]:
    """Where an accuracy-vs-lambda curve first reaches ``level`` (interpolated in log
    lambda, :func:`factordiff.scaling.size_at_threshold`): ``(lambda, status)``; for a curve
    that never reaches it ``(inf, 'never_reached')``, for one at or above it at the
    smallest lambda ``(that lambda, 'reached_at_smallest')`` (an upper bound)."""
    from factordiff.scaling import size_at_threshold

    r = size_at_threshold(lambdas, accuracy, level)
    if r.status == "interpolated":
        return r.size, r.status
    if r.status == "never_reached":
        return math.inf, r.status
    return r.bound, r.status


def mean_curves(
    rows: list[dict], key: str = "accuracy"
) -> dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{sigma: (lambdas (K,), mean over seeds (K,), (S, K) per seed)}``."""
    out = {}
    for s in sorted({r["sigma"] for r in rows}):
        sel = [r for r in rows if r["sigma"] == s]
        lams = sorted({r["lambda"] for r in sel})
        seeds = sorted({r["seed"] for r in sel})
        per = np.full((len(seeds), len(lams)), np.nan)
        for r in sel:
            per[seeds.index(r["seed"]), lams.index(r["lambda"])] = r[key]
        with warnings.catch_warnings():  # a share with no value (no held-out site) -> NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(per, axis=0)
        out[s] = (np.array(lams), mean, per)
    return out


def seed_curves(rows: list[dict], key: str = "accuracy") -> dict[int, dict[float, tuple]]:
    """``{seed: {sigma: (lambdas (K,), values (K,))}}``: each seed's own curves (runs
    without a finite value left out)."""
    out: dict[int, dict[float, tuple]] = {}
    for seed in sorted({r["seed"] for r in rows}):
        out[seed] = {}
        for s in sorted({r["sigma"] for r in rows if r["seed"] == seed}):
            pts = sorted(
                (r["lambda"], r[key])
                for r in rows
                if r["seed"] == seed and r["sigma"] == s and np.isfinite(r.get(key, math.nan))
            )
            out[seed][s] = (
                np.array([p[0] for p in pts], np.float64),
                np.array([p[1] for p in pts], np.float64),
            )
    return out


def crossing_span(lambdas, accuracy, level: float) -> tuple[float, float]:
    """Where a curve first reaches ``level`` as an interval ``(lo, hi)`` of lambda: the
    interpolated crossing ``(v, v)``; ``(0, smallest)`` for a curve at or above ``level`` at
    the smallest share; ``(largest, inf)`` for one that never reaches it."""
    v, status = crossing(lambdas, accuracy, level)
    if status == "interpolated":
        return v, v
    if status == "never_reached":
        return float(np.max(lambdas)), math.inf
    return 0.0, v


def _div(a: float, b: float) -> float:
    """``a / b`` for ``a, b >= 0`` with ``a / 0 = inf`` (bounds of positive quantities)."""
    return math.inf if b == 0 else a / b


def decided(lo: float, hi: float, threshold: float) -> float | None:
    """The value of a *below* statistic known only to lie in ``[lo, hi]`` (a crossing
    outside the share grid gives a bound): ``lo`` when it already lies at or above
    ``threshold`` (the seed fails however the bound resolves; ``lo`` is the value nearest the
    threshold that it can have), ``hi`` when it lies below (the seed holds), None (no value in
    this seed) when the interval straddles the threshold. Exact values (``lo == hi``) are
    returned as they are."""
    if lo >= threshold:
        return lo
    if hi < threshold:
        return hi
    return None


def curve_measures(
    curves: dict[float, tuple],
    cfg: PercolationExpConfig,
    critical: dict[tuple[float, float], float],
    below: dict[tuple[float, float], float],
) -> dict:
    """The three claims measured on one set of accuracy curves ``{sigma: (lambdas,
    accuracy)}`` (one seed's, or the mean over seeds).

    Per rule as fixed before the runs (``*_ok``): 20% -> 80% within ``sharp_factor`` of
    lambda for every sigma (a curve that does not cross both fails); lambda_50 strictly
    decreasing with sigma (never reaching 50% counts as infinite, above 50% at the smallest
    share as that share, two such bounds in a row fail); lambda_50 within ``near_factor`` of
    the simulated critical lambda at one of the thresholds, for every sigma (a bound never
    passes).

    The statistic of each claim (``statistics``, one number or None, judged over seeds with
    the side *below*): the largest ratio lambda_80 / lambda_20 over sigma; the largest ratio
    lambda_50(sigma) / lambda_50(next narrower sigma) over neighbouring widths (threshold 1);
    the largest over sigma of the smaller factor between lambda_50 and the simulated critical
    lambda. A crossing outside the share grid, or a critical lambda known only as a bound,
    makes the statistic an interval, reported by :func:`decided`."""
    sig = sorted(curves)
    lo, hi, l50 = {}, {}, {}
    span20, span80, span50 = {}, {}, {}
    for s in sig:
        lam, acc = curves[s]
        lo[s] = crossing(lam, acc, cfg.low)
        hi[s] = crossing(lam, acc, cfg.high)
        l50[s] = crossing(lam, acc, 0.5)
        span20[s] = crossing_span(lam, acc, cfg.low)
        span80[s] = crossing_span(lam, acc, cfg.high)
        span50[s] = crossing_span(lam, acc, 0.5)
    # 1. sharp onset, for every sigma
    ratios = {}
    for s in sig:
        (a, sa), (b, sb) = lo[s], hi[s]
        ratios[s] = b / a if sa == "interpolated" and sb == "interpolated" else math.nan
    sharp_ok = all(math.isfinite(r) and r <= cfg.sharp_factor for r in ratios.values())
    sharp = [(max(1.0, span80[s][0] / span20[s][1]), _div(span80[s][1], span20[s][0])) for s in sig]
    # 2. earlier for wider bumps: lambda_50 strictly decreasing with sigma
    vals = [l50[s][0] for s in sig]
    bounds = [l50[s][1] == "reached_at_smallest" for s in sig]
    earlier_ok = all(
        vals[i + 1] < vals[i] and not (bounds[i] and bounds[i + 1]) for i in range(len(sig) - 1)
    ) and all(math.isfinite(v) for v in vals[1:])
    earlier = [
        (span50[w][0] / span50[n][1], _div(span50[w][1], span50[n][0]))
        for n, w in zip(sig, sig[1:])
    ]
    # 3. near the simulated threshold, at either simulated threshold
    near: dict[float, float] = {}
    near_bound: dict[float, float] = {}  # sigma -> a lower bound of the factor
    near_spans = []
    for s in sig:
        v, st = l50[s]
        best, bound = math.inf, math.inf
        v_lo, v_hi = span50[s]
        f_lo, f_hi = math.inf, math.inf
        for t in cfg.thresholds:
            c = critical.get((s, t), math.nan)
            if st == "interpolated" and math.isfinite(c) and c > 0:
                best = min(best, max(v / c, c / v))
            elif st == "interpolated" and (s, t) in below and v > below[(s, t)]:
                bound = min(bound, v / below[(s, t)])  # lambda_c < below: factor > v / below
            if math.isfinite(c) and c > 0:
                c_lo, c_hi = c, c
            elif (s, t) in below:
                c_lo, c_hi = 0.0, below[(s, t)]
            else:  # no crossing of the simulated curve and no bound: anywhere
                c_lo, c_hi = 0.0, math.inf
            f_lo = min(f_lo, max(1.0, v_lo / c_hi, c_lo / v_hi))
            f_hi = min(f_hi, max(_div(v_hi, c_lo), _div(c_hi, v_lo)))
        near[s] = best
        if not math.isfinite(best) and math.isfinite(bound):
            near_bound[s] = bound
        near_spans.append((f_lo, f_hi))
    near_ok = all(f <= cfg.near_factor for f in near.values())

    def worst(spans, threshold):
        if not spans:
            return None
        return decided(max(a for a, _ in spans), max(b for _, b in spans), threshold)

    return {
        "ratios": ratios,
        "lambda_50": l50,
        "near": near,
        "near_bound": near_bound,
        "ok": [sharp_ok, earlier_ok, near_ok],
        "statistics": [
            worst(sharp, cfg.sharp_factor),
            worst(earlier, 1.0),
            worst(near_spans, cfg.near_factor),
        ],
    }


def _by_sigma(d: dict, inf: str | None = None) -> dict:
    """``{sigma: value}`` with readable keys; NaN -> None, +inf -> ``inf`` text."""
    return {
        f"{k:g}": round(v, 4) if math.isfinite(v) else (inf if v == math.inf else None)
        for k, v in d.items()
    }


def verdicts_from_rows(
    rows: list[dict],
    cfg: PercolationExpConfig,
    critical: dict[tuple[float, float], float],
    below: dict[tuple[float, float], float] | None = None,
) -> tuple[list[Verdict], dict]:
    """The three claims judged from the results rows (each carries its seed) and the
    simulated critical lambdas (``{(sigma, threshold): lambda_c}``, NaN where the simulated
    curve has no crossing); a pure function. ``below`` names, for a curve that is above one
    half at every simulated share, the smallest simulated share: its critical lambda lies
    below it, which bounds the "near" factor from below (shown as ``> x``).

    Each claim is measured on each seed's own curves (:func:`curve_measures`) and judged from
    the interval of its statistic over seeds (:func:`factordiff.experiments.judgement.judge`,
    at least ``cfg.min_seeds`` seeds with a value); the value is each seed's measures, the
    spread says in how many seeds the per-run rule held. Not judged when the step-budget
    check of the accuracy fails (:func:`factordiff.experiments.exp3.budget_gate`). The
    curves of the mean over seeds (the figures') give ``lambda_50`` of the summary."""
    from factordiff.experiments.exp3 import budget_gate, plateau_check

    below = below or {}
    mean = curve_measures(
        {s: (lam, m) for s, (lam, m, _) in mean_curves(rows).items()}, cfg, critical, below
    )
    per_seed = {
        seed: curve_measures(c, cfg, critical, below) for seed, c in seed_curves(rows).items()
    }
    seeds = sorted(per_seed)
    ms = [per_seed[seed] for seed in seeds]
    over = (
        f"; judged over seeds: reproduced when the {METHOD} lies below the threshold, not "
        f"reproduced when at or above it, else inconclusive (at least {cfg.min_seeds} seeds "
        "with a value); a crossing outside the share grid, or a critical lambda known only "
        "as a bound, gives a seed its bound where the bound decides that seed, else no value"
    )
    rules = [
        Rule(
            statistic=f"largest lambda_{cfg.high * 100:g} / lambda_{cfg.low * 100:g} over sigma "
            "(this seed's accuracy crossings, interpolated in log lambda)",
            side="below",
            threshold=float(cfg.sharp_factor),
            min_seeds=cfg.min_seeds,
        ),
        Rule(
            statistic="largest lambda_50(sigma) / lambda_50(next narrower sigma) over "
            "neighbouring widths (this seed)",
            side="below",
            threshold=1.0,
            min_seeds=cfg.min_seeds,
        ),
        Rule(
            statistic="largest over sigma of the factor between lambda_50 (this seed) and "
            f"the nearer simulated critical lambda (thresholds {list(cfg.thresholds)})",
            side="below",
            threshold=float(cfg.near_factor),
            min_seeds=cfg.min_seeds,
        ),
    ]
    claims = [
        (
            "the onset of accuracy is sharp",
            "a sharp onset of learning above a critical data density",
            f"per seed: the largest ratio lambda at {cfg.high:.0%} / lambda at {cfg.low:.0%} "
            "accuracy over sigma (that seed's curves, crossings interpolated in log lambda), "
            f"below {cfg.sharp_factor:g}",
            [_by_sigma(m["ratios"]) for m in ms],
            {"mean over seeds": _by_sigma(mean["ratios"])},
            None,
        ),
        (
            "the onset comes earlier for wider bumps",
            "the onset comes earlier for wider (more overlapping) bumps",
            "per seed: the largest ratio lambda_50(sigma) / lambda_50(next narrower sigma) "
            "over neighbouring widths, below 1 (lambda at 50% accuracy, interpolated, strictly "
            "decreasing with sigma)",
            [
                _by_sigma({s: v for s, (v, _) in m["lambda_50"].items()}, "never reached")
                for m in ms
            ],
            {
                "status": [{f"{s:g}": st for s, (_, st) in m["lambda_50"].items()} for m in ms],
                "mean over seeds": _by_sigma(
                    {s: v for s, (v, _) in mean["lambda_50"].items()}, "never reached"
                ),
            },
            None,
        ),
        (
            "the onset sits near the simulated percolation threshold",
            "the onset matches the percolation of the overlap graph",
            "per seed: the largest over sigma of the factor between lambda at 50% accuracy "
            f"and the simulated critical lambda at the nearer of the thresholds "
            f"{list(cfg.thresholds)}, below {cfg.near_factor:g} (control: the simulated "
            "critical lambdas; '> x' where the simulated overlap graph percolates at every "
            "simulated share, so that its critical lambda lies below the smallest one)",
            [
                _by_sigma(m["near"]) | {f"{s:g}": f"> {b:.3g}" for s, b in m["near_bound"].items()}
                for m in ms
            ],
            {
                "mean over seeds": _by_sigma(mean["near"])
                | {f"{s:g}": f"> {b:.3g}" for s, b in mean["near_bound"].items()}
            },
            {
                f"{s:g}, t={t:g}": (
                    round(c, 4)
                    if math.isfinite(c)
                    else (f"< {below[(s, t)]:.3g}" if (s, t) in below else None)
                )
                for (s, t), c in sorted(critical.items())
            },
        ),
    ]
    out = []
    for i, (claim, paper, rule, value, detail, control) in enumerate(claims):
        statistic = [m["statistics"][i] for m in ms]
        judgement = judge(rules[i], statistic, seeds)
        out.append(
            Verdict(
                claim=claim,
                paper=paper,
                rule=rule + over,
                value=value,
                reproduced=judgement.verdict == REPRODUCED,
                control=control,
                spread={"seeds": seeds, "reproduced_in": sum(m["ok"][i] for m in ms)},
                detail=detail,
                rules=[rules[i]],
                statistics=[statistic],
                judgements=[judgement.to_dict()],
            )
        )
    check = plateau_check(rows, "accuracy", cfg.plateau_tolerance)
    return budget_gate(out, check), {
        "lambda_50": {f"{s:g}": v for s, v in mean["lambda_50"].items()}
    }


# ----------------------------------------------------------------------------- figures
def plot_loss_vs_lambda(train: dict, val: dict):
    """Final training loss (left) and validation loss (right) against lambda (Fig. 14c).

    ``train[sigma]`` and ``val[sigma]`` are ``(lambdas (K,), loss mean (K,))``."""
    from matplotlib.figure import Figure

    from factordiff.plotting import _sigma_colors

    colors = _sigma_colors(list(train))
    fig = Figure(figsize=(8.6, 3.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, data, name in zip(axes, (train, val), ("final training loss", "validation loss")):
        for s, (lam, loss) in sorted(data.items()):
            ax.plot(lam, loss, "o-", color=colors[s], label=f"σ = {s:g} px")
        ax.set_xscale("log")
        ax.set_xlabel("kept share λ of the lattice")
        ax.set_ylabel(name)
        ax.legend(fontsize=7)
    return fig


def plot_umap_grid(embeddings: dict, labels: np.ndarray):
    """2D UMAP of the final representation per (sigma, lambda), coloured by mu_x (Fig. 15).

    ``embeddings[(sigma, lambda)]`` (n, 2); ``labels`` (n, 2) the conditions."""
    from matplotlib.figure import Figure

    sig = sorted({s for s, _ in embeddings})
    lam = sorted({x for _, x in embeddings})
    fig = Figure(figsize=(1.9 * len(lam), 1.9 * len(sig)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(sig), len(lam), squeeze=False))
    for i, s in enumerate(sig):
        for j, x in enumerate(lam):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if (s, x) in embeddings:
                e = embeddings[(s, x)]
                ax.scatter(e[:, 0], e[:, 1], c=labels[:, 0], cmap="viridis", s=3)
            ax.set_title(f"σ {s:g}, λ {x:g}", fontsize=7)
    return fig


# ----------------------------------------------------------------------------- experiment
class PercolationExperiment(Experiment):
    name = "percolation"
    title = "Percolation ({name}): a sudden onset of learning above a critical data share"
    presets = PRESETS

    def __init__(self) -> None:
        self._sim: dict = {}  # simulated curves, computed once per config

    def config(self, preset: str, seeds=None, overrides=None) -> PercolationExpConfig:
        return percolation_config(preset, seeds=seeds, overrides=overrides)

    def runs(self, cfg: PercolationExpConfig) -> list[tuple[dict, RunConfig]]:
        return sweep_runs(cfg)

    def analyse(self, cfg: PercolationExpConfig, run: SweepRun, device: str) -> dict:
        return analyse_run(cfg, run, device)

    def simulated(self, cfg: PercolationExpConfig) -> dict:
        key = json.dumps(json_ready({"cfg": repr(cfg)}))
        if key not in self._sim:
            self._sim = {key: simulate_curves(cfg, cfg.run.data.dx)}
        return self._sim[key]

    def critical(self, cfg: PercolationExpConfig) -> dict:
        return {k: float(c.critical_lambda) for k, c in self.simulated(cfg).items()}

    def critical_below(self, cfg: PercolationExpConfig) -> dict:
        """``{(sigma, threshold): smallest simulated share}`` of the curves at or above one
        half at every simulated share (their critical lambda lies below that share)."""
        return {
            k: float(c.lambdas[0])
            for k, c in self.simulated(cfg).items()
            if not math.isfinite(c.critical_lambda) and bool(np.all(c.kept_mean >= 0.5))
        }

    def verdicts(self, cfg: PercolationExpConfig, results: list[dict]) -> list[Verdict]:
        rows = [r["row"] for r in results]
        return verdicts_from_rows(rows, cfg, self.critical(cfg), self.critical_below(cfg))[0]

    def figures(self, cfg: PercolationExpConfig, results: list[dict], fig_dir: Path) -> list[str]:
        from factordiff.plotting import plot_mass_ratio, plot_percolation_vs_accuracy

        fig_dir.mkdir(parents=True, exist_ok=True)
        rows = [r["row"] for r in results]
        sim = self.simulated(cfg)
        acc = {s: (lam, per) for s, (lam, _, per) in mean_curves(rows).items()}
        written = []
        plot_percolation_vs_accuracy({}, acc, ylabel="terminal accuracy", log_lambda=True).savefig(
            fig_dir / "accuracy_vs_lambda.png", dpi=110
        )
        written.append("accuracy_vs_lambda.png")
        plot_mass_ratio(
            {k: (c.lambdas, c.kept_mean, c.kept_std) for k, c in sim.items()},
            {k: c.critical_lambda for k, c in sim.items()},
        ).savefig(fig_dir / "mass_ratio.png", dpi=110)
        written.append("mass_ratio.png")
        for t in cfg.thresholds:
            simt = {s: (c.lambdas, c.kept_mean) for (s, tt), c in sim.items() if tt == t}
            crit = {s: c.critical_lambda for (s, tt), c in sim.items() if tt == t}
            name = f"percolation_vs_accuracy_t{t:g}.png"
            plot_percolation_vs_accuracy(simt, acc, crit, log_lambda=True).savefig(
                fig_dir / name, dpi=110
            )
            written.append(name)
        loss = {k: mean_curves(rows, k) for k in ("train_loss", "val_loss")}
        plot_loss_vs_lambda(
            {s: (lam, m) for s, (lam, m, _) in loss["train_loss"].items()},
            {s: (lam, m) for s, (lam, m, _) in loss["val_loss"].items()},
        ).savefig(fig_dir / "loss_vs_lambda.png", dpi=110)
        written.append("loss_vs_lambda.png")
        reps = [
            r for r in results if "representation" in r and r["row"]["seed"] == min(cfg.seed_list())
        ]
        if reps:
            from factordiff.analysis.geometry import UMAPEmbedding

            emb = {}
            for r in reps:
                X, grid = r["representation"]
                emb[(r["row"]["sigma"], r["row"]["lambda"])] = (
                    UMAPEmbedding(n_components=2, n_neighbors=min(15, len(X) - 1), random_state=0)
                    .fit(X)
                    .embedding_
                )
            plot_umap_grid(emb, reps[0]["representation"][1]).savefig(fig_dir / "umap.png", dpi=110)
            written.append("umap.png")
        return written

    def describe_setting(self, cfg: PercolationExpConfig) -> str:
        r = cfg.run
        return (
            f"{cfg.max_steps} optimizer steps (step budget, every run), batch {r.train.batch_size}, "
            f"UNet widths {list(r.model.block_out_channels)}, {r.diffusion.prediction_type} "
            f"prediction, precision {precision_used(r)}; N = {cfg.image_size}, "
            f"d = {r.data.dx:g} px, sigma {list(cfg.sigmas)} px, lambda {list(cfg.lambdas)}; "
            f"accuracy of 2D bumps at up to {cfg.num_eval} frame lattice sites "
            f"({cfg.eval_sampler}, {cfg.eval_steps} steps); validation loss: EMA model's "
            f"diffusion loss on the held-out sites among them, {cfg.val_repeats} fixed "
            "(timestep, noise) draws each"
        )

    def summary_extra(self, cfg: PercolationExpConfig, results: list[dict]) -> dict:
        from factordiff.experiments.exp3 import plateau_check

        rows = [r["row"] for r in results]
        _, extra = verdicts_from_rows(rows, cfg, self.critical(cfg), self.critical_below(cfg))
        sim = self.simulated(cfg)
        return json_ready(
            {
                "budget_steps": cfg.max_steps,
                "budget_check": {
                    m: plateau_check(rows, m, cfg.plateau_tolerance)
                    for m in ("accuracy", "heldout")
                },
                "lambda_50": extra["lambda_50"],
                "simulated": [
                    {
                        "sigma": s,
                        "threshold": t,
                        "critical_lambda": c.critical_lambda,
                        "steepest_lambda": c.steepest_lambda,
                        "lambdas": c.lambdas.tolist(),
                        "mass_ratio": c.kept_mean.tolist(),
                    }
                    for (s, t), c in sorted(sim.items())
                ],
                "rows": rows,
            }
        )

    def report_sections(self, summary: dict) -> list[str]:
        return report_sections(summary)


def report_sections(summary: dict) -> list[str]:
    """The budget check, simulated critical shares, and one line per run."""
    lines = budget_check_lines(
        summary,
        f"Every run trains {summary['budget_steps']} optimizer steps; accuracy at the last two "
        "evaluations is in the run table. Rule of the check (ours): the largest rise between "
        "them is at most the tolerance.",
    )
    lines += ["", "## Simulated critical shares (this lattice)", ""]
    lines += ["| sigma (px) | threshold | critical lambda | steepest rise |", "|---|---|---|---|"]
    for s in summary["simulated"]:
        lines.append(
            f"| {s['sigma']:g} | {s['threshold']:g} | {fmt_number(s['critical_lambda'])} | {fmt_number(s['steepest_lambda'])} |"
        )
    lines += [
        "",
        "## Runs",
        "",
        "| sigma | lambda | seed | images | step | accuracy (prev) | held-out acc. | train loss | "
        "val. loss | mass ratio t=0.005 / 0.05 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(summary["rows"], key=lambda r: (r["sigma"], r["lambda"], r["seed"])):
        lines.append(
            f"| {r['sigma']:g} | {r['lambda']:g} | {r['seed']} | {r['n_images']} | {r['step']} "
            f"| {fmt_number(r['accuracy'])} ({fmt_number(r['accuracy_prev'])} at {r['step_prev']}) "
            f"| {fmt_number(r['heldout'])} | {fmt_number(r['train_loss'])} | {fmt_number(r['val_loss'])} "
            f"| {fmt_number(r.get('mass_ratio_t0.005'))} / {fmt_number(r.get('mass_ratio_t0.05'))} |"
        )
    return lines


PERCOLATION = PercolationExperiment()
