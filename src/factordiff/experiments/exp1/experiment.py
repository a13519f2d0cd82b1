"""Experiment 1 on the skeleton: :class:`Exp1` wires the package's parts into one
:class:`~factordiff.experiments.skeleton.Experiment`, and :func:`run_exp1` runs it."""

from __future__ import annotations

from pathlib import Path

from factordiff.config import RunConfig
from factordiff.experiments.exp1.analysis import analyse_run
from factordiff.experiments.exp1.config import PRESETS, TITLE, Exp1Config, exp1_preset_config
from factordiff.experiments.exp1.figures import draw_figures
from factordiff.experiments.exp1.readings import summary_readings
from factordiff.experiments.exp1.report import describe_setting, report_sections
from factordiff.experiments.exp1.rules import CONTROL, control_summary
from factordiff.experiments.exp1.runs import group_by_seed, merge_runs, sweep_runs
from factordiff.experiments.exp1.sensitivity_map import map_summary
from factordiff.experiments.exp1.variants import EXP1_VARIANTS
from factordiff.experiments.registry import read_listing
from factordiff.experiments.skeleton import (
    Experiment,
    Verdict,
    combine_seeds,
    precision_used,
    run_experiment,
)
from factordiff.experiments.sweep import SweepRun

#: Name, order and help, shared with the registry's listing (read without importing this).
LISTING = read_listing(Path(__file__).with_name("listing.toml"))


class Exp1(Experiment):
    name = LISTING["name"]
    title = TITLE
    presets = PRESETS
    order = LISTING["order"]
    scales = {"paper": "exp1", "quick": "exp1-quick", "tiny": "exp1-tiny"}
    help = LISTING["help"]
    variants = EXP1_VARIANTS
    pools_seeds = True

    def config(self, preset: str, seeds=None, overrides=None) -> Exp1Config:
        return exp1_preset_config(preset, seeds=seeds, overrides=overrides)

    def runs(self, cfg: Exp1Config) -> list[tuple[dict, RunConfig]]:
        return sweep_runs(cfg)

    def check(self, cfg: Exp1Config, runs: list[SweepRun]) -> None:
        """The analysis layer must exist in the model (checked before training)."""
        from factordiff.analysis.activations import resolve_layer
        from factordiff.model.registry import build_model

        run = runs[0].config
        model = build_model(run.model, run.data)
        resolve_layer(model, cfg.layer or None)
        if cfg.sensitivity_map:
            from factordiff.analysis.sensitivity import block_layers

            block_layers(model)  # the map needs the model's analysis layers

    def analyse(self, cfg: Exp1Config, run: SweepRun, device: str) -> dict:
        return analyse_run(cfg, run, device, progress=self.show_progress)

    def verdicts(self, cfg: Exp1Config, results: list[dict]) -> list[Verdict]:
        # one verdict list per seed: a seed's runs under several thread counts merged (the
        # mean of each statistic, every run kept beside it)
        groups = group_by_seed(results)
        return combine_seeds(
            [
                merge_runs(
                    [r["verdicts"] for r in rs], [r["run"].config.train.num_threads for r in rs]
                )
                for _, rs in groups
            ],
            [seed for seed, _ in groups],
        )

    def figures(self, cfg: Exp1Config, results: list[dict], fig_dir: Path) -> list[str]:
        return draw_figures(results, fig_dir)

    def describe_setting(self, cfg: Exp1Config) -> str:
        variant = EXP1_VARIANTS[cfg.variant]
        return f"variant `{cfg.variant}` ({variant.description}): " + describe_setting(
            cfg.run, precision_used(cfg.run)
        )

    def summary_extra(self, cfg: Exp1Config, results: list[dict]) -> dict:
        first = results[0]["result"]
        return {
            "analysis": first["settings"],
            "final_accuracy": first["checkpoints"][-1]["accuracy"],
            "final": first["checkpoints"][-1]["summary"],
            "references": first["references"],
            "checkpoints": first["checkpoints"],
            "figures_seed": results[0]["run"].config.seed,
            "analysis_dir": str(first["out"]),
            "control": control_summary(first["checkpoints"]),
            "sensitivity_map": map_summary(results) if results[0].get("map") else None,
            **summary_readings(results, cfg.min_seeds, CONTROL),
        }

    def report_sections(self, summary: dict) -> list[str]:
        return report_sections(summary)


EXP1 = Exp1()


def run_exp1(
    cfg: Exp1Config,
    out: str | Path,
    *,
    executor=None,
    force: bool = False,
    progress: bool = True,
    command: str = "",
    device: str | None = None,
) -> dict:
    """Train (or resume) every seed's run, analyse every kept checkpoint, draw figures,
    judge the claims. ``progress=False`` keeps it quiet."""
    return run_experiment(
        EXP1,
        cfg,
        out,
        executor=executor,
        force=force,
        command=command,
        device=device,
        log=print if progress else (lambda *_: None),
    )
