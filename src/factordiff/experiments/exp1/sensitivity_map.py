"""Experiment 1's sensitivity map: every claim's rule on every layer, timestep, pooling and
noise count of the final checkpoint, judged against the untrained network and read against
the raw images (docs/exp1.md, "The sensitivity map"); its rules, summary, figures and
report section. A description of one network, not a verdict."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from factordiff.experiments.exp1.rules import PAPER_EFFECTIVE_DIMENSION, effective_dimension_rule
from factordiff.experiments.exp1.runs import run_label

if TYPE_CHECKING:
    from factordiff.experiments.exp1.config import Exp1Config


#: The claims the sensitivity map counts, each with the rule it is judged by in the map.
MAP_CLAIMS = {
    "b1_is_2": "torus topology: two long H1 bars",
    "orthogonal": "x and y factorized: x-loops orthogonal to y-loops",
    "superfactored": "superfactored: different values of one feature nearly orthogonal",
    "effective_dimension_about_7": f"effective dimension about {PAPER_EFFECTIVE_DIMENSION:g}",
    "not_aligned": "(the paper's reading, not one of the five claims) different values of a "
    "feature not aligned: x-on-x and y-on-y low",
    # maps made before the "not aligned" reading mapped the parallelism rule
    "parallel": "(not one of the five claims) x-loops parallel and y-loops parallel",
}


def sensitivity_map_of_run(
    cfg: Exp1Config, run_dir: Path, device: str, progress: bool = False
) -> dict:
    """The sensitivity map of a run's final checkpoint (``RUN/analysis/map/``): every down
    block, the mid block and every up block x ``map_ts`` x ``map_poolings`` x
    ``map_n_noises``, each claim's rule judged against epoch 0 setting by setting."""
    from factordiff.analysis.run import analyze_map

    return analyze_map(
        run_dir,
        checkpoints="last",
        layers="all",
        ts=list(cfg.map_ts),
        poolings=list(cfg.map_poolings),
        n_noises=list(cfg.map_n_noises),
        grid=cfg.map_grid or cfg.grid,
        rules=map_rules(cfg),
        topology=cfg.map_homology_step > 0,
        homology_step=max(1, cfg.map_homology_step),
        device=device,
        progress=progress,
    )


def map_rules(cfg: Exp1Config) -> list:
    """The rules of the map (the torus's ``b1_is_2`` is added by the map with homology)."""
    return [
        "orthogonal",
        "superfactored",
        effective_dimension_rule(cfg.effective_dimension_tolerance),
        "not_aligned",
    ]


def _ordered_rules(smap: dict) -> list[str]:
    """The map's rules in the order of :data:`MAP_CLAIMS`."""
    have = smap["checkpoints"][-1]["counts"]
    return [r for r in MAP_CLAIMS if r in have] + [r for r in have if r not in MAP_CLAIMS]


def map_figures(smap: dict, fig_dir: Path) -> list[str]:
    """One heatmap per claim of where it holds (plotting stays a leaf)."""
    from factordiff.plotting import plot_sensitivity_map, save_figure

    fig_dir.mkdir(parents=True, exist_ok=True)
    rows = smap["checkpoints"][-1]["rows"]
    written = []
    for rule in _ordered_rules(smap):
        name = f"map_{rule}.png"
        fig = plot_sensitivity_map(rows, rule, title=MAP_CLAIMS.get(rule, rule))
        save_figure(fig, fig_dir / name)
        written.append(name)
    return written


def map_summary(results: list[dict]) -> dict:
    """What summary.json keeps of the map: its settings, the counts per rule (first seed;
    every seed's in ``per_seed``), the table's path and the time it took."""
    first = results[0]["map"]
    last = first["checkpoints"][-1]
    several = len({r["run"].config.seed for r in results}) < len(results)
    mapped = [r for r in results if r.get("map") is not None]
    settings = {k: v for k, v in first["settings"].items() if k != "run_dir"}
    return {
        "settings": settings,
        "epoch": last["epoch"],
        "n_settings": len(last["rows"]),
        "rules": _ordered_rules(first),
        "claims": {r: MAP_CLAIMS.get(r, r) for r in _ordered_rules(first)},
        "counts": last["counts"],
        "per_seed": {
            run_label(r["run"].config, several): r["map"]["checkpoints"][-1]["counts"]
            for r in mapped
        },
        "seeds": sorted({r["run"].config.seed for r in mapped}),
        "of_seeds": sorted({r["run"].config.seed for r in results}),
        # the map read against both nulls (first run; every run's in ``raw_per_seed``)
        "raw": first.get("raw"),
        "raw_per_seed": {run_label(r["run"].config, several): r["map"].get("raw") for r in mapped},
        "table": [str(Path(r["map"]["out"]) / "map.csv") for r in mapped],
        "figures": {r: f"map_{r}.png" for r in _ordered_rules(first)},
        "seconds": first["seconds"],
    }


def map_section(m: dict, which: str, verdict_grid: int | None = None) -> list[str]:
    """The map's part of report.md; ``verdict_grid``: conditions per axis of the verdicts'
    analysis (the calibrated rule), to say when the map's homology is coarser."""
    st = m["settings"]
    homology = (
        f"persistent homology (H0, H1) on one condition in {st['homology_step']} per axis "
        f"({st['homology_points']} of the {st['grid'][0] * st['grid'][1]} conditions)"
        if st["topology"]
        else "no persistent homology (no torus count)"
    )
    per_axis = st["grid"][0] // max(1, st["homology_step"])
    if st["topology"] and per_axis < (verdict_grid or st["grid"][0]):
        homology += (
            ", a coarser grid than the calibrated rule of the verdicts: on the calibration "
            "clouds it reads both loops of the Clifford torus but neither of the ring torus "
            "nor of the bump images, and never a false b1 = 2, so the torus count is a lower "
            "bound (docs/exp1.md)"
        )
    lines = [
        "",
        f"## Sensitivity map of the final checkpoint (epoch {m['epoch']}){which}",
        "",
        f"{m['n_settings']} settings: layers {', '.join(f'`{x}`' for x in st['layers'])}; "
        f"t in {st['ts']}; pooling {', '.join(st['poolings'])}; noise draws averaged "
        f"{st['n_noises']}; {st['grid'][0]} x {st['grid'][1]} grid; {homology}. Each setting "
        "is judged by the claim's rule on the trained model and on the control (the "
        "untrained network of the same run, epoch 0); a claim *holds* in a setting when the "
        'trained model passes and the control does not. The "factorization emerges '
        f'gradually" claim needs every checkpoint and is not mapped. Time: '
        f"{m['seconds'] / 60:.1f} min.",
        "",
    ]
    if m.get("of_seeds") and m.get("seeds") != m["of_seeds"]:
        lines += [
            f"Mapped: seed{'s' if len(m['seeds']) > 1 else ''} "
            f"{', '.join(map(str, m['seeds']))} of the sweep's "
            f"{', '.join(map(str, m['of_seeds']))} (`map_seeds = {len(m['seeds'])}`; "
            "`--set map_seeds=0` maps every seed). The map is a description, not a verdict.",
            "",
        ]
    both = m.get("raw") is not None  # maps made before the second null have no such column
    if both:
        lines += [
            "Against the second null, the raw images of the same grid (one representation, "
            "the same in every setting): a claim holds against both nulls where it holds "
            "against the control and the trained model is strictly nearer the claim than the "
            "raw images (x-on-y, each value cosine, |D - 7| below theirs).",
            "",
        ]
    lines += [
        "| claim | rule | holds | trained passes | control passes | settings |"
        + (" holds against both nulls |" if both else ""),
        "|---|---|---|---|---|---|" + ("---|" if both else ""),
    ]
    for rule in m["rules"]:
        c = m["counts"][rule]
        lines.append(
            f"| {m['claims'][rule]} | {st['rules'][rule].replace('|', chr(92) + '|')} | "
            f"**{c['holds']}** | "
            f"{c['trained_passes']} | {c.get('control_passes', 'n/a')} | {c['settings']} |"
            + (f" {map_raw_columns(m, rule)} |" if both else "")
        )
    if len(m["per_seed"]) > 1:
        lines += _per_seed_lines(m, both)
    lines += ["", "Heatmaps: " + ", ".join(f"`figures/{f}`" for f in m["figures"].values())]
    return lines


def _per_seed_lines(m: dict, both: bool) -> list[str]:
    """The map section's table of the settings where each claim holds in each mapped seed
    (and, with the raw images, where it holds against both nulls)."""
    lines = ["", "Settings where each claim holds, per seed:", ""]
    lines += ["| claim | " + " | ".join(f"seed {k}" for k in m["per_seed"]) + " |"]
    lines += ["|---" * (len(m["per_seed"]) + 1) + "|"]
    for rule in m["rules"]:
        cells = " | ".join(str(c[rule]["holds"]) for c in m["per_seed"].values())
        lines.append(f"| {m['claims'][rule]} | {cells} |")
    if both and m.get("raw_per_seed"):
        for rule in m["rules"]:
            raws = [(r or {}).get(rule) or {} for r in m["raw_per_seed"].values()]
            if all(r.get("applies") for r in raws):
                cells = " | ".join(str(r["holds_both"]) for r in raws)
                lines.append(f"| {m['claims'][rule]}, against both nulls | {cells} |")
    return lines


def map_raw_columns(m: dict, rule: str) -> str:
    """The map table's cell "holds against both nulls" of ``rule`` (``n/a`` where the raw
    images do not apply, with why; empty for maps made before the second null)."""
    raw = (m.get("raw") or {}).get(rule)
    if raw is None:
        return "n/a"
    if not raw.get("applies"):
        return f"n/a ({raw.get('why')})"
    return f"**{raw['holds_both']}** (beyond the raw images in {raw['beyond_raw']})"
