"""The percolation experiment's report: the setting line, the summary's own keys and the
Markdown tables.

:func:`describe_setting` names the training setting in one line; :func:`summary_extra` adds
the budget check, the trained lambda_50, the simulated curves with their onsets and the rows
to ``summary.json``; :func:`report_sections` renders them (the skeleton's report puts them
after the verdicts) from the summary alone, so a finished folder's report renders again
from its files.
"""

from __future__ import annotations

from factordiff.config import json_ready
from factordiff.experiments.budgets import budget_check_lines, fmt_number, plateau_check
from factordiff.experiments.percolation.config import PercolationExpConfig
from factordiff.experiments.percolation.onset_rules import SimOnset
from factordiff.experiments.percolation.verdicts import verdicts_from_rows
from factordiff.experiments.skeleton import precision_used


def describe_setting(cfg: PercolationExpConfig) -> str:
    """The training and evaluation setting of every run, in one line."""
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


def summary_extra(
    cfg: PercolationExpConfig,
    results: list[dict],
    onsets: dict[tuple[float, float], SimOnset],
    sim: dict,
) -> dict:
    """The keys the percolation experiment adds to ``summary.json``: the budget check, the
    lambda_50 of the mean curves, the simulated curves ``sim`` with their ``onsets`` and
    every run's row."""
    rows = [r["row"] for r in results]
    _, extra = verdicts_from_rows(rows, cfg, onsets)
    return json_ready(
        {
            "budget_steps": cfg.max_steps,
            "budget_check": {
                m: plateau_check(rows, m, cfg.plateau_tolerance) for m in ("accuracy", "heldout")
            },
            "lambda_50": extra["lambda_50"],
            "simulated": [
                {
                    "sigma": s,
                    "threshold": t,
                    "critical_lambda": c.critical_lambda,
                    "steepest_lambda": c.steepest_lambda,
                    "onset": onsets[(s, t)].to_dict(),
                    "lambdas": c.lambdas.tolist(),
                    "mass_ratio": c.kept_mean.tolist(),
                }
                for (s, t), c in sorted(sim.items())
            ],
            "rows": rows,
        }
    )


def report_sections(summary: dict) -> list[str]:
    """The budget check, simulated critical shares, and one line per run."""
    lines = budget_check_lines(
        summary,
        f"Every run trains {summary['budget_steps']} optimizer steps; accuracy at the last two "
        "evaluations is in the run table. Rule of the check (ours): the largest rise between "
        "them is at most the tolerance.",
    )
    lines += ["", "## Simulated critical shares (this lattice)", ""]
    lines += [
        "The onset the sharp and near rules compare with (since 2026-12-06): where the mean "
        "mass ratio's rise from its floor reaches 20%, 50% and 80%; the critical lambda is "
        "its last upward crossing of 0.5 (docs/percolation.md).",
        "",
        "| sigma (px) | threshold | critical lambda | steepest rise | floor (at lambda) "
        "| onset l20 / l50 / l80 | width l80 / l20 |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary["simulated"]:
        o = s.get("onset") or {}  # summaries written before 2026-12-06 have none
        onset = (
            f"{fmt_number(o['floor'])} ({fmt_number(o['floor_lambda'])}) | "
            f"{fmt_number(o['l20'])} / {fmt_number(o['l50'])} / {fmt_number(o['l80'])} | "
            f"{fmt_number(o['width'])}"
            if o
            else "n/a | n/a | n/a"
        )
        lines.append(
            f"| {s['sigma']:g} | {s['threshold']:g} | {fmt_number(s['critical_lambda'])} | "
            f"{fmt_number(s['steepest_lambda'])} | {onset} |"
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
