"""The calibration of the percolation onset rules on the simulation (2026-12-06).

The sharp rule compares a trained 20%-80% span, measured on the run's share grid, with the
simulated one; a simulated curve read on that grid (as a model's accuracy would be) does not
give back its own width exactly. :func:`calibrate` measures by how much, for every simulated
shape of a preset (each sigma and overlap threshold) at its own place and moved through one
grid step; ``sharp_tolerance`` is set above the largest ratio found (docs/rules.md).

    python -m factordiff.experiments.percolation.onset_calibration [--json OUT]

prints it for the quick and paper percolation presets (about 2 minutes on one core, most of
it the N = 32 simulation). ``--set KEY=VALUE`` changes each preset as ``factordiff experiment
percolation --set`` does, to ask whether the rules hold for another design, e.g.

    python -m factordiff.experiments.percolation.onset_calibration --presets percolation-quick \
        --set image_size=8 --set "lambdas=[0.016,0.04,0.08,0.1,0.125,0.16,0.2,0.25,0.32,0.4,1.0]"
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from factordiff.experiments.percolation.onset_rules import (
    LEVELS,
    SimOnset,
    factor_two_coverage,
    first_reach,
    position,
    rise,
    simulated_onset,
)


def measured_on_grid(fine_lam, r, grid, shift: float = 0.0) -> tuple[float, float, float]:
    """The rise ``r`` of a fine curve, moved by ``shift`` in log lambda, sampled on ``grid``
    and read as an accuracy curve: its ``(l20, l50, l80)`` on the grid."""
    x = np.log(np.asarray(grid, np.float64)) - shift
    sampled = np.interp(x, np.log(np.asarray(fine_lam, np.float64)), r, left=0.0, right=1.0)
    return tuple(first_reach(grid, sampled, lev) for lev in LEVELS)


def grid_distortion(fine_lam, r, onset: SimOnset, grid, shifts) -> dict:
    """How the share grid distorts a curve of this simulated shape: over each ``shift`` (in
    log lambda) the width ratio ``ln(W_grid) / ln(W_sim)`` and the midpoint's
    :func:`position`, with the onset itself moved by the same shift."""
    ratios, pos = [], []
    for s in shifts:
        l20, l50, l80 = measured_on_grid(fine_lam, r, grid, s)
        moved = SimOnset(
            onset.sigma,
            onset.threshold,
            onset.floor,
            onset.floor_lambda,
            onset.l20 * math.exp(s),
            onset.l50 * math.exp(s),
            onset.l80 * math.exp(s),
        )
        if not (math.isfinite(l20) and math.isfinite(l80) and math.isfinite(l50)):
            continue  # the moved onset left the grid
        ratios.append(math.log(l80 / l20) / math.log(onset.width))
        pos.append(position(l50, moved))
    return {
        "placements": len(ratios),
        "width_ratio_min": min(ratios) if ratios else math.nan,
        "width_ratio_max": max(ratios) if ratios else math.nan,
        "position_max": max(pos) if pos else math.nan,
    }


def calibrate(
    image_size: int,
    sigmas,
    thresholds,
    grid,
    *,
    draws: int = 128,
    fine: int = 120,
    centre: float | None = None,
    phases: int = 24,
    seed: int = 0,
) -> list[dict]:
    """The simulated onsets at ``image_size`` (non-periodic, d = 1 px, rendered overlap;
    ``fine`` log-spaced shares from one kept site to 1, ``draws`` draws each) and the grid's
    distortion of each: at the onset's own place (``at_place``) and with its midpoint moved
    through one grid step around ``centre`` (``phases`` placements; ``centre`` None: the
    geometric middle of the grid's finest stretch)."""
    from factordiff.analysis.percolation_clusters import mass_ratio_curve
    from factordiff.analysis.percolation_model import lattice_graph

    grid = np.asarray(grid, np.float64)
    steps = np.diff(np.log(grid))
    step = float(steps.min())
    if centre is None:  # the middle of the longest run of the finest step
        fine_run = np.flatnonzero(steps <= step * 1.05)
        centre = float(np.exp(np.log(grid[fine_run]).mean()))
    k = image_size * image_size
    lams = np.unique(np.geomspace(1.0 / k, 1.0, fine))
    out = []
    for sigma in sigmas:
        for t in thresholds:
            g = lattice_graph(sigma, t, image_size=image_size)
            curve = mass_ratio_curve(g, lams, draws, seed=seed)
            onset = simulated_onset(lams, curve.kept_mean, sigma, t)
            r, _, _ = rise(lams, curve.kept_mean)
            row = {"N": image_size, "sigma": sigma, "threshold": t} | onset.to_dict()
            if onset.defined:
                here = grid_distortion(lams, r, onset, grid, [0.0])
                move = math.log(centre / onset.l50)
                sweep = grid_distortion(
                    lams, r, onset, grid, move + np.linspace(-step / 2, step / 2, phases)
                )
                row |= {"at_place": here, "moved": sweep}
            out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the calibration of the onset rules for the quick and paper percolation presets
    (``--set`` overrides applied to each; ``--json PATH`` also writes it)."""
    from factordiff.experiments.percolation.config import percolation_config

    p = argparse.ArgumentParser(
        prog="python -m factordiff.experiments.percolation.onset_calibration"
    )
    p.add_argument("--presets", default="percolation-quick,percolation")
    p.add_argument("--draws", type=int, default=128)
    p.add_argument("--json", default=None)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override of each preset, e.g. --set image_size=8 (as factordiff experiment)",
    )
    args = p.parse_args(argv)
    try:  # every preset resolved before any simulation: bad input costs nothing
        configs = [(n, percolation_config(n, overrides=args.set)) for n in args.presets.split(",")]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    everything = []
    worst = 0.0
    for name, cfg in configs:
        rows = calibrate(cfg.image_size, cfg.sigmas, cfg.thresholds, cfg.lambdas, draws=args.draws)
        print(f"{name}: N = {cfg.image_size}, shares {list(cfg.lambdas)}")
        print(
            f"  factor-2 windows in [0.08, 0.4] hold >= {factor_two_coverage(cfg.lambdas)} shares"
        )
        for r in rows:
            text = (
                f"  sigma {r['sigma']:g} t {r['threshold']:g}: floor {r['floor']:.3f} at "
                f"{r['floor_lambda']:.4f}; l20 {r['l20']:.4f} l50 {r['l50']:.4f} "
                f"l80 {r['l80']:.4f}, width {r['width']:.2f}"
            )
            if "at_place" in r:
                a, m = r["at_place"], r["moved"]
                text += (
                    f"; on the grid: width ratio {a['width_ratio_max']:.3f} at its place, "
                    f"{m['width_ratio_min']:.3f}-{m['width_ratio_max']:.3f} moved; "
                    f"position {a['position_max']:.3f} / {m['position_max']:.3f}"
                )
                worst = max(worst, a["width_ratio_max"], m["width_ratio_max"])
            print(text)
        everything.append(
            {
                "preset": name,
                "overrides": list(args.set),
                "lambdas": list(cfg.lambdas),
                "rows": rows,
            }
        )
    print(f"largest width ratio of a simulated curve measured on a grid: {worst:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=2, default=float)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
