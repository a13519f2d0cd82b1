"""The percolation experiment on the skeleton: :class:`PercolationExperiment` wires the
package's parts into one :class:`~factordiff.experiments.skeleton.Experiment` and caches the
simulated curves of a config; :data:`PERCOLATION` is the instance the registry
(``factordiff.experiments.registry``) holds."""

from __future__ import annotations

import json
from pathlib import Path

from factordiff.config import RunConfig, json_ready
from factordiff.experiments.percolation.analysis import analyse_run, simulate_curves
from factordiff.experiments.percolation.config import (
    PRESETS,
    PercolationExpConfig,
    percolation_config,
)
from factordiff.experiments.percolation.figures import draw_figures
from factordiff.experiments.percolation.onset_rules import SimOnset, simulated_onset
from factordiff.experiments.percolation.report import (
    describe_setting,
    report_sections,
    summary_extra,
)
from factordiff.experiments.percolation.runs import sweep_runs
from factordiff.experiments.percolation.verdicts import verdicts_from_rows
from factordiff.experiments.registry import read_listing
from factordiff.experiments.skeleton import Experiment, Verdict
from factordiff.experiments.sweep import SweepRun

#: Name, order and help, shared with the registry's listing (read without importing this).
LISTING = read_listing(Path(__file__).with_name("listing.toml"))


class PercolationExperiment(Experiment):
    name = LISTING["name"]
    title = "Percolation ({name}): a sudden onset of learning above a critical data share"
    presets = PRESETS
    order = LISTING["order"]
    scales = {"paper": "percolation", "quick": "percolation-quick", "tiny": "percolation-tiny"}
    help = LISTING["help"]

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

    def onsets(self, cfg: PercolationExpConfig) -> dict[tuple[float, float], SimOnset]:
        """The simulated onset of every (sigma, threshold) curve: what the sharp and near
        rules compare the trained onsets with."""
        return {
            (s, t): simulated_onset(c.lambdas, c.kept_mean, s, t)
            for (s, t), c in self.simulated(cfg).items()
        }

    def verdicts(self, cfg: PercolationExpConfig, results: list[dict]) -> list[Verdict]:
        rows = [r["row"] for r in results]
        return verdicts_from_rows(rows, cfg, self.onsets(cfg))[0]

    def figures(self, cfg: PercolationExpConfig, results: list[dict], fig_dir: Path) -> list[str]:
        return draw_figures(cfg, results, fig_dir, self.simulated(cfg))

    def describe_setting(self, cfg: PercolationExpConfig) -> str:
        return describe_setting(cfg)

    def summary_extra(self, cfg: PercolationExpConfig, results: list[dict]) -> dict:
        return summary_extra(cfg, results, self.onsets(cfg), self.simulated(cfg))

    def report_sections(self, summary: dict) -> list[str]:
        return report_sections(summary)


PERCOLATION = PercolationExperiment()
