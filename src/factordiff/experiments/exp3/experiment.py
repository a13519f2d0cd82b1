"""Experiment 3 on the skeleton: :class:`Exp3` wires the package's parts into one
:class:`~factordiff.experiments.skeleton.Experiment`, and :data:`EXP3` is the instance the
registry (``factordiff.experiments.registry``) holds."""

from __future__ import annotations

from pathlib import Path

from factordiff.config import RunConfig
from factordiff.experiments.exp3.analysis import analyse_run
from factordiff.experiments.exp3.config import PRESETS, Exp3Config, exp3_config
from factordiff.experiments.exp3.figures import draw_figures
from factordiff.experiments.exp3.report import describe_setting, report_sections, summary_extra
from factordiff.experiments.exp3.runs import sweep_runs
from factordiff.experiments.exp3.verdicts import verdicts_from_rows
from factordiff.experiments.registry import read_listing
from factordiff.experiments.skeleton import Experiment, Verdict
from factordiff.experiments.sweep import SweepRun

#: Name, order and help, shared with the registry's listing (read without importing this).
LISTING = read_listing(Path(__file__).with_name("listing.toml"))


class Exp3(Experiment):
    name = LISTING["name"]
    title = "Experiment 3 ({name}): how much data does a model need?"
    presets = PRESETS
    order = LISTING["order"]
    scales = {"paper": "exp3", "quick": "exp3-quick", "tiny": "exp3-tiny"}
    help = LISTING["help"]

    def config(self, preset: str, seeds=None, overrides=None) -> Exp3Config:
        return exp3_config(preset, seeds=seeds, overrides=overrides)

    def runs(self, cfg: Exp3Config) -> list[tuple[dict, RunConfig]]:
        return sweep_runs(cfg)

    def analyse(self, cfg: Exp3Config, run: SweepRun, device: str) -> dict:
        return analyse_run(cfg, run, device)

    def verdicts(self, cfg: Exp3Config, results: list[dict]) -> list[Verdict]:
        return verdicts_from_rows([r["row"] for r in results], cfg)[0]

    def figures(self, cfg: Exp3Config, results: list[dict], fig_dir: Path) -> list[str]:
        return draw_figures(cfg, results, fig_dir)

    def describe_setting(self, cfg: Exp3Config) -> str:
        return describe_setting(cfg)

    def summary_extra(self, cfg: Exp3Config, results: list[dict]) -> dict:
        return summary_extra(cfg, results)

    def report_sections(self, summary: dict) -> list[str]:
        return report_sections(summary)


EXP3 = Exp3()
