"""Experiment 1's report: the line naming the training setting, and the Markdown tables of
``report.md`` (the terminal checkpoint beside the ideal tori, the checkpoints over training,
the "not aligned" reading, the runs under each thread count and the sensitivity map), all
from ``summary.json`` content, so a committed summary renders its report again.
"""

from __future__ import annotations

from factordiff.config import RunConfig
from factordiff.experiments.exp1.config import TITLE
from factordiff.experiments.exp1.readings import not_aligned_section, runs_section
from factordiff.experiments.exp1.sensitivity_map import map_section


def describe_setting(run_cfg: RunConfig, precision: str | None = None) -> str:
    """One line naming the training setting that produced a report's verdicts.

    ``precision``: the precision the run computed in (``bf16`` or ``fp32``, as resolved on the
    machine that ran it); default: the config's ``train.precision``."""
    tc = run_cfg.train
    prec = precision or tc.precision
    prec_text = {"bf16": "bf16 on", "fp32": "bf16 off"}.get(prec, f"precision {prec}")
    budget = (
        f"{tc.max_steps} optimizer steps (step budget)"
        if tc.max_steps > 0
        else f"{tc.epochs} epochs"
    )
    return (
        f"{run_cfg.diffusion.prediction_type} prediction, {run_cfg.diffusion.beta_schedule} schedule "
        f"(T = {run_cfg.diffusion.num_train_timesteps}), loss weighting {run_cfg.diffusion.loss_weighting}, "
        f"UNet widths {list(run_cfg.model.block_out_channels)}, coordinate frequencies "
        f"{run_cfg.model.coord_frequencies}, scale-shift conditioning "
        f"{'on' if run_cfg.model.scale_shift else 'off'}, {budget} of "
        f"{run_cfg.data.image_size} x {run_cfg.data.image_size} periodic bumps (sigma = {run_cfg.data.sigma_x:g}, "
        f"dx = {run_cfg.data.dx:g}), {prec_text}"
    )


def report_sections(summary: dict) -> list[str]:
    """Exp. 1's tables: the terminal checkpoint beside the ideal tori, and over training."""
    s = summary
    which = f" (seed {s['figures_seed']})" if len(s.get("seeds", [])) > 1 else ""
    lines = [
        "",
        f"## Terminal checkpoint beside the ideal tori{which}",
        "",
        "| | effective dimension | PCs for 90% | top-4 share | Betti | x-on-y | x-on-x | y-on-y | value cos x / y |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    control = [("control: epoch 0 (untrained)", s["control"])] if s.get("control") else []
    if s.get("raw_images"):
        control.append(("null: raw images", s["raw_images"]))
    for name, r in [("model", s["final"])] + control + list(s["references"].items()):
        f = r["factorization"]
        betti = (r.get("topology") or {}).get("betti")
        lines.append(
            f"| {name} | {r['effective_dimension']:.2f} | {r['n_components_90']} | {r['top4_share']:.2f} "
            f"| {betti} | {f['orthogonality_xy']:.3f} | {f['parallelism_xx']:.3f} | {f['parallelism_yy']:.3f} "
            f"| {f['value_cosine_x']:.2f} / {f['value_cosine_y']:.2f} |"
        )
    lines += [
        "",
        f"## Over training{which}",
        "",
        "| epoch | accuracy | effective dimension | top-4 share | x-on-y similarity | Betti |",
        "|---|---|---|---|---|---|",
    ]
    for c in s["checkpoints"]:
        acc = "n/a" if c["accuracy"] is None else f"{c['accuracy']:.3f}"
        sm = c["summary"]
        betti = (sm.get("topology") or {}).get("betti")
        lines.append(
            f"| {c['epoch']} | {acc} | {sm['effective_dimension']:.2f} | {sm['top4_share']:.2f} "
            f"| {sm['factorization']['orthogonality_xy']:.3f} | {betti} |"
        )
    if s.get("not_aligned"):
        lines += not_aligned_section(s["not_aligned"])
    if s.get("thread_runs"):
        lines += runs_section(s["thread_runs"])
    if s.get("sensitivity_map"):
        verdict_grid = ((s.get("analysis") or {}).get("grid") or [None])[0]
        lines += map_section(s["sensitivity_map"], which, verdict_grid)
    return lines


def render_report(summary: dict) -> str:
    """``report.md`` text from ``summary.json`` content (also a committed one)."""
    from factordiff.experiments.report import render_report as render

    if "title" not in summary:  # a summary written before the skeleton
        summary = {**summary, "title": TITLE.format(name=summary["experiment"])}
    return render(summary, report_sections(summary))
