"""What the step-budget experiments share: Experiment 3 and the percolation experiment.

Both train every run of a sweep on ONE step budget and score the last two checkpoints at
lattice sites of the frame, so that a claim is judged only when accuracy has stopped rising
at the budget. The helpers (moved here from Experiment 3's module, which percolation used to
import them from):

- :func:`with_step_budget`: a run trained for exactly ``max_steps`` steps, keeping its last
  two checkpoints;
- the sites a run is scored at: :func:`frame_lattice`, :func:`sample_rows`,
  :func:`label_mask`;
- the accuracy of the last two checkpoints: :func:`checkpoint_accuracy`,
  :func:`score_last_two`;
- the step-budget check and the verdicts gated on it: :func:`plateau_check`,
  :func:`budget_gate` (:data:`BUDGET_GATE_RULE`);
- the report's pieces and small checks: :func:`fmt_number`, :func:`budget_check_lines`,
  :func:`stats`, :func:`check_min_seeds`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from factordiff.config import DataConfig, RunConfig
from factordiff.experiments.skeleton import Verdict


# ----------------------------------------------------------------------------- the budget
def with_step_budget(run: RunConfig, max_steps: int, eval_fraction: float) -> RunConfig:
    """``run`` trained for exactly ``max_steps`` optimizer steps, keeping two checkpoints:
    the last one and one at about ``eval_fraction`` of the budget (the "last two
    evaluations" that show whether accuracy still rises at the budget).

    Evaluation during training is switched off (the experiment scores the two checkpoints
    itself, on its own conditions). Checkpoints are epoch-based, so the earlier one sits at
    the end of epoch ``floor(eval_fraction * max_steps / steps_per_epoch)`` (at least 1);
    ``latest.pt`` is refreshed about every tenth of the budget."""
    from factordiff.data import build_labels
    from factordiff.training import training_budget

    train = replace(run.train, max_steps=max_steps, eval_every_epochs=0, checkpoint_epochs=())
    n = len(build_labels(run.data, seed=run.seed).labels)
    spe, epochs, _ = training_budget(train, n)
    mid = max(1, int(eval_fraction * max_steps / spe))
    keep = (mid,) if mid < epochs else ()
    train = replace(train, checkpoint_epochs=keep, save_every_epochs=max(1, epochs // 10))
    return replace(run, train=train)


def check_min_seeds(value) -> None:
    """``min_seeds``: an integer >= 1 (Experiment 3 and percolation)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"min_seeds = {value!r} is invalid; allowed: an integer >= 1")


# ----------------------------------------------------------------------------- the sites
def frame_lattice(n: int, data: DataConfig) -> np.ndarray:
    """The lattice sites inside the ``n x n`` frame: (K^2, 2) float64, ``mu_y`` outer."""
    from factordiff.data import lattice_labels

    return lattice_labels(
        replace(data, image_size=n, margin=0, mix_stripes=False, stripes_subsample=1.0)
    )


def sample_rows(count: int, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of ``min(count, limit)`` of ``range(count)``, drawn without
    replacement from ``seed`` (all of them when ``count <= limit``)."""
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))


def label_mask(sites: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(K,) bool: which of ``sites`` (K, 2) occur among ``labels`` (M, 2) (within 1e-4 px)."""
    have = {tuple(r) for r in np.round(np.asarray(labels) * 1e4).astype(np.int64)}
    return np.array([tuple(r) in have for r in np.round(sites * 1e4).astype(np.int64)], bool)


# ----------------------------------------------------------------------------- the scores
def checkpoint_accuracy(
    path: str | Path,
    labels: np.ndarray,
    data: DataConfig,
    *,
    sampler: str,
    num_steps: int,
    seed: int,
    device: str = "auto",
) -> tuple[dict, np.ndarray]:
    """Generate one image per condition from a checkpoint's EMA weights and score it.

    Args:
        path: a checkpoint (``RUN/checkpoints/epoch-*.pt``).
        labels: (M, 2) conditions ``(mu_x, mu_y)`` in px.
        data: the data config the images are judged with (scale, width, which labels are
            bumps).
        sampler, num_steps, seed: the sampler; ``seed`` fixes each condition's noise, so
            every run is scored on the same noise.

    Returns:
        ``(meta, joint_ok)``: the checkpoint's ``epoch`` and ``step``, and (M,) bool
        correctness of each image.
    """
    from factordiff.sampling import load_checkpoint, sample_images, score_images

    model, cfg, meta, dev = load_checkpoint(path, device)
    images = sample_images(
        model, cfg, labels, sampler=sampler, num_steps=num_steps, seed=seed, device=dev
    )
    ok = score_images(images, labels, data, cfg).joint_ok
    return {"epoch": meta["epoch"], "step": meta["step"]}, np.asarray(ok, bool)


def score_last_two(
    paths: list, sites: np.ndarray, trained: np.ndarray, data_cfg, cfg, device: str, overall: str
) -> tuple[dict, dict]:
    """Accuracy of the last two checkpoints ``paths`` at ``sites`` (M, 2): ``(last, prev)``,
    each ``{"step", overall: accuracy at every site, "heldout": at sites not in ``trained``
    (M,) bool, NaN when none}``; ``prev`` is all None / NaN when there is one checkpoint.
    ``cfg`` gives ``eval_sampler``, ``eval_steps`` and ``eval_seed``."""
    evals = []
    for path in paths:
        meta, ok = checkpoint_accuracy(
            path,
            sites,
            data_cfg,
            sampler=cfg.eval_sampler,
            num_steps=cfg.eval_steps,
            seed=cfg.eval_seed,
            device=device,
        )
        held = ok[~trained]
        evals.append(
            {
                "step": meta["step"],
                overall: float(ok.mean()),
                "heldout": float(held.mean()) if len(held) else math.nan,
            }
        )
    none = {"step": None, overall: math.nan, "heldout": math.nan}
    return evals[-1], (evals[-2] if len(evals) > 1 else none)


def stats(values) -> dict:
    """Mean, std (n - 1), min, max of the finite values (NaN when there are none)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return {
        "mean": float(v.mean()),
        "std": std,
        "min": float(v.min()),
        "max": float(v.max()),
        "n": len(v),
    }


# ----------------------------------------------------------------------------- the check
def plateau_check(rows: list[dict], key: str, tolerance: float) -> dict:
    """Did accuracy stop rising at the budget? Over runs with two evaluations, the largest
    rise of ``key`` from the earlier to the last checkpoint; ``ok`` when it is at most
    ``tolerance``."""
    rises = [
        r[f"{key}"] - r[f"{key}_prev"]
        for r in rows
        if r.get(f"{key}_prev") is not None
        and np.isfinite(r.get(f"{key}_prev", math.nan))
        and np.isfinite(r.get(key, math.nan))
    ]
    worst = max(rises) if rises else math.nan
    return {
        "metric": key,
        "runs_with_two_evaluations": len(rises),
        "largest_rise": worst,
        "tolerance": tolerance,
        "ok": bool(rises) and worst <= tolerance,
    }


BUDGET_GATE_RULE = (
    "; judged only when the step-budget check passes (accuracy stopped rising at the budget)"
)


def budget_gate(verdicts: list[Verdict], check: dict) -> list[Verdict]:
    """The verdicts, each marked not judged when the step-budget check ``check`` (a
    :func:`plateau_check`) failed: a model still learning at the budget says nothing about
    the data it needs. The gate was added after the first exp3-quick run (docs/exp3.md)."""
    out = []
    for v in verdicts:
        v = replace(v, rule=v.rule + BUDGET_GATE_RULE)
        if not check["ok"]:
            rise = check["largest_rise"]
            m = check["metric"]
            what = m if m == "accuracy" else f"{m} accuracy"
            why = (
                f"the step-budget check failed: the {what} of a run rose "
                f"by up to {rise:.3g} between its last two checkpoints (tolerance "
                f"{check['tolerance']:g})"
                if check["runs_with_two_evaluations"]
                else "the step-budget check could not be made (no run has two evaluations)"
            )
            v = replace(v, reproduced=False, not_judged=why)
        out.append(v)
    return out


# ----------------------------------------------------------------------------- the report
def fmt_number(v) -> str:
    """A number for a report table: 3 significant digits, "n/a" when missing or not finite."""
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3g}"


def budget_check_lines(summary: dict, intro: str) -> list[str]:
    """The report's "Step budget" section: ``intro``, then the plateau check per metric."""
    lines = ["", "## Step budget", "", intro, ""]
    for m, c in summary["budget_check"].items():
        lines.append(
            f"- {m}: largest rise {fmt_number(c['largest_rise'])} over {c['runs_with_two_evaluations']} "
            f"runs (tolerance {c['tolerance']:g}): {'accuracy stopped rising' if c['ok'] else '**still rising or not measured**'}"
        )
    return lines
