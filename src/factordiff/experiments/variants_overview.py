"""The overview of an experiment's training variants: each claim's verdict per variant.

:func:`variants_overview` builds it from the variants' summaries (each claim's verdict in
each variant, and in how many variants it holds), :func:`write_overview` writes it as
``OUT/variants.json`` and renders it as ``OUT/variants.md``. It is the last step of
:func:`~factordiff.experiments.variants.run_variants`; :func:`overview_of_folders` builds
it over variants run by separate commands. Split from :mod:`factordiff.experiments.variants`,
which re-exports these names.
"""

from __future__ import annotations

import json
from pathlib import Path

from factordiff.config import json_ready
from factordiff.jsonfiles import expect_object, invalid, read_summary
from factordiff.paths import check_writable_folder

VARIANTS_FILE = "variants.json"
VARIANTS_REPORT = "variants.md"


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

    from factordiff.experiments import resolve_experiment

    if not folders:
        raise ValueError("no folders given; allowed: one or more finished experiment folders")
    out = Path(out)
    check_writable_folder(out)  # a file in the way: refused before anything is read or written
    summaries: dict[str, dict] = {}
    where: dict[str, str] = {}
    preset = None
    for folder in map(Path, folders):
        s = _read_variant_summary(folder)
        path = folder / "summary.json"
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


def _read_variant_summary(folder: Path) -> dict:
    """``folder/summary.json``, its sensitivity map (if any) and experiment name checked;
    a missing or bad one raises ValueError naming the file and what is allowed."""
    from factordiff.experiments import preset_names, resolve_experiment

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
    return s
