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
one executor call keeps the workers busy across variants.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from factordiff.config import apply_overrides, json_ready, to_dict
from factordiff.jsonfiles import expect_object, invalid, read_summary
from factordiff.paths import check_writable_folder

VARIANTS_FILE = "variants.json"
VARIANTS_REPORT = "variants.md"


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
    registry: dict[str, ExperimentVariant] = getattr(exp, "variants", {}) or {}
    if not registry:
        from factordiff.experiments import EXPERIMENTS

        have = sorted(n for n, e in EXPERIMENTS.items() if getattr(e, "variants", None))
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
    from factordiff.experiments.skeleton import analyse_runs, check_run_inputs, run_experiment
    from factordiff.experiments.sweep import (
        SweepFailed,
        check_executor,
        make_executor,
        plan_sweep,
        run_status,
        write_sweep,
    )
    from factordiff.training import atomic_write_text, run_state

    out = Path(out)
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

    executor = executor if executor is not None else make_executor("local")
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

    def on_done(r, result: dict | None, error: str | None) -> None:
        where = f"{owner[r.key]} {r.key} {r.params}"
        if error is None:
            log(f"  {result['status']} {where} in {result['seconds']:.0f} s")
        else:
            log(f"  FAILED {where}: {error}")

    failure = None
    if todo:
        try:
            executor.run(todo, on_done=on_done)
        except SweepFailed as e:  # the variants whose runs all finished are still analysed
            failure = e
    failed = {
        name: f"{len(bad)} run(s) did not finish: "
        + "; ".join(f"{st['params']} ({st['key']}): {st['error'] or st['status']}" for st in bad)
        for name, runs in planned.items()
        if (bad := [st for st in map(run_status, runs) if st["status"] != "done"])
    }
    if failure is not None and len(failed) == len(cfgs):
        raise failure
    ok_runs = [r for r in all_runs if owner[r.key] not in failed]
    check_run_inputs([r for r in todo if owner[r.key] not in failed])  # before any analysis

    analysed = None
    if analysis_workers > 1:  # every variant's runs in one pool, not one variant at a time
        jobs = [(cfgs[owner[r.key]], r) for r in ok_runs]
        done = analyse_runs(exp, jobs, workers=analysis_workers, log=log, progress=progress)
        analysed = {r.key: a for r, a in zip(ok_runs, done, strict=True)}
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


def write_overview(doc: dict, out: Path) -> None:
    """``out/variants.json`` and its rendering ``out/variants.md``."""
    from factordiff.experiments.report import render_variants
    from factordiff.training import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / VARIANTS_FILE, json.dumps(doc, indent=2) + "\n")
    atomic_write_text(out / VARIANTS_REPORT, render_variants(doc))


def variants_overview(
    exp,
    summaries: dict[str, dict],
    command: str,
    folders: dict[str, str] | None = None,
    failed: dict[str, str] | None = None,
) -> dict:
    """Each claim's verdict in each variant (with how many seeds it held in) and the count
    of variants in which it holds. A claim holds in a variant when that variant's verdict
    (over its seeds, by the experiment's rule) is "reproduced". A variant whose summary has
    a sensitivity map (Experiment 1) also gets, per mapped rule, the settings in which it
    holds. ``folders``: each variant's folder as the overview names it (default: its
    name, the layout of :func:`run_variants`). ``failed``: variants not judged (name ->
    why), listed with their error and counted in no claim."""
    from factordiff.experiments.judgement import verdict_of

    registry = getattr(exp, "variants", {})

    def about(name: str) -> dict:
        return {
            "description": registry[name].description if name in registry else "",
            "folder": (folders or {}).get(name, name),
        }

    variants = {}
    for name, s in summaries.items():
        verdicts = []
        for v in s["verdicts"]:
            spread = v.get("spread") or {}
            seeds = spread.get("seeds", s.get("seeds", []))
            held = spread.get("reproduced_in", int(bool(v["reproduced"])))
            verdicts.append(
                {
                    "claim": v["claim"],
                    "reproduced": v["reproduced"],
                    # reproduced | not reproduced | inconclusive | not judged (older
                    # summaries: from `reproduced`)
                    "verdict": verdict_of(v),
                    "reproduced_in": held,
                    "seeds": seeds,
                    "value": v.get("value"),
                    "mean": spread.get("mean"),
                    "std": spread.get("std"),
                }
            )
        variants[name] = {
            **about(name),
            "setting": s.get("setting", ""),
            "train_seconds": s.get("train_seconds"),
            "verdicts": verdicts,
        }
        smap = s.get("sensitivity_map")
        if smap:
            variants[name]["map"] = {
                rule: {
                    "claim": smap.get("claims", {}).get(rule, rule),
                    "holds": c["holds"],
                    "settings": c["settings"],
                }
                for rule, c in smap["counts"].items()
            }
    claims = []
    if variants:
        first = next(iter(variants.values()))["verdicts"]
        for i, v in enumerate(first):
            holds = [n for n, d in variants.items() if d["verdicts"][i]["reproduced"]]
            claims.append({"claim": v["claim"], "holds_in": holds, "of": len(variants)})
    return json_ready(
        {
            "experiment": exp.name,
            "command": command,
            "variants": variants,
            "claims": claims,
            "failed": {name: {**about(name), "error": why} for name, why in (failed or {}).items()},
        }
    )


def overview_of_folders(folders: list[str | Path], out: str | Path, command: str = "") -> dict:
    """The overview of variants run by separate commands (or on other machines): each of
    ``folders`` is a finished experiment folder (its ``summary.json`` names its variant),
    all of one experiment preset. Writes ``out/variants.json`` and ``out/variants.md``
    (each variant's folder named relative to ``out``). A folder without a summary, two
    folders of one variant, different presets or claims raise ``ValueError`` before
    anything is written. Returns the overview."""
    import os

    from factordiff.experiments import preset_names, resolve_experiment

    if not folders:
        raise ValueError("no folders given; allowed: one or more finished experiment folders")
    out = Path(out)
    check_writable_folder(out)  # a file in the way: refused before anything is read or written
    summaries: dict[str, dict] = {}
    where: dict[str, str] = {}
    preset = None
    for folder in map(Path, folders):
        path = folder / "summary.json"
        if not path.is_file():
            raise ValueError(
                f"{folder} has no summary.json; allowed: a finished experiment folder "
                "(factordiff experiment ... --out FOLDER)"
            )
        s = read_summary(path)
        smap = s.get("sensitivity_map")
        if smap:
            smap = expect_object(
                smap, path, "sensitivity_map", required={"counts": dict}, optional={"claims": dict}
            )
            for rule, c in smap["counts"].items():
                expect_object(
                    c,
                    path,
                    f"sensitivity_map.counts.{rule}",
                    "a JSON object with holds and settings (integers)",
                    required={"holds": int, "settings": int},
                )
        try:
            resolve_experiment(s.get("experiment") or "")
        except ValueError:
            raise invalid(
                path, "experiment", s.get("experiment"), f"a preset name: {preset_names()}"
            ) from None
        name = s.get("variant")
        if not name:
            raise ValueError(
                f"{path} names no variant; allowed: folders of an experiment with variants"
            )
        if name in summaries:
            raise ValueError(
                f"{where[name]} and {folder} are both variant {name!r}; give one of them"
            )
        if preset is not None and s.get("experiment") != preset:
            raise ValueError(
                f"{folder} is preset {s.get('experiment')!r}, the others {preset!r}; "
                "allowed: folders of one preset"
            )
        preset = s.get("experiment")
        claims = [v["claim"] for v in s["verdicts"]]
        first = next(iter(summaries.values()), None)
        if first is not None and claims != [v["claim"] for v in first["verdicts"]]:
            raise ValueError(f"{folder} judges other claims than {next(iter(where.values()))}")
        summaries[name] = s
        where[name] = str(folder)
    exp, _ = resolve_experiment(preset)
    rel = {n: os.path.relpath(Path(f).resolve(), out.resolve()) for n, f in where.items()}
    doc = variants_overview(exp, summaries, command, folders=rel)
    write_overview(doc, out)
    return doc
