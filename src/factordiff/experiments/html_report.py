"""Leaf: finished experiment folders -> one self-contained HTML page. Reads, never computes.

The page (``report.html``) is rendered by Jinja2 from the template shipped in
``factordiff/templates/``: at the top one table of every claim of every experiment (the
paper's statement, our measured value with its spread over seeds, the verdict, a link to
its section), then one section per experiment with its setting, its verdicts with their
rules and controls, its own tables (from its ``report.md``), its figures (embedded as
base64 data, so the page needs no server, no network and no other file) and every run of
its sweep that is not finished (failed, with its error; running; pending). An experiment
without a ``summary.json`` is listed as missing, never skipped.

Inputs, all written by the experiments: ``summary.json``, ``report.md``, ``figures/``,
``sweep.json`` and the run folders (``environment.json``, ``failure.json``, read through
:func:`factordiff.experiments.sweep.sweep_status`), and for a reproduce folder its
``reproduce.json``.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from pathlib import Path
from typing import Any

from factordiff.experiments.report import fmt

PAGE_FILE = "report.html"
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
IMAGE_TYPES[".svg"] = "image/svg+xml"


# ----------------------------------------------------------------------------- markdown
def _inline(text: str) -> str:
    """Escaped text with ``code`` and **bold** of our reports turned into HTML."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row; ``\\|`` is a ``|`` inside a cell."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    parts = re.split(r"(?<!\\)\|", inner)
    return [c.strip().replace("\\|", "|") for c in parts]


def markdown_html(text: str) -> str:
    """The Markdown our ``report.md`` files use (``#`` headings, pipe tables, ``- `` lists,
    paragraphs, code and bold) as HTML; everything is escaped first. Headings go down two
    levels so that they sit under the experiment's own heading."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = min(6, len(line) - len(line.lstrip("#")) + 2)
            out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            i += 1
        elif line.lstrip().startswith("|"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            rows = [b for b in block if not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", b)]
            head, body = _cells(rows[0]), rows[1:]
            parts = ["<table>", "<thead><tr>"]
            parts += [f"<th>{_inline(c)}</th>" for c in head]
            parts.append("</tr></thead><tbody>")
            for row in body:
                parts.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(row)))
                parts.append("</tr>")
            parts.append("</tbody></table>")
            out.append("".join(parts))
        elif line.lstrip().startswith("- "):
            items = []
            while i < len(lines) and lines[i].lstrip().startswith("- "):
                items.append(f"<li>{_inline(lines[i].lstrip()[2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        else:
            para = []
            while (
                i < len(lines)
                and lines[i].strip()
                and not lines[i].startswith("#")
                and not lines[i].lstrip().startswith(("|", "- "))
            ):
                para.append(_inline(lines[i].strip()))
                i += 1
            out.append("<p>" + "<br>".join(para) + "</p>")
    return "\n".join(out)


def report_md_sections(text: str) -> str:
    """The experiment's own part of a ``report.md``: after the verdict table, before
    ``## Figures`` (the page renders the header, verdicts and figures itself), preceded by
    any note between ``## Verdicts`` and the table (e.g. that the run was judged again)."""
    lines = text.splitlines()
    try:
        start = next(i for i, s in enumerate(lines) if s.strip() == "## Verdicts") + 1
    except StopIteration:
        return ""
    table = next(
        (i for i in range(start, len(lines)) if lines[i].lstrip().startswith("|")), len(lines)
    )
    note = "\n".join(lines[start:table]).strip()
    start = table
    while start < len(lines) and lines[start].lstrip().startswith("|"):
        start += 1
    end = next(
        (i for i in range(start, len(lines)) if lines[i].strip() == "## Figures"), len(lines)
    )
    rest = "\n".join(lines[start:end]).strip()
    return "\n\n".join(part for part in (note, rest) if part)


# ----------------------------------------------------------------------------- reading
def _read_json(path: Path) -> tuple[Any, str | None]:
    """``(content, None)`` or ``(None, why it could not be read)``."""
    try:
        return json.loads(path.read_text()), None
    except FileNotFoundError:
        return None, f"no {path.name}"
    except (OSError, json.JSONDecodeError) as e:
        return None, f"{path.name} unreadable ({e})"


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
    if v.get("not_judged"):
        return f"not judged: {v['not_judged']}"
    text = "reproduced" if v.get("reproduced") else "not reproduced"
    spread = v.get("spread")
    if spread and "reproduced_in" in spread:
        text += f" ({spread['reproduced_in']} of {len(spread.get('seeds', []))} seeds)"
    return text


def _duration(seconds: Any) -> str:
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
        env, _ = _read_json(folder / "runs" / key / "environment.json")
        if not isinstance(env, dict):
            continue
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


def _sweep(folder: Path) -> tuple[dict | None, str | None]:
    """``sweep_status`` of the folder (None without a sweep.json, with the reason)."""
    from factordiff.experiments.sweep import SWEEP_FILE, sweep_status

    if not (folder / SWEEP_FILE).is_file():
        return None, None
    try:
        return sweep_status(folder), None
    except (OSError, ValueError, KeyError, TypeError) as e:
        return None, f"sweep.json unreadable ({type(e).__name__}: {e})"


def experiment_section(name: str, folder: Path, entry: dict | None = None) -> dict:
    """What the page shows of one experiment folder (``entry``: its reproduce.json entry)."""
    folder = Path(folder)
    anchor = "exp-" + _slug(name)
    summary, summary_error = _read_json(folder / "summary.json")
    if summary is not None and not isinstance(summary, dict):
        summary, summary_error = None, "summary.json is not a JSON object"
    status, sweep_error = _sweep(folder)
    problems = [r for r in (status or {}).get("runs", []) if r["status"] != "done"]
    notes = []
    if sweep_error:
        notes.append(sweep_error)
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
    for i, v in enumerate(summary.get("verdicts", [])):
        section["verdicts"].append(
            {
                "anchor": f"{anchor}-claim-{i + 1}",
                "claim": str(v.get("claim", "")),
                "paper": str(v.get("paper") or ""),
                "measured": _measured(v),
                "rule": str(v.get("rule", "")),
                "control": fmt(v.get("control")) if v.get("control") is not None else "",
                "verdict": _verdict_text(v),
                "reproduced": bool(v.get("reproduced")),
            }
        )
    section["figures"] = [_figure(folder, str(f)) for f in summary.get("figures", [])]

    env = _environments(folder, keys)
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
            f"{_duration(summary.get('wall_seconds'))} (training "
            f"{_duration(summary.get('train_seconds'))}"
            + (" summed over runs" if len(keys) > 1 else "")
            + f", analysis {_duration(summary.get('analysis_seconds'))})",
        ),
    ]
    section["setting"] = [(k, str(v)) for k, v in rows if v not in (None, "", [])]
    report_md = folder / "report.md"
    if report_md.is_file():
        section["extra"] = markdown_html(report_md_sections(report_md.read_text()))
    return section


def _experiment_folders(root: Path, record: dict | None) -> list[tuple[str, Path]]:
    """The experiment folders of a reproduce folder: the paper's four (present or not),
    then any other subfolder holding a summary.json or sweep.json, then any named in the
    record."""
    from factordiff.experiments.reproduce import ORDER

    names = list(ORDER)
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
    from factordiff.experiments.reproduce import RECORD_FILE

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root} is not a folder; allowed: an experiment or reproduce folder"
        )
    record, record_error = _read_json(root / RECORD_FILE)
    if record is not None and not isinstance(record, dict):
        record, record_error = None, f"{RECORD_FILE} is not a JSON object"
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
    claims = []
    for s in sections:
        if not s["verdicts"]:
            claims.append({"section": s, "verdict": None})
        for v in s["verdicts"]:
            claims.append({"section": s, "verdict": v})
    return {
        "title": "factordiff: How Diffusion Models Learn to Factorize and Compose, reproduced",
        "root": str(root.resolve()),
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "record": record,
        "record_error": record_error if (root / RECORD_FILE).exists() else None,
        "sections": sections,
        "claims": claims,
        "missing": [s for s in sections if not s["summary"]],
        "with_problems": [s for s in sections if s["problems"] or s["status"] == "failed"],
    }


# ----------------------------------------------------------------------------- rendering
def render_page(context: dict) -> str:
    """The HTML text of the page (template ``factordiff/templates/report.html.j2``)."""
    import jinja2
    import markupsafe

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("factordiff", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = _duration
    env.filters["markup"] = markupsafe.Markup  # HTML built here from escaped text
    return env.get_template("report.html.j2").render(**context)


def write_report(root: str | Path, out: str | Path | None = None) -> Path:
    """Write the page of ``root`` to ``out`` (default ``root/report.html``); returns its path."""
    import os

    text = render_page(collect(root))
    path = Path(out) if out is not None else Path(root) / PAGE_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # atomic: a reader never sees half a page
    return path
