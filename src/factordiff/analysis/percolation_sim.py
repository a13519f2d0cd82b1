"""The simulated percolation study: mass-ratio curves over widths and thresholds, its figures.

:class:`PercolationConfig` names the widths ``sigma``, overlap thresholds and kept shares
``lambda`` to simulate; :func:`simulate` builds one overlap graph per (sigma, threshold)
(:mod:`~factordiff.analysis.percolation_model`) and averages its largest-cluster mass ratio
over random draws (:mod:`~factordiff.analysis.percolation_clusters`), and
:func:`simulate_and_plot` writes ``percolation.json`` and the figures.

Run ``python -m factordiff.analysis.percolation_sim --out docs/results/percolation-sim`` to
regenerate the committed simulation (figures and ``percolation.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from factordiff.analysis.percolation_clusters import (
    MassRatioCurve,
    cluster_labels,
    mass_ratio_curve,
    sample_kept,
)
from factordiff.analysis.percolation_model import (
    OverlapTable,
    _check_int,
    _check_measure,
    _check_positive,
    lattice_graph,
    overlap_table,
)
from factordiff.config import json_ready


# ----------------------------------------------------------------------------- the study
def _default_lambdas() -> tuple[float, ...]:
    # Fine steps where the wide bumps percolate (a few tens of kept sites), coarser above.
    parts = (
        np.arange(1, 21) * 0.0025,  # 0.0025 .. 0.05
        np.arange(11, 41) * 0.005,  # 0.055 .. 0.2
        np.arange(11, 51) * 0.02,  # 0.22 .. 1.0
    )
    return tuple(float(round(x, 4)) for x in np.concatenate(parts))


@dataclass
class PercolationConfig:
    """The simulated study. Defaults are OUR choices, made to match our Experiment 3 and
    percolation datasets (N = 32, d = 1 px, non-periodic bumps); the paper's thresholds are
    0.005 and 0.05."""

    image_size: int = 32  # N: the frame, and K = N / spacing sites per axis
    spacing: float = 1.0  # d, px
    sigmas: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5)  # px
    thresholds: tuple[float, ...] = (0.005, 0.05)
    lambdas: tuple[float, ...] = field(default_factory=_default_lambdas)
    num_draws: int = 100
    periodic: bool = False
    measure: str = "rendered"
    seed: int = 0
    # overlap-vs-d figure: spacings (px) at which the overlap of two neighbours is shown
    overlap_spacings: tuple[float, ...] = tuple(
        float(x) for x in np.round(np.arange(0, 61) * 0.1, 2)
    )

    def validate(self) -> None:
        _check_int(self.image_size, "image_size", 4)
        _check_positive(self.spacing, "spacing")
        if self.spacing > self.image_size / 2:
            raise ValueError(
                f"spacing = {self.spacing} is invalid; allowed: (0, {self.image_size / 2}] px "
                "(at least 2 sites per axis)"
            )
        if not self.sigmas:
            raise ValueError("sigmas = () is invalid; allowed: one or more widths > 0 px")
        for s in self.sigmas:
            _check_positive(s, "sigmas[i]")
        if not self.thresholds:
            raise ValueError("thresholds = () is invalid; allowed: one or more numbers in [0, 1)")
        for t in self.thresholds:
            if not 0.0 <= t < 1.0:
                raise ValueError(f"thresholds contains {t!r}; allowed: numbers in [0, 1)")
        lam = np.asarray(self.lambdas, np.float64)
        if len(lam) < 3 or np.any(np.diff(lam) <= 0) or lam[0] <= 0 or lam[-1] > 1:
            raise ValueError(
                f"lambdas = {self.lambdas} is invalid; allowed: >= 3 strictly increasing "
                "shares in (0, 1]"
            )
        _check_int(self.num_draws, "num_draws", 1)
        _check_measure(self.measure)
        _check_int(self.seed, "seed", 0)
        if any(s < 0 for s in self.overlap_spacings) or len(self.overlap_spacings) < 2:
            raise ValueError(
                f"overlap_spacings = {self.overlap_spacings} is invalid; allowed: >= 2 "
                "spacings >= 0 px"
            )


@dataclass
class PercolationResult:
    """Everything the simulated study measured.

    Attributes:
        config: the config it ran.
        overlaps: neighbour overlap against spacing.
        curves: ``{(sigma, threshold): MassRatioCurve}``.
        neighbours: ``{(sigma, threshold): linked sites of a site at the lattice centre}``.
    """

    config: PercolationConfig
    overlaps: OverlapTable
    curves: dict[tuple[float, float], MassRatioCurve]
    neighbours: dict[tuple[float, float], int]

    def critical_table(self) -> list[dict]:
        """One row per (sigma, threshold): critical and steepest lambda, neighbours."""
        return [
            {
                "sigma": s,
                "threshold": t,
                "neighbours": self.neighbours[(s, t)],
                "critical_lambda": c.critical_lambda,
                "steepest_lambda": c.steepest_lambda,
            }
            for (s, t), c in self.curves.items()
        ]

    def to_json(self) -> dict:
        """A JSON-ready dict (NaN -> null)."""
        cfg = self.config
        return json_ready(
            {
                "config": asdict(cfg),
                "definitions": {
                    "overlap": "normalised inner product <a,b>/(|a||b|) of raw bump images; "
                    f"measure = {cfg.measure!r}",
                    "mass_ratio": "largest cluster size / kept sites (plotted); "
                    "largest_over_sites = largest cluster size / lattice sites",
                    "critical_lambda": "last upward crossing of 0.5 by the mean "
                    "largest/kept, linear interpolation",
                    "steepest_lambda": "argmax slope of the 5-point moving average of the mean "
                    "largest/kept",
                },
                "lattice_sites": int(round(cfg.image_size / cfg.spacing)) ** 2,
                "overlap_vs_spacing": {
                    "spacings": self.overlaps.spacings.tolist(),
                    "sigmas": self.overlaps.sigmas.tolist(),
                    "analytic": self.overlaps.analytic.tolist(),
                    "rendered": self.overlaps.rendered.tolist(),
                },
                "critical": self.critical_table(),
                "curves": [
                    {
                        "sigma": s,
                        "threshold": t,
                        "lambdas": c.lambdas.tolist(),
                        "largest_over_kept_mean": c.kept_mean.tolist(),
                        "largest_over_kept_std": c.kept_std.tolist(),
                        "largest_over_sites_mean": c.sites_mean.tolist(),
                        "largest_over_sites_std": c.sites_std.tolist(),
                        "num_draws": c.num_draws,
                    }
                    for (s, t), c in self.curves.items()
                ],
            }
        )


def simulate(cfg: PercolationConfig) -> PercolationResult:
    """Run the simulated study of ``cfg``: the overlap table, then one mass-ratio curve per
    (sigma, threshold), all with the same random draws."""
    cfg.validate()
    curves, neighbours = {}, {}
    for s in cfg.sigmas:
        for t in cfg.thresholds:
            g = lattice_graph(
                s,
                t,
                image_size=cfg.image_size,
                spacing=cfg.spacing,
                periodic=cfg.periodic,
                measure=cfg.measure,
            )
            k = g.axis_size
            neighbours[(s, t)] = int(g.degrees()[(k // 2) * k + k // 2])
            curves[(s, t)] = mass_ratio_curve(g, np.asarray(cfg.lambdas), cfg.num_draws, cfg.seed)
    overlaps = overlap_table(
        np.asarray(cfg.overlap_spacings),
        np.asarray(cfg.sigmas),
        image_size=max(cfg.image_size, int(np.ceil(2 * max(cfg.overlap_spacings))) + 8),
        periodic=False,
    )
    return PercolationResult(config=cfg, overlaps=overlaps, curves=curves, neighbours=neighbours)


def example_clusters(
    cfg: PercolationConfig, sigma: float, threshold: float, lambdas: tuple[float, ...]
) -> dict[float, np.ndarray]:
    """Cluster maps of one draw per ``lambda`` (the first draw of :func:`mass_ratio_curve`
    when ``lambda`` is on the config's grid): ``{lambda: (K, K) int64 cluster ids}``, largest
    cluster 0, -1 where not kept."""
    g = lattice_graph(
        sigma,
        threshold,
        image_size=cfg.image_size,
        spacing=cfg.spacing,
        periodic=cfg.periodic,
        measure=cfg.measure,
    )
    grid = list(cfg.lambdas)
    out = {}
    for lam in lambdas:
        j = grid.index(lam) if lam in grid else len(grid)
        kept = sample_kept(g.num_sites, lam, 1, np.random.default_rng([cfg.seed, j]))[0]
        out[lam] = cluster_labels(g, kept).reshape(g.axis_size, g.axis_size)
    return out


def _write_atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: never half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def simulate_and_plot(out: str | Path, cfg: PercolationConfig | None = None) -> dict[str, Path]:
    """Run :func:`simulate` and write ``percolation.json`` and the figures into ``out``.

    Returns:
        ``{name: path}`` of every file written.
    """
    from factordiff import plotting

    cfg = cfg or PercolationConfig()
    cfg.validate()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    res = simulate(cfg)
    paths: dict[str, Path] = {}

    paths["json"] = out / "percolation.json"
    text = json.dumps(res.to_json(), indent=1)
    _write_atomic(paths["json"], lambda p: Path(p).write_text(text + "\n"))

    ov = res.overlaps
    figs = {
        "overlap_vs_spacing": plotting.plot_overlap_vs_spacing(
            ov.spacings,
            {s: ov.rendered[i] for i, s in enumerate(ov.sigmas)},
            analytic={s: ov.analytic[i] for i, s in enumerate(ov.sigmas)},
            thresholds=cfg.thresholds,
            lattice_spacing=cfg.spacing,
        ),
        "mass_ratio_vs_lambda": plotting.plot_mass_ratio(
            {key: (c.lambdas, c.kept_mean, c.kept_std) for key, c in res.curves.items()},
            critical={key: c.critical_lambda for key, c in res.curves.items()},
            ylabel="largest cluster / kept points",
        ),
        "strength_vs_lambda": plotting.plot_mass_ratio(
            {key: (c.lambdas, c.sites_mean, c.sites_std) for key, c in res.curves.items()},
            ylabel="largest cluster / lattice sites",
            log_lambda=False,
            half_line=False,
        ),
    }
    mid = sorted(cfg.sigmas)[len(cfg.sigmas) // 2]
    t0 = max(cfg.thresholds)
    crit = res.curves[(mid, t0)].critical_lambda
    shown = sorted({_nearest(cfg.lambdas, x) for x in _example_lambdas(crit)})
    figs["clusters"] = plotting.plot_cluster_maps(
        example_clusters(cfg, mid, t0, tuple(shown)),
        title=f"sigma = {mid:g} px, threshold {t0:g}",
    )
    for name, fig in figs.items():
        paths[name] = out / f"{name}.png"
        _write_atomic(
            paths[name],
            lambda p, f=fig: f.savefig(
                p, dpi=90, format="png", bbox_inches="tight", pad_inches=0.05
            ),
        )
    return paths


def _example_lambdas(crit: float) -> list[float]:
    if not math.isfinite(crit):
        return [0.1, 0.3, 0.6, 0.9]
    return [crit * 0.5, crit * 0.9, crit * 1.1, min(1.0, crit * 2)]


def _nearest(grid, x: float) -> float:
    g = np.asarray(grid)
    return float(g[int(np.argmin(np.abs(g - x)))])


# ----------------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    """``python -m factordiff.analysis.percolation_sim --out DIR``: regenerate the simulated
    study."""
    p = argparse.ArgumentParser(
        prog="python -m factordiff.analysis.percolation_sim",
        description="Simulate bump percolation (overlap graph, largest cluster vs lambda) "
        "and write percolation.json and figures.",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--num-draws", type=int, default=PercolationConfig.num_draws)
    p.add_argument("--seed", type=int, default=PercolationConfig.seed)
    p.add_argument("--measure", default=PercolationConfig.measure, help="rendered | analytic")
    p.add_argument("--periodic", action="store_true")
    args = p.parse_args(argv)
    try:
        cfg = PercolationConfig(
            num_draws=args.num_draws,
            seed=args.seed,
            measure=args.measure,
            periodic=args.periodic,
        )
        paths = simulate_and_plot(args.out, cfg)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
