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
``reproduce.json``. A file not written yet is listed as missing; one that is there but
garbled or of another shape stops the page with one ``ValueError`` naming it
(:mod:`factordiff.jsonfiles`).

The page carries a marker, ``<script type="application/json" id="factordiff-report">``
with the experiments it shows with results; :func:`write_report` reads it back and does not
replace a page with one that would lose any of them unless ``force`` (a page written before
the marker is read from its claims table; another file at the path is replaced only with
``force``).
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

from factordiff.experiments.captions import summary_caption
from factordiff.experiments.claims import claim_row
from factordiff.experiments.judgement import INCONCLUSIVE, REPRODUCED, verdict_of, verdict_text
from factordiff.experiments.page_md import (
    TITLE,
    check_readme,
    header_rows,
    markdown_path,
    page_markdown,
    readme_results,
)
from factordiff.experiments.report import fmt
from factordiff.jsonfiles import (
    SUMMARY_ALLOWED,
    check_summary,
    expect_object,
    read_json,
)

PAGE_FILE = "report.html"
ENVIRONMENT_ALLOWED = "a run's environment as factordiff train writes it (a JSON object)"
MARKER_ID = "factordiff-report"
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
                "answer": _ANSWER_CLASS.get(verdict_of(v), "no"),
                "row": claim_row(name, v),
            }
        )
    section["figures"] = [
        _figure(folder, str(f)) | {"caption": summary_caption(summary, str(f))}
        for f in summary.get("figures", [])
    ]

    env = _environments(folder, keys)
    section["deviations"] = summary.get("deviations")
    section["provenance"] = summary.get("provenance")
    section["machines"] = env["cpu"] + env["gpu"]
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
    from factordiff.experiments.reproduce import RECORD_ALLOWED, RECORD_FILE, check_record

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
    return env.get_template("report.html.j2").render(**context, marker=_marker(context))


def _shown(context: dict) -> list[str]:
    """The experiments a page of ``context`` shows with results (a summary.json)."""
    return [s["name"] for s in context["sections"] if s["summary"]]


def _marker(context: dict) -> str:
    """The page's machine-readable marker (``<script type="application/json"
    id="factordiff-report">``): the experiments it shows with results, read back by
    :func:`page_experiments`. ``<``, ``>`` and ``&`` are escaped, so that no name can end
    the script element."""
    text = json.dumps({"format": 1, "experiments": _shown(context)})
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_MARKER = re.compile(
    r'<script type="application/json" id="' + MARKER_ID + r'">(.*?)</script>', re.DOTALL
)
# a claim row of a page written before the marker: the experiment, then its first claim
_LEGACY_ROW = re.compile(r'<tr><td><a href="#([^"]+)">([^<]*)</a></td><td><a href="#\1-claim-1">')
_KEEP = "allowed: --force to replace it, or --out for another page"


def page_experiments(path: str | Path) -> list[str]:
    """The experiments an existing page shows with results: from its marker, or, on a page
    written before the marker, from its claims table (each experiment whose first claim has
    a row). ``ValueError`` naming the page when it is not one ``factordiff report`` wrote or
    its marker is garbled: such a file is replaced only with ``force``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = ""
    match = _MARKER.search(text)
    if match:
        try:
            doc = json.loads(match.group(1))
        except json.JSONDecodeError:
            doc = None
        names = doc.get("experiments") if isinstance(doc, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{path}: its {MARKER_ID} marker is garbled; {_KEEP}")
        return names
    if "by <code>factordiff report</code>" in text:  # a page from before the marker
        return [html.unescape(name) for _, name in _LEGACY_ROW.findall(text)]
    raise ValueError(f"{path} exists and is not a page written by factordiff report; {_KEEP}")


def _check_page_path(path: Path) -> None:
    """Refuse a page path that cannot be written, before anything is."""
    from factordiff.paths import check_writable_folder

    if path.is_dir():
        raise ValueError(
            f"{path} is a folder; allowed: the path of the page file, e.g. {path / PAGE_FILE}"
        )
    if not path.parent.exists():
        raise ValueError(
            f"{path.parent} does not exist (the folder of the page {path.name}); allowed: a "
            "page path in an existing folder"
        )
    if not path.parent.is_dir():
        raise ValueError(
            f"{path.parent} is a file, not a folder (the folder of the page {path.name}); "
            "allowed: a page path in an existing folder"
        )
    check_writable_folder(path.parent)


def write_report(
    root: str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
    readme: str | Path | None = None,
) -> Path:
    """Write the page of ``root`` to ``out`` (default ``root/report.html``) and its Markdown
    twin beside it (``report.md``; not for one experiment's folder, whose own report.md is
    that twin); with ``readme``, the same claims table between the results markers of that
    file (:func:`~factordiff.experiments.page_md.readme_results`). Returns the page's path.

    A page that would show no experiment with results is refused without ``force``. An
    existing page is replaced only by one that shows every experiment it shows with
    results (:func:`page_experiments`), or with ``force``: so that a page is never replaced
    by a poorer one, e.g. of a copy of a reproduce folder whose experiment folders are
    missing. A bad ``out`` (a folder, in a folder that does not exist) is refused before
    anything is written; a failed write leaves no temporary file."""
    import os

    context = collect(root)
    path = Path(out) if out is not None else Path(root) / PAGE_FILE
    _check_page_path(path)
    if path.exists() and not force:
        old, new = page_experiments(path), _shown(context)
        lost = [n for n in old if n not in new]
        if lost:
            listed = f" ({', '.join(new)})" if new else ""
            raise ValueError(
                f"{path} shows {len(old)} experiment(s) with results ({', '.join(old)}), the "
                f"new page of {root} would show {len(new)}{listed} and lose {', '.join(lost)}; "
                f"{_KEEP}"
            )
    if not _shown(context) and not force:
        raise ValueError(
            f"{root} holds no experiment with results (no summary.json in any experiment "
            f"folder): the page would show nothing; allowed: a folder of `factordiff "
            f"reproduce` or `factordiff experiment` with at least one summary.json, or --force"
        )
    if readme is not None:  # its markers are checked before anything is written
        check_readme(readme)
    md = markdown_path(path, Path(root))
    for target, text in ((path, render_page(context)), (md, page_markdown(context))):
        if target is None:  # a single experiment's own report.md is its twin already
            continue
        tmp = target.with_name(target.name + ".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)  # atomic: a reader never sees half a page
        finally:
            tmp.unlink(missing_ok=True)  # gone after the replace; a failed write leaves none
    if readme is not None:
        readme_results(context, readme)
    return path
