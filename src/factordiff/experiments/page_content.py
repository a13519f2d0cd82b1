"""Leaf: what the report page shows, read from finished experiment folders. Reads, never
computes.

:func:`collect` builds the page's context from a reproduce folder (every registered
experiment's folder, present or not, then any other) or one experiment folder: per
experiment (:func:`experiment_section`) its setting, its verdicts with their rules and
controls, its own tables (from its ``report.md``), its figures (as base64 data) and every
run of its sweep that is not finished. An experiment without a ``summary.json`` is listed as
missing, never skipped; a file that is there but garbled or of another shape stops the page
with one ``ValueError`` naming it (:mod:`factordiff.jsonfiles`). Rendered by
:mod:`factordiff.experiments.html_report` (HTML) and :mod:`factordiff.experiments.page_md`
(its Markdown twin).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from factordiff.experiments.captions import summary_caption
from factordiff.experiments.claims import claim_row
from factordiff.experiments.judgement import INCONCLUSIVE, REPRODUCED, verdict_of, verdict_text
from factordiff.experiments.markdown_html import markdown_html, report_md_sections
from factordiff.experiments.page_md import TITLE, header_rows
from factordiff.experiments.record import RECORD_ALLOWED, RECORD_FILE, check_record
from factordiff.experiments.registry import experiment_names
from factordiff.experiments.report import fmt
from factordiff.jsonfiles import SUMMARY_ALLOWED, check_summary, expect_object, read_json

ENVIRONMENT_ALLOWED = "a run's environment as factordiff train writes it (a JSON object)"
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
IMAGE_TYPES[".svg"] = "image/svg+xml"


def _read_json(path: Path, allowed: str) -> tuple[Any, str | None]:
    """``(content, None)``, or ``(None, "no NAME")`` for a file not written yet: the page
    lists what is missing. A file that is there but garbled is no state of an experiment
    (every file is written whole, by a rename): ``ValueError`` naming it
    (:mod:`factordiff.jsonfiles`), and no page."""
    if not path.is_file():
        return None, f"no {path.name}"
    return read_json(path, allowed), None


def _data_uri(path: Path) -> str:
    mime = IMAGE_TYPES[path.suffix.lower()]
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _figure(folder: Path, name: str) -> dict:
    """A figure of ``summary["figures"]``: under ``figures/`` or relative to the folder."""
    for path in (folder / "figures" / name, folder / name):
        if path.is_file() and path.suffix.lower() in IMAGE_TYPES:
            return {"name": name, "src": _data_uri(path)}
    return {"name": name, "src": None}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "experiment"


def _measured(v: dict) -> str:
    """The measured value with its spread over seeds: each seed's value (a list ``value``
    with one entry per seed, or the spread's ``per_seed``), then mean, std and range."""
    value, spread = v.get("value"), v.get("spread") or {}
    seeds = spread.get("seeds") or []
    per_seed = value if isinstance(value, list) else spread.get("per_seed")
    if seeds and isinstance(per_seed, list) and len(per_seed) == len(seeds):
        parts = [] if per_seed is value else [fmt(value)]
        parts += [f"seed {s}: {fmt(x)}" for s, x in zip(seeds, per_seed)]
    else:
        parts = [fmt(value)]
    text = "; ".join(parts)
    if "mean" in spread:
        text += f"; mean {fmt(spread['mean'])}"
        extra = []
        if "std" in spread:
            extra.append(f"std {fmt(spread['std'])}")
        if "min" in spread and "max" in spread:
            extra.append(f"range {fmt(spread['min'])} to {fmt(spread['max'])}")
        if extra:
            text += f" ({', '.join(extra)})"
    return text


def _verdict_text(v: dict) -> str:
    return verdict_text(v)


#: The page's CSS class of each answer.
_ANSWER_CLASS = {REPRODUCED: "ok", INCONCLUSIVE: "inc"}


def _deviations(summary: dict) -> str | None:
    """The deviations a summary lists (None for summaries written before the ladder)."""
    devs = summary.get("deviations")
    if not isinstance(devs, list):
        return None
    return "; ".join(str(d) for d in devs) or "none (the paper's network as we read it)"


def duration_text(seconds: Any) -> str:
    """``42 s`` or ``12.5 min`` (``n/a`` for anything but a number)."""
    if not isinstance(seconds, int | float):
        return "n/a"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _environments(folder: Path, keys: list[str]) -> dict[str, list[str]]:
    """Distinct CPU, GPU, device, threads and precision over the runs' environment.json."""
    seen: dict[str, list[str]] = {
        "cpu": [],
        "gpu": [],
        "device": [],
        "threads": [],
        "precision": [],
    }
    for key in keys:
        path = folder / "runs" / key / "environment.json"
        env, _ = _read_json(path, ENVIRONMENT_ALLOWED)
        if env is None:
            continue
        expect_object(env, path, "", ENVIRONMENT_ALLOWED, optional={"precision": (dict, str)})
        prec = env.get("precision") or {}
        values = {
            "cpu": env.get("cpu"),
            "gpu": env.get("gpu"),
            "device": env.get("device"),
            "threads": env.get("num_threads"),
            "precision": prec.get("used") if isinstance(prec, dict) else prec,
        }
        for k, v in values.items():
            if v is not None and str(v) not in seen[k]:
                seen[k].append(str(v))
    return seen


def _sweep(folder: Path) -> dict | None:
    """``sweep_status`` of the folder (None without a sweep.json); a garbled sweep.json or
    run file raises ``ValueError`` naming it."""
    from factordiff.experiments.sweep import SWEEP_FILE, sweep_status

    if not (folder / SWEEP_FILE).is_file():
        return None
    return sweep_status(folder)


def experiment_section(name: str, folder: Path, entry: dict | None = None) -> dict:
    """What the page shows of one experiment folder (``entry``: its reproduce.json entry)."""
    folder = Path(folder)
    anchor = "exp-" + _slug(name)
    summary, summary_error = _read_json(folder / "summary.json", SUMMARY_ALLOWED)
    if summary is not None:
        check_summary(summary, folder / "summary.json")
    status = _sweep(folder)
    problems = [r for r in (status or {}).get("runs", []) if r["status"] != "done"]
    notes = []
    if entry and entry.get("status") == "failed":
        notes.append(f"the last reproduce failed here: {entry.get('error')}")
    elif entry and entry.get("status") in ("running", "interrupted"):
        notes.append(f"the last reproduce stopped here ({entry['status']})")
    section: dict[str, Any] = {
        "name": name,
        "anchor": anchor,
        "folder": str(folder),
        "title": name,
        "summary": summary is not None,
        "missing": None if summary is not None else (summary_error or "no summary.json"),
        "status": entry.get("status") if entry else None,
        "error": entry.get("error") if entry else None,
        "problems": problems,
        "counts": (status or {}).get("counts"),
        "notes": notes,
        "verdicts": [],
        "deviations": None,
        "provenance": None,
        "machines": [],
        "figures": [],
        "setting": [],
        "extra": "",
    }
    if summary is None:
        return section

    section["title"] = summary.get("title") or summary.get("experiment") or name
    keys = [r["key"] for r in summary.get("runs", []) if "key" in r]
    if status is not None and sorted(keys) != sorted(r["key"] for r in status["runs"]):
        notes.append(
            "summary.json was written for other runs than sweep.json lists now (a changed "
            "config): its numbers are of the earlier runs"
        )
    section["verdicts"] = [
        _verdict_row(name, f"{anchor}-claim-{i + 1}", v)
        for i, v in enumerate(summary.get("verdicts", []))
    ]
    section["figures"] = [
        _figure(folder, str(f)) | {"caption": summary_caption(summary, str(f))}
        for f in summary.get("figures", [])
    ]

    env = _environments(folder, keys)
    section["deviations"] = summary.get("deviations")
    section["provenance"] = summary.get("provenance")
    section["machines"] = env["cpu"] + env["gpu"]
    section["setting"] = _setting_rows(summary, status, keys, env)
    report_md = folder / "report.md"
    if report_md.is_file():
        section["extra"] = markdown_html(report_md_sections(report_md.read_text()))
    return section


def _verdict_row(name: str, anchor: str, v: dict) -> dict:
    """One verdict of a summary as the page shows it (``anchor``: its link target)."""
    return {
        "anchor": anchor,
        "claim": str(v.get("claim", "")),
        "paper": str(v.get("paper") or ""),
        "measured": _measured(v),
        "rule": str(v.get("rule", "")),
        "control": fmt(v.get("control")) if v.get("control") is not None else "",
        "verdict": _verdict_text(v),
        "reproduced": bool(v.get("reproduced")),
        "answer": _ANSWER_CLASS.get(verdict_of(v), "no"),
        "row": claim_row(name, v),
    }


def _setting_rows(
    summary: dict, status: dict | None, keys: list[str], env: dict[str, list[str]]
) -> list[tuple[str, str]]:
    """The setting table of an experiment's section: ``(label, text)`` of each value known
    (the runs' ``keys``, its sweep ``status``, its runs' environments ``env``)."""
    budget = None
    if status is not None:
        per_run = sorted({r["total_steps"] for r in status["runs"]})
        steps = ", ".join(f"{s:,}" for s in per_run)
        budget = (
            f"{len(status['runs'])} run(s), {status['total_steps']:,} optimizer steps in all "
            f"({steps} per run)"
        )
    elif summary.get("budget_steps"):
        budget = f"{summary['budget_steps']:,} optimizer steps per run"
    seeds = summary.get("seeds")
    rows = [
        ("Setting", summary.get("setting")),
        ("Deviations from the paper's network", _deviations(summary)),
        ("Command", summary.get("command")),
        ("Device", summary.get("device")),
        ("CPU", "; ".join(env["cpu"]) or summary.get("cpu")),
        ("GPU", "; ".join(env["gpu"])),
        ("Precision used", ", ".join(env["precision"])),
        ("Torch threads", ", ".join(env["threads"])),
        ("Executor", summary.get("executor")),
        ("Budget", budget),
        ("Seeds", ", ".join(str(s) for s in seeds) if isinstance(seeds, list) else None),
        (
            "Wall time",
            f"{duration_text(summary.get('wall_seconds'))} (training "
            f"{duration_text(summary.get('train_seconds'))}"
            + (" summed over runs" if len(keys) > 1 else "")
            + f", analysis {duration_text(summary.get('analysis_seconds'))})",
        ),
    ]
    return [(k, str(v)) for k, v in rows if v not in (None, "", [])]


def _experiment_folders(root: Path, record: dict | None) -> list[tuple[str, Path]]:
    """The experiment folders of a reproduce folder: every registered experiment's (present
    or not; the paper's four), then any other subfolder holding a summary.json or sweep.json,
    then any named in the record."""
    names = experiment_names()
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name not in names and (
            (sub / "summary.json").is_file() or (sub / "sweep.json").is_file()
        ):
            names.append(sub.name)
    for e in (record or {}).get("experiments", []):
        if e.get("name") not in names:
            names.append(e["name"])
    return [(n, root / n) for n in names]


def collect(root: str | Path) -> dict:
    """The page's content from ``root``: a reproduce folder (with ``exp1/``, ...) or one
    experiment folder (with ``summary.json`` or ``sweep.json``)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root} is not a folder; allowed: an experiment or reproduce folder"
        )
    record, _ = _read_json(root / RECORD_FILE, RECORD_ALLOWED)
    if record is not None:
        check_record(record, root / RECORD_FILE)
    single = (root / "summary.json").is_file() or (root / "sweep.json").is_file()
    if single:
        folders = [(root.name, root)]
    else:
        folders = _experiment_folders(root, record)
        if record is None and not any(f.is_dir() for _, f in folders):
            raise FileNotFoundError(
                f"{root} holds no summary.json, sweep.json, {RECORD_FILE} or experiment "
                "folder; allowed: a folder written by `factordiff experiment` or "
                "`factordiff reproduce`"
            )
    entries = {e.get("name"): e for e in (record or {}).get("experiments", [])}
    sections = [experiment_section(n, f, entries.get(n)) for n, f in folders]
    for section, (_, folder) in zip(sections, folders, strict=True):
        # paths relative to the page's folder: the page reads the same wherever it is built
        section["folder"] = "." if folder == root else folder.relative_to(root).as_posix()
    claims = []
    for s in sections:
        if not s["verdicts"]:
            claims.append({"section": s, "verdict": None})
        for v in s["verdicts"]:
            claims.append({"section": s, "verdict": v})
    context = {
        "title": TITLE,
        "record": record,
        "sections": sections,
        "claims": claims,
        "claim_rows": [v["row"] for s in sections for v in s["verdicts"]],
        "missing": [s for s in sections if not s["summary"]],
        "with_problems": [s for s in sections if s["problems"] or s["status"] == "failed"],
    }
    context["header"] = header_rows(context)
    return context


__all__ = [
    "ENVIRONMENT_ALLOWED",
    "IMAGE_TYPES",
    "collect",
    "duration_text",
    "experiment_section",
]
