"""Seeds of one experiment trained in separate calls, judged together.

A claim's rules need several seeds (five for Experiment 1), and they need not be trained in
one call: a folder of seeds 0 and 1 today, another of seeds 2-4 tomorrow or on another
machine. ``factordiff pool A B ... --out C`` reads finished folders of one experiment whose
configs are equal apart from their seeds (no seed in two folders) and writes ``C`` as one
experiment folder over all their seeds: every rule of every claim judged again
(:func:`factordiff.experiments.verdict.combine_seeds`) from the per-seed statistics the
folders' summaries store, and the readings judged over seeds (Experiment 1's "not aligned")
likewise. Nothing is trained, scored or analysed again. The checkpoint tables and figures are
those of the first folder (its figures seed), copied; ``results.csv`` has every folder's rows.
The summary's ``pooled_from`` (and the report's "Seeds pooled from" table) names each folder
with its seeds, machine, commit and command: seeds trained on different machines or in
different precisions are pooled as they are, and the report says so.

Two kinds of experiment can be pooled. Experiment 1's claims carry one statistic per seed
(``Experiment.pools_seeds``): each stored verdict is split back into its seeds' verdicts and
judged again. Experiment 2's summary stores every run's evaluation
(``Experiment.stored_results``): the runs of all folders go through the experiment's own
``verdicts`` and ``summary_extra``, exactly as in one call over all the seeds. A claim read
from a fit over every seed's points (Experiment 3's exponents) cannot be pooled.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from factordiff.experiments.judgement import Rule, combine, judge
from factordiff.experiments.results import flatten
from factordiff.experiments.verdict import (
    OVER_SEEDS_EVERY,
    OVER_SEEDS_RULES,
    Verdict,
    combine_seeds,
)
from factordiff.jsonfiles import read_json, read_summary

_FOLDERS = "allowed: finished folders of one experiment preset and setting, apart from their seeds"


# ----------------------------------------------------------------------------- reading
def _read_folder(folder: Path) -> tuple[dict, dict, list[dict]]:
    """A folder's summary, saved config and results rows (one dict per run)."""
    import pandas as pd

    for name in ("summary.json", "experiment.json", "results.csv"):
        if not (folder / name).is_file():
            raise ValueError(f"{folder}: no {name}; {_FOLDERS}")
    summary = read_summary(folder / "summary.json")
    config = read_json(folder / "experiment.json", "an experiment config (a JSON object)")
    rows = pd.read_csv(folder / "results.csv").to_dict(orient="records")
    return summary, config, rows


def _first_difference(a: dict, b: dict) -> str | None:
    """The first key (dotted) where two configs differ, or None."""
    fa, fb = flatten(a), flatten(b)
    return next((k for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)), None)


def check_poolable(folders: list[Path], summaries: list[dict], configs: list[dict]):
    """``(experiment, preset, stored)``: the folders' Experiment and preset, and whether it
    pools from stored run results (``Experiment.stored_results``) rather than per-seed
    statistics. Raises ValueError unless the folders are one experiment's, equal apart from
    their seeds, with disjoint seeds (and one run per seed where per-seed statistics are
    split), of an experiment that can be pooled."""
    from factordiff.experiments import resolve_experiment

    if len(folders) < 2:
        raise ValueError(f"{len(folders)} folder(s) given; allowed: two or more folders")
    if len({f.resolve() for f in folders}) < len(folders):
        raise ValueError("a folder is given twice; allowed: distinct folders")
    name = summaries[0].get("experiment")
    exp, preset = resolve_experiment(str(name))
    stored = exp.stored_results(summaries[0]) is not None
    if not (getattr(exp, "pools_seeds", False) or stored):
        raise ValueError(
            f"{folders[0]}: experiment {name!r} ({exp.name}) reads some claims from a fit over "
            "every seed, so its seeds cannot be pooled from stored statistics; allowed: exp1, "
            "exp2"
        )
    strip = [{k: v for k, v in c.items() if k not in ("seeds", "seed")} for c in configs]
    owner: dict[int, Path] = {}
    for folder, s, c in zip(folders, summaries, strip):
        if s.get("experiment") != name:
            raise ValueError(
                f"{folder}: experiment {s.get('experiment')!r}, {folders[0]}: {name!r}; {_FOLDERS}"
            )
        diff = _first_difference(strip[0], c)
        if diff is not None:
            raise ValueError(
                f"{folder}: its config differs from {folders[0]}'s at {diff}; {_FOLDERS}"
            )
        if not stored and (
            s.get("thread_runs") or len(s.get("runs", [])) != len(s.get("seeds", []))
        ):
            raise ValueError(f"{folder}: several runs per seed; allowed: one run per seed")
        if any("judgements" not in v for v in s["verdicts"]):
            raise ValueError(
                f"{folder}: its verdicts have no per-seed judgements; allowed: summaries "
                "written by the interval rules (docs/rules.md)"
            )
        for seed in s["seeds"]:
            if seed in owner:
                raise ValueError(
                    f"seed {seed} is in {owner[seed]} and in {folder}; allowed: each seed in "
                    "one folder"
                )
            owner[seed] = folder
    first = [(v["claim"], v.get("rules")) for v in summaries[0]["verdicts"]]
    for folder, s in zip(folders[1:], summaries[1:]):
        if [(v["claim"], v.get("rules")) for v in s["verdicts"]] != first:
            raise ValueError(
                f"{folder}: its claims or rules differ from {folders[0]}'s (judged by another "
                "version of the rules); allowed: folders judged by the same rules (judge one "
                "again first)"
            )
    return exp, preset, stored


# ----------------------------------------------------------------------------- verdicts
def _reasons(text: str | None, seeds: list[int]) -> dict[int, str]:
    """Per-seed reasons of a stored ``not_judged`` ("seed 0: ...; seed 2: ...")."""
    if not text:
        return {}
    if len(seeds) == 1:
        return {seeds[0]: text}
    found = re.findall(r"seed (\d+): (.*?)(?=; seed \d+: |$)", text)
    return {int(s): r for s, r in found}


def _per_seed(v: dict, seeds: list[int], held: dict[int, bool]) -> list[Verdict]:
    """A stored verdict over ``seeds`` split into one Verdict per seed (as each run's was)."""
    n = len(seeds)
    rules = [Rule.from_dict(r) for r in v.get("rules") or []]
    stats = v.get("statistics") or []
    if n == 1:
        values, per_stats = [v["value"]], [list(stats)]
        controls, passes = [v.get("control")], [v.get("control_passes")]
        details, base = [v.get("detail") or {}], v["rule"]
    else:
        values, per_stats = list(v["value"]), [[col[i] for col in stats] for i in range(n)]
        if v.get("control_passes") is None:
            controls, passes = [v.get("control")] * n, [None] * n
        else:
            controls, passes = list(v["control"]), list(v["control_passes"])
        details = (v.get("detail") or {}).get("per_seed") or [{}] * n
        base = v["rule"]
        for over in (OVER_SEEDS_RULES, OVER_SEEDS_EVERY):
            base = base.removesuffix(over)
    reasons = _reasons(v.get("not_judged"), seeds)
    return [
        Verdict(
            claim=v["claim"],
            paper=v.get("paper", ""),
            rule=base,
            value=values[i],
            reproduced=bool(held[seed]) and seed not in reasons,
            control=controls[i],
            detail=details[i],
            control_passes=passes[i],
            not_judged=reasons.get(seed),
            rules=rules,
            statistics=per_stats[i],
        )
        for i, seed in enumerate(seeds)
    ]


def _held(rows: list[dict], seeds: list[int], k: int, folder: Path) -> dict[int, dict[int, bool]]:
    """Claim index -> seed -> whether the per-run rule held (``reproduced.<i>`` columns)."""
    by_seed = {int(r["param.seed"]): r for r in rows if "param.seed" in r}
    out: dict[int, dict[int, bool]] = {i: {} for i in range(k)}
    for seed in seeds:
        row = by_seed.get(seed)
        for i in range(k):
            if row is None or f"reproduced.{i}" not in row:
                raise ValueError(
                    f"{folder}/results.csv: no reproduced.{i} for seed {seed}; allowed: a "
                    "results table with each run's per-run answers"
                )
            out[i][seed] = str(row[f"reproduced.{i}"]).lower() == "true"
    return out


def pool_verdicts(parts: list[tuple[list[int], list[dict], dict[int, dict[int, bool]]]]):
    """Verdicts over the union of the parts' seeds: each part is (its seeds, its stored
    verdicts, claim index -> seed -> per-run answer). Returns (seeds in order, Verdicts)."""
    per_seed: dict[int, list[Verdict]] = {}
    for seeds, verdicts, held in parts:
        split = [_per_seed(v, seeds, held[i]) for i, v in enumerate(verdicts)]
        for j, seed in enumerate(seeds):
            per_seed[seed] = [claim[j] for claim in split]
    order = sorted(per_seed)
    return order, combine_seeds([per_seed[s] for s in order], order)


def pool_reading(readings: list[dict]) -> dict:
    """A reading judged over seeds (``{"judgements": [...], "verdict": ...}``) judged again
    over the union of the readings' seeds."""
    judged = []
    for i, j0 in enumerate(readings[0]["judgements"]):
        pairs = sorted(
            (seed, value)
            for r in readings
            for seed, value in zip(r["judgements"][i]["seeds"], r["judgements"][i]["values"])
        )
        judged.append(
            judge(
                Rule.from_dict(j0["rule"]), [v for _, v in pairs], [s for s, _ in pairs]
            ).to_dict()
        )
    return {**readings[0], "judgements": judged, "verdict": combine([j["verdict"] for j in judged])}


def rejudge_stored(exp, preset: str, summaries: list[dict], configs: list[dict]):
    """(seeds, Verdicts, summary extras) of the union of the folders' runs, through the
    experiment's own ``verdicts`` and ``summary_extra`` on the results their summaries store
    (``Experiment.stored_results``), in the order of one call's sweep; every run that call
    plans must be in a folder."""
    from factordiff.config import from_dict

    results = [r for s in summaries for r in exp.stored_results(s)]
    seeds = sorted(seed for s in summaries for seed in s["seeds"])
    cfg = from_dict(type(exp.config(preset)), {**configs[0], "seeds": seeds})
    cfg.validate()
    # the order of one call over these seeds: its sweep's
    planned = [json.dumps(params, sort_keys=True) for params, _ in exp.runs(cfg)]
    found = {json.dumps(r["run"].params, sort_keys=True): r for r in results}
    missing = [p for p in planned if p not in found]
    if missing or len(found) != len(planned):
        what = f"run {missing[0]} is in no folder" if missing else "a run is not planned"
        raise ValueError(
            f"{what}: the folders hold {len(found)} runs, one call over seeds {seeds} plans "
            f"{len(planned)}; allowed: finished folders"
        )
    results = [found[p] for p in planned]
    extra = exp.summary_extra(cfg, results)
    if "cpu" in extra:  # where each folder was analysed, not this machine
        extra["cpu"] = _joined(s.get("cpu") for s in summaries)
    return seeds, exp.verdicts(cfg, results), extra


# ----------------------------------------------------------------------------- the folder
def _source(folder: Path, s: dict) -> dict:
    keys = ("command", "machine", "device", "provenance", "executor", "wall_seconds")
    return {"folder": str(folder), "seeds": s["seeds"], **{k: s.get(k) for k in keys}}


def _joined(values) -> str:
    return "; ".join(dict.fromkeys(str(v) for v in values if v))


def pool_folders(folders, out, *, command: str = "", force: bool = False) -> dict:
    """Pool finished experiment ``folders`` (first: the one whose figures are kept) into
    ``out``; returns the pooled summary. Everything is read and judged before anything is
    written; ``out`` holding a summary is replaced only with ``force``."""
    import pandas as pd

    from factordiff.experiments.results import write_summary, write_table
    from factordiff.paths import check_writable_folder
    from factordiff.provenance import provenance
    from factordiff.training import atomic_write_text

    folders, out = [Path(f) for f in folders], Path(out)
    if any(out.resolve() == f.resolve() for f in folders):
        raise ValueError(f"--out {out} is one of the folders pooled; allowed: a new folder")
    if (out / "summary.json").exists() and not force:
        raise ValueError(f"{out} holds a summary.json; allowed: a new folder, or --force")
    check_writable_folder(out)
    read = [_read_folder(f) for f in folders]
    summaries, configs = [r[0] for r in read], [r[1] for r in read]
    exp, preset, stored = check_poolable(folders, summaries, configs)
    base = summaries[0]
    missing = [n for n in base.get("figures", []) if not (folders[0] / "figures" / n).is_file()]
    if missing:
        raise ValueError(f"{folders[0]}/figures: no {missing[0]}; allowed: a finished folder")
    extra: dict = {}
    if stored:
        seeds, verdicts, extra = rejudge_stored(exp, preset, summaries, configs)
    else:
        k = len(base["verdicts"])
        parts = [
            (s["seeds"], s["verdicts"], _held(rows, s["seeds"], k, f))
            for f, s, (_, _, rows) in zip(folders, summaries, read)
        ]
        seeds, verdicts = pool_verdicts(parts)
    runs = sorted((r for s in summaries for r in s["runs"]), key=lambda r: r["params"]["seed"])
    summary = {
        **base,
        "command": command,
        "device": _joined(s.get("device") for s in summaries),
        "machine": _joined(s.get("machine") for s in summaries),
        "provenance": provenance(),
        "wall_seconds": sum(s["wall_seconds"] for s in summaries),
        "train_seconds": sum(s["train_seconds"] for s in summaries),
        "analysis_seconds": sum(s["analysis_seconds"] for s in summaries),
        "executor": f"pooled from {len(folders)} folders",
        "seeds": seeds,
        "runs": runs,
        "table": ["results.csv", "results.parquet"],
        "verdicts": [v.to_dict() for v in verdicts],
        "pooled_from": [_source(f, s) for f, s in zip(folders, summaries)],
        **extra,
    }
    for key, value in base.items():
        if isinstance(value, dict) and "judgements" in value and "verdict" in value:
            summary[key] = pool_reading([s[key] for s in summaries])
    table = pd.DataFrame([row for r in read for row in r[2]]).sort_values("param.seed")
    config = {**configs[0], "seeds": seeds}

    out.mkdir(parents=True, exist_ok=True)
    if base.get("figures"):
        (out / "figures").mkdir(exist_ok=True)
        for name in base["figures"]:
            shutil.copy2(folders[0] / "figures" / name, out / "figures" / name)
    write_table(table, out)
    atomic_write_text(out / "experiment.json", json.dumps(config, indent=2) + "\n")
    return write_summary(exp, summary, out)
