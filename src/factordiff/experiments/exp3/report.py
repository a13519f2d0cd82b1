"""Experiment 3's report: the setting line, the summary's own keys and the Markdown tables.

:func:`describe_setting` names the training setting in one line; :func:`summary_extra` adds
the budget check, the sizes at the threshold, the fits, the tables of
:mod:`~factordiff.experiments.exp3.tables` and the rows to ``summary.json``;
:func:`report_sections` renders them (the skeleton's report puts them after the verdicts)
from the summary alone, so a finished folder's report renders again from its files.
"""

from __future__ import annotations

from factordiff.config import json_ready
from factordiff.experiments.budgets import budget_check_lines, fmt_number, plateau_check
from factordiff.experiments.exp3.config import Exp3Config
from factordiff.experiments.exp3.tables import extra as tables
from factordiff.experiments.exp3.tables import report_lines
from factordiff.experiments.exp3.verdicts import verdicts_from_rows
from factordiff.experiments.skeleton import precision_used


def describe_setting(cfg: Exp3Config) -> str:
    """The training and evaluation setting of every run, in one line."""
    r = cfg.run
    return (
        f"{cfg.max_steps} optimizer steps (step budget, every run), batch {r.train.batch_size}, "
        f"UNet widths {list(r.model.block_out_channels)}, {r.diffusion.prediction_type} "
        f"prediction, precision {precision_used(r)}; N = {list(cfg.image_sizes)}, "
        f"shares {list(cfg.shares)} of the 2D bumps, "
        + (
            "(b)'s 1D stripes subsampled alike"
            if cfg.stripes_share is None
            else f"(b)'s 1D stripes kept at share {cfg.stripes_share:g}"
        )
        + f", sigma = {r.data.sigma_x:g} px, d = {r.data.dx:g} px; "
        f"accuracy of 2D bumps at up to {cfg.num_eval} frame lattice sites "
        + (
            f"(at least {cfg.num_eval} samples: sites repeated, fresh noise) "
            if cfg.repeat_sites
            else ""
        )
        + f"({cfg.eval_sampler}, {cfg.eval_steps} steps); size at {cfg.threshold:.0%} "
        f"{cfg.threshold_metric} accuracy, counting {cfg.size_measure} training images"
    )


def summary_extra(cfg: Exp3Config, results: list[dict]) -> dict:
    """The keys Experiment 3 adds to ``summary.json``: the budget check, the sizes at the
    threshold and their fits, the tables beside them and every run's row."""
    rows = [r["row"] for r in results]
    _, extra = verdicts_from_rows(rows, cfg)
    sizes = {
        k: {
            "image_sizes": v["image_sizes"],
            "seeds": v["seeds"],
            "size": v["size"].tolist(),
            "status": v["status"].tolist(),
            "bound": v["bound"].tolist(),
        }
        for k, v in extra["sizes"].items()
    }
    fits = {
        k: {"fit": None if v["fit"] is None else v["fit"].to_json(), "per_seed": v["per_seed"]}
        for k, v in extra["fits"].items()
    }
    return json_ready(
        {
            "budget_steps": cfg.max_steps,
            "budget_check": {
                m: plateau_check(rows, m, cfg.plateau_tolerance) for m in ("lattice", "heldout")
            },
            "threshold_sizes": sizes,
            "fits": fits,
            **tables(rows, cfg, extra["sizes"]),
            "rows": rows,
        }
    )


def report_sections(summary: dict) -> list[str]:
    """Exp. 3's tables: the budget check, sizes at the threshold, accuracy per run."""
    lines = budget_check_lines(
        summary,
        f"Every run trains {summary['budget_steps']} optimizer steps. Accuracy at the last two "
        "evaluations (the checkpoint nearest the earlier fraction of the budget, and the last) "
        "is in the table below. Rule of the check (ours): the largest rise between the two is "
        "at most the tolerance.",
    )
    lines += ["", "## Dataset size at the threshold", ""]
    lines.append("| dataset | N | size per seed | status per seed |")
    lines.append("|---|---|---|---|")
    for dataset, d in summary["threshold_sizes"].items():
        for j, n in enumerate(d["image_sizes"]):
            size = ", ".join(fmt_number(row[j]) for row in d["size"])
            status = ", ".join(
                f"{row[j]} ({fmt_number(b[j])})" if row[j] != "interpolated" else row[j]
                for row, b in zip(d["status"], d["bound"])
            )
            lines.append(f"| {dataset} | {n} | {size} | {status} |")
    lines += ["", "Fits (95% bootstrap CI over seeds and points):", ""]
    for dataset, f in summary["fits"].items():
        fit = f["fit"]
        if fit is None:
            lines.append(f"- {dataset}: no fit (fewer than two N reach the threshold)")
        else:
            lines.append(
                f"- {dataset}: exponent {fit['exponent']:.2f} [{fit['ci_low']:.2f}, "
                f"{fit['ci_high']:.2f}] from {fit['num_points']} N and {fit['num_seeds']} seed(s)"
            )
    lines += report_lines(summary)
    lines += [
        "",
        "## Runs",
        "",
        "| N | share | dataset | seed | images (2D bumps) | step | lattice acc. (prev) | held-out acc. (prev) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(summary["rows"], key=lambda r: (r["N"], r["dataset"], r["share"], r["seed"])):
        lines.append(
            f"| {r['N']} | {r['share']:g} | {r['dataset']} | {r['seed']} | {r['n_images']} "
            f"({r['n_bumps']}) | {r['step']} | {fmt_number(r['lattice'])} ({fmt_number(r['lattice_prev'])} at "
            f"{r['step_prev']}) | {fmt_number(r['heldout'])} ({fmt_number(r['heldout_prev'])}) |"
        )
    return lines
