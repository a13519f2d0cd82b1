"""Training variants of an experiment: named sets of config overrides, run side by side.

A variant (:class:`ExperimentVariant`) is a name, a description and the dotted ``key=value``
overrides it makes to an experiment's config (e.g. ``run.model.num_frequencies=1``). An
experiment lists its variants in ``Experiment.variants``; ``factordiff experiment NAME
--variant A,B`` resolves one config per variant (:func:`variant_configs`) and
:func:`run_variants` runs them::

    validate every variant's config and plan its sweep (OUT/<variant>/runs/<key>) ->
    train every unfinished run of every variant with one executor (variant x seed) ->
    each variant's experiment as usual (analysis, verdicts, figures, report in OUT/<variant>) ->
    OUT/variants.json + OUT/variants.md: each claim's verdict per variant, and in how many
    variants it holds

Each variant is a whole experiment in its own folder, so everything an experiment reports
(its analysis, its spread over seeds) is reported per variant unchanged; training them in
one executor call keeps the workers busy across variants. The overview (``variants.json``,
``variants.md``) is built in :mod:`factordiff.experiments.variants_overview`, re-exported here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from factordiff.config import apply_overrides, to_dict
from factordiff.experiments.variants_overview import (
    VARIANTS_FILE,
    VARIANTS_REPORT,
    overview_of_folders,
    variants_overview,
    write_overview,
)
from factordiff.paths import check_writable_folder

__all__ = [  # what this module defines, and what it re-exports from variants_overview
    "VARIANTS_FILE",
    "VARIANTS_REPORT",
    "ExperimentVariant",
    "apply_variant",
    "describe_variant_plans",
    "overview_of_folders",
    "parse_variant_names",
    "resolve_variants",
    "run_variants",
    "variant_configs",
    "variants_overview",
    "write_overview",
]


@dataclass(frozen=True)
class ExperimentVariant:
    """A named training variant: ``overrides(cfg)`` gives the dotted ``key=value`` overrides
    it applies to the experiment config ``cfg`` (a function, so that a variant can scale a
    setting of the preset, e.g. 3 times its training length)."""

    name: str
    description: str
    overrides: Callable[[Any], list[str]]


def parse_variant_names(text: str) -> list[str]:
    """``"k1,positional"`` -> ``["k1", "positional"]``; an empty or repeated name is refused."""
    names = [x.strip() for x in text.split(",")]
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError(
            f"--variant {text!r} is invalid; allowed: distinct comma-separated variant names"
        )
    return names


def resolve_variants(exp, names: list[str]) -> list[ExperimentVariant]:
    """The variants ``names`` of experiment ``exp``; an unknown name is a ValueError naming
    the allowed ones."""
    from factordiff.config.catalog import CATALOG
    from factordiff.experiments.registry import experiment_names, experiments, get_experiment

    if exp.name in experiment_names():
        get_experiment(exp.name)  # loaded, so that its variants are in the catalog
        # the one catalog of named settings holds every registered experiment's variants
        registry = {e.name: e.value for e in CATALOG.entries("variant", exp.name)}
    else:  # an experiment object that was never registered carries its own
        registry = dict(getattr(exp, "variants", None) or {})
    if not registry:
        experiments()
        have = sorted({e.owner for e in CATALOG.entries("variant")})
        raise ValueError(
            f"experiment {exp.name!r} has no training variants; --variant is available for: {have}"
        )
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(
            f"unknown variant(s) {unknown} of experiment {exp.name!r}; allowed: {list(registry)}"
        )
    return [registry[n] for n in names]


def _keys(overrides) -> set[str]:
    return {o.split("=", 1)[0].strip() for o in overrides}


def apply_variant(cfg, variant: ExperimentVariant, user_overrides=()):
    """``cfg`` (already carrying ``user_overrides``) with ``variant``'s overrides applied and
    its name recorded in ``cfg.variant``, validated.

    A ``--set`` of a key the variant sets is refused: the variant would silently replace
    it, or the run would carry the variant's name without its setting."""
    own = variant.overrides(cfg)
    both = sorted(_keys(own) & _keys(user_overrides or []))
    if both:
        raise ValueError(
            f"--set {both} conflicts with variant {variant.name!r}, which sets {own}; "
            "drop the --set or the variant"
        )
    out = apply_overrides(cfg, list(own)) if own else cfg
    out = replace(out, variant=variant.name)
    out.validate()
    return out


def variant_configs(
    exp, preset: str, names: list[str], seeds=None, overrides=None
) -> dict[str, Any]:
    """One resolved, validated experiment config per variant name (in the given order):
    the preset, then ``overrides`` (``--set``), then the variant."""
    variants = resolve_variants(exp, names)
    return {
        v.name: apply_variant(exp.config(preset, seeds=seeds, overrides=overrides), v, overrides)
        for v in variants
    }


def run_variants(
    exp,
    cfgs: dict[str, Any],
    out: str | Path,
    *,
    executor=None,
    force: bool = False,
    command: str = "",
    device: str | None = None,
    log=print,
    analysis_workers: int = 1,
    progress: bool = False,
) -> dict:
    """Run experiment ``exp`` once per variant config in ``cfgs`` (name -> config) into
    ``out/<name>``, training all their runs in one executor call; rerunning resumes.
    ``analysis_workers`` > 1 analyses the runs of every variant together, that many at a
    time (:func:`~factordiff.experiments.skeleton.analyse_runs`).

    Every config and every run is validated, and two variants that would train the same
    run are refused, before anything is written. Returns the overview written to
    ``out/variants.json`` (also rendered as ``out/variants.md``)."""
    from factordiff.experiments.skeleton import check_run_inputs, run_experiment
    from factordiff.experiments.sweep import SweepFailed, make_executor

    out = Path(out)
    planned, owner = _plan_variants(exp, cfgs, out, device)
    executor = executor if executor is not None else make_executor("local")
    todo = _write_variants(exp, cfgs, planned, out, executor, force, log)
    failure = None
    if todo:
        try:
            executor.run(todo, on_done=_variant_logger(owner, log))
        except SweepFailed as e:  # the variants whose runs all finished are still analysed
            failure = e
    failed = _unfinished_variants(planned)
    if failure is not None and len(failed) == len(cfgs):
        raise failure
    check_run_inputs([r for r in todo if owner[r.key] not in failed])  # before any analysis
    ok_runs = [r for runs in planned.values() for r in runs if owner[r.key] not in failed]
    analysed = _pooled_analysis(exp, cfgs, ok_runs, owner, analysis_workers, log, progress)
    summaries = {}
    for name, cfg in cfgs.items():
        if name in failed:
            log(f"variant {name}: not analysed, {failed[name]}")
            continue
        log(f"variant {name}: analysis into {out / name}")
        summaries[name] = run_experiment(
            exp,
            cfg,
            out / name,
            executor=executor,
            command=command,
            device=device,
            log=log,
            progress=progress,
            analysed=analysed,
        )
    doc = variants_overview(exp, summaries, command, failed=failed)
    write_overview(doc, out)
    if failure is not None:
        raise SweepFailed(f"{failure}; the other variants were analysed: {out / VARIANTS_REPORT}")
    return doc


def _plan_variants(exp, cfgs: dict[str, Any], out: Path, device: str | None):
    """The planning step of :func:`run_variants`: each variant's config validated and its
    sweep planned in ``out/<name>`` (``{name: [SweepRun]}``), and each run key's variant;
    two variants that would train the same run are refused."""
    from factordiff.experiments.sweep import plan_sweep

    planned = {}
    for name, cfg in cfgs.items():
        cfg.validate()
        runs = plan_sweep(out / name, exp.runs(cfg), device=device)
        exp.check(cfg, runs)
        planned[name] = runs
    owner: dict[str, str] = {}
    for name, runs in planned.items():
        for r in runs:
            if r.key in owner:
                raise ValueError(
                    f"variants {owner[r.key]!r} and {name!r} train the same run config "
                    f"({r.params}, key {r.key}); give one of them"
                )
            owner[r.key] = name
    return planned, owner


def _write_variants(exp, cfgs, planned, out: Path, executor, force: bool, log) -> list:
    """Reach ``executor`` and read the runs already there (nothing written before), then
    write each variant's ``experiment.json`` and ``sweep.json`` (with ``force``, delete its
    run folders); the runs still to train, with a ``log`` line on them."""
    from factordiff.experiments.skeleton import check_run_inputs
    from factordiff.experiments.sweep import check_executor, write_sweep
    from factordiff.training import atomic_write_text, run_state

    check_writable_folder(out)  # a file in the way: refused before anything is written
    all_runs = [r for runs in planned.values() for r in runs]
    check_executor(executor)  # a Ray cluster that does not answer: nothing written
    if not force:  # a garbled metrics.jsonl or checkpoint: refused before anything is written
        check_run_inputs(all_runs)
    out.mkdir(parents=True, exist_ok=True)
    for name, runs in planned.items():  # `factordiff sweep status OUT/<variant>` works now
        (out / name).mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            out / name / "experiment.json", json.dumps(to_dict(cfgs[name]), indent=2) + "\n"
        )
        write_sweep(out / name, runs, {"experiment": exp.name, "preset": cfgs[name].name})
    if force:
        for r in all_runs:
            shutil.rmtree(r.dir, ignore_errors=True)
    todo = [r for r in all_runs if not (run_state(r.dir) or {}).get("finished")]
    log(
        f"{len(cfgs)} variant(s) x {len(all_runs) // max(1, len(cfgs))} run(s) in {out}; "
        f"{len(todo)} to train ({executor.describe()})"
    )
    return todo


def _variant_logger(owner: dict[str, str], log):
    """The executor's ``on_done``: a ``log`` line per run, naming its variant."""

    def on_done(r, result: dict | None, error: str | None) -> None:
        where = f"{owner[r.key]} {r.key} {r.params}"
        if error is None:
            log(f"  {result['status']} {where} in {result['seconds']:.0f} s")
        else:
            log(f"  FAILED {where}: {error}")

    return on_done


def _unfinished_variants(planned) -> dict[str, str]:
    """The variants with a run not done (name -> why), from the run folders."""
    from factordiff.experiments.sweep import run_status

    return {
        name: f"{len(bad)} run(s) did not finish: "
        + "; ".join(f"{st['params']} ({st['key']}): {st['error'] or st['status']}" for st in bad)
        for name, runs in planned.items()
        if (bad := [st for st in map(run_status, runs) if st["status"] != "done"])
    }


def _pooled_analysis(exp, cfgs, ok_runs, owner, workers: int, log, progress: bool):
    """With ``workers`` > 1, every variant's runs analysed in one pool, not one variant at
    a time (run key -> analysis); else None (each variant's experiment analyses its own)."""
    from factordiff.experiments.skeleton import analyse_runs

    if workers <= 1:
        return None
    jobs = [(cfgs[owner[r.key]], r) for r in ok_runs]
    done = analyse_runs(exp, jobs, workers=workers, log=log, progress=progress)
    return {r.key: a for r, a in zip(ok_runs, done, strict=True)}


def describe_variant_plans(exp, cfgs: dict[str, Any], out: str | Path) -> str:
    """The dry run of :func:`run_variants`: each variant's folder and resolved config as
    JSON, and a line on what a run would write into ``out``; nothing is written."""
    out = Path(out).resolve()
    parts = [
        f"# variant {v}: {out / v}\n{json.dumps(to_dict(cfg), indent=2)}" for v, cfg in cfgs.items()
    ]
    runs = sum(len(exp.runs(cfg)) for cfg in cfgs.values())
    parts.append(f"(dry run: would write {out} with {len(cfgs)} variant(s), {runs} run(s))")
    return "\n".join(parts)
