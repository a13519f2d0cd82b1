"""Experiment 2's report: the setting line and the Markdown tables of ``report.md``.

:func:`describe_setting` names the training setting and the scaling of the geometry in one
line; :func:`report_sections` renders the summary's outcome rule, designs and per-run tables
(the skeleton's report puts them after the verdicts). Both read only the config or the
summary, so a finished folder's report renders again from its ``summary.json``.
"""

from __future__ import annotations

import math
from pathlib import Path

from factordiff.experiments.exp2.config import Exp2Config
from factordiff.experiments.exp2.designs import design_lines, design_setting, scaled
from factordiff.experiments.skeleton import precision_used


def cpu_description() -> str:
    """The CPU a report was made on: model name, cores, torch's instruction set."""
    import os
    import platform

    import torch

    name = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{name}, {os.cpu_count()} cores, torch CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}"
    )


def describe_setting(cfg: Exp2Config) -> str:
    """One line naming the training setting and the scaling of the geometry."""
    from factordiff.data import get_dataset_preset
    from factordiff.data.rescale import describe_scaling

    run = cfg.run
    ref = get_dataset_preset("sos-plus-hole+stripes")  # hole band and margin at N = 32
    plus = describe_scaling(ref, scaled("sos-plus-hole+stripes", cfg.image_size))
    return (
        f"every run {run.train.max_steps} optimizer steps (one step budget for all runs), "
        f"batch {run.train.batch_size}, UNet widths {list(run.model.block_out_channels)}, "
        f"{run.diffusion.prediction_type} prediction (T = {run.diffusion.num_train_timesteps}), "
        f"precision {precision_used(run)}; {plus}; square sizes stated in px at N = 32 and "
        f"scaled by {cfg.image_size}/32; "
        f"{design_setting(cfg.image_size, cfg.lesion_columns, cfg.rim_width)}; "
        f"{cfg.samples_per_section} generated images per section ({run.eval.sampler}, "
        f"{run.eval.num_steps} steps)"
    )


def _fmt(v) -> str:
    """A table cell: n/a for None, yes / no, floats to two decimals."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.2f}"
    return str(v)


def report_sections(summary: dict) -> list[str]:
    """Exp. 2's tables: outcomes and per-section accuracy per run, and the curves."""
    s = summary
    lines = [
        "",
        f"Machine: {s['cpu']}.",
        "",
        "## Outcome rule",
        "",
        s["outcome_rule"],
        "",
    ]
    if s.get("designs"):  # summaries written before the lesion and rim designs lack it
        lines += [*design_lines(s["designs"]), ""]
    main = [r for r in s["exp2_runs"] if r["params"]["part"] in ("main", "rim")]
    if main:
        lines += _main_tables(main)
    curves = [r for r in s["exp2_runs"] if r["params"]["part"] not in ("main", "rim")]
    if curves:
        lines += _curve_table(curves)
    return lines


def _main_tables(main: list[dict]) -> list[str]:
    """The main comparison and the rim ablation: accuracy per section, then the outcome,
    one row per run, label space (and section)."""
    lines = [
        "## Main comparison and rim ablation (per seed)",
        "",
        "| model | seed | space | section | n | x acc | y acc | joint | x seen | y seen |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in main:
        for space, sp in r["spaces"].items():
            for name, sec in sp["sections"].items():
                lines.append(
                    f"| {r['params']['model']} | {r['params']['seed']} | {space} | {name} "
                    f"| {sec['n']} | {_fmt(sec['x_accuracy'])} | {_fmt(sec['y_accuracy'])} "
                    f"| {_fmt(sec['accuracy'])} | {_fmt(sec['x_seen'])} "
                    f"| {_fmt(sec['y_seen'])} |"
                )
    lines += [
        "",
        "| model | seed | space | reference | composition | interpolation | composes "
        "| interpolates |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in main:
        for space, sp in r["spaces"].items():
            o = sp["outcome"]
            lines.append(
                f"| {r['params']['model']} | {r['params']['seed']} | {space} "
                f"| {_fmt(o['reference'])} | {_fmt(o['composition'])} "
                f"| {_fmt(o['interpolation'])} | {_fmt(o['composes'])} "
                f"| {_fmt(o['interpolates'])} |"
            )
    return lines


def _curve_table(curves: list[dict]) -> list[str]:
    """The curves' runs (subsampling, lesions, squares): one row each."""
    lines = [
        "",
        "## Subsampling, lesions, squares",
        "",
        "| part | setting | seed | held-out lattice labels | in-distribution joint "
        "| held-out joint | held-out x / y | outcome |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in curves:
        p = r["params"]
        setting = ", ".join(f"{k} {v}" for k, v in p.items() if k not in ("part", "seed"))
        sp = r["spaces"]["own"]
        ind = sp["sections"].get("in_distribution", {})
        ho = sp["sections"].get("held_out")
        hx = "n/a" if ho is None else f"{_fmt(ho['x_accuracy'])} / {_fmt(ho['y_accuracy'])}"
        lines.append(
            f"| {p['part']} | {setting} | {p['seed']} | {r['held_out_lattice_labels']} "
            f"| {_fmt(ind.get('accuracy'))} | {_fmt(None if ho is None else ho['accuracy'])} "
            f"| {hx} | {sp['outcome']['outcome']} |"
        )
    return lines
