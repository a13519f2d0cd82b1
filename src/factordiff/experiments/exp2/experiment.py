"""Experiment 2 on the skeleton: :class:`Exp2` wires the package's parts into one
:class:`~factordiff.experiments.skeleton.Experiment`, and :func:`run_exp2` runs it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from factordiff.config import RunConfig
from factordiff.experiments.exp2.analysis import evaluate_run_sections, result_row
from factordiff.experiments.exp2.config import PRESETS, Exp2Config, exp2_config
from factordiff.experiments.exp2.designs import design_summary
from factordiff.experiments.exp2.figures import draw_figures
from factordiff.experiments.exp2.report import (
    cpu_description,
    describe_setting,
    report_sections,
)
from factordiff.experiments.exp2.runs import evaluations, sweep_runs
from factordiff.experiments.exp2.sections import OUTCOME_RULE
from factordiff.experiments.exp2.verdicts import claim_verdicts
from factordiff.experiments.registry import read_listing
from factordiff.experiments.skeleton import Experiment, Verdict, run_experiment
from factordiff.experiments.sweep import SweepRun

#: Name, order and help, shared with the registry's listing (read without importing this).
LISTING = read_listing(Path(__file__).with_name("listing.toml"))


class Exp2(Experiment):
    name = LISTING["name"]
    title = "Experiment 2 ({name}): composition versus interpolation"
    presets = PRESETS
    order = LISTING["order"]
    scales = {"paper": "exp2", "quick": "exp2-quick", "tiny": "exp2-smoke"}
    help = LISTING["help"]

    def config(self, preset: str, seeds=None, overrides=None) -> Exp2Config:
        return exp2_config(preset, seeds=seeds, overrides=overrides)

    def runs(self, cfg: Exp2Config) -> list[tuple[dict, RunConfig]]:
        return sweep_runs(cfg)

    def check(self, cfg: Exp2Config, runs: list[SweepRun]) -> None:
        """Every section the evaluation needs exists (checked before training)."""
        from factordiff.data import build_regions

        for r in runs:
            for space, data in evaluations(cfg, r.params, r.config.data).items():
                regions = build_regions(data)
                need = {"in_distribution"} | (
                    {"held_out"} if r.params["part"] in ("lesion", "squares", "rim") else set()
                )
                if not need <= set(regions):
                    raise ValueError(
                        f"run {r.params}: label space {space!r} lacks sections "
                        f"{sorted(need - set(regions))}"
                    )

    def analyse(self, cfg: Exp2Config, run: SweepRun, device: str) -> dict:
        ev = evaluate_run_sections(cfg, run, device)
        return {"row": result_row(ev), "evaluation": ev}

    def verdicts(self, cfg: Exp2Config, results: list[dict]) -> list[Verdict]:
        return claim_verdicts(cfg, results)

    def figures(self, cfg: Exp2Config, results: list[dict], fig_dir: Path) -> list[str]:
        return draw_figures(cfg, results, fig_dir)

    def describe_setting(self, cfg: Exp2Config) -> str:
        return describe_setting(cfg)

    def summary_extra(self, cfg: Exp2Config, results: list[dict]) -> dict:
        return {
            "cpu": cpu_description(),
            "outcome_rule": OUTCOME_RULE.format(
                ratio=cfg.outcome_ratio, floor=cfg.min_reference_accuracy
            ),
            "designs": design_summary(cfg.image_size, cfg.lesion_columns, cfg.rim_width),
            "exp2_runs": [
                {
                    "params": r["run"].params,
                    "key": r["run"].key,
                    "held_out_lattice_labels": r["evaluation"]["held_out_lattice_labels"],
                    "spaces": r["evaluation"]["spaces"],
                }
                for r in results
            ],
        }

    def report_sections(self, summary: dict) -> list[str]:
        return report_sections(summary)

    def stored_results(self, summary: dict) -> list[dict]:
        """Each run's params, key and evaluation, as ``summary_extra`` stored them: all that
        the verdicts read (the figures also read the runs' folders)."""
        return [
            {
                "run": StoredRun(params=r["params"], key=r["key"]),
                "evaluation": {
                    "held_out_lattice_labels": r["held_out_lattice_labels"],
                    "spaces": r["spaces"],
                },
            }
            for r in summary["exp2_runs"]
        ]


@dataclass(frozen=True)
class StoredRun:
    """A run as an Exp 2 summary stores it: what ``verdicts`` and ``summary_extra`` read of
    a :class:`~factordiff.experiments.sweep.SweepRun`."""

    params: dict
    key: str


EXP2 = Exp2()


def run_exp2(
    cfg: Exp2Config,
    out: str | Path,
    *,
    executor=None,
    force: bool = False,
    progress: bool = True,
    command: str = "",
    device: str | None = None,
) -> dict:
    """Train (or resume) every run of the sweep, evaluate each section by section, judge
    the claims, draw the figures. ``progress=False`` keeps it quiet."""
    return run_experiment(
        EXP2,
        cfg,
        out,
        executor=executor,
        force=force,
        command=command,
        device=device,
        log=print if progress else (lambda *_: None),
    )
