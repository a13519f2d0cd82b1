"""Leaf: finished experiment folders -> one self-contained HTML page. Reads, never computes.

The page (``report.html``) is rendered by Jinja2 from the template shipped in
``factordiff/templates/``: at the top one table of every claim of every experiment (the
paper's statement, our measured value with its spread over seeds, the verdict, a link to
its section), then one section per experiment with its setting, its verdicts with their
rules and controls, its own tables (from its ``report.md``), its figures (embedded as
base64 data, so the page needs no server, no network and no other file) and every run of
its sweep that is not finished (failed, with its error; running; pending). An experiment
without a ``summary.json`` is listed as missing, never skipped.

The content is read by :func:`~factordiff.experiments.page_content.collect` (the reports'
Markdown turned into HTML by :mod:`factordiff.experiments.markdown_html`) from inputs all
written by the experiments: ``summary.json``, ``report.md``, ``figures/``,
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

import html
import json
import re
from pathlib import Path

from factordiff.experiments.markdown_html import markdown_html, report_md_sections
from factordiff.experiments.page_content import collect, duration_text
from factordiff.experiments.page_md import (
    check_readme,
    markdown_path,
    page_markdown,
    readme_results,
)

PAGE_FILE = "report.html"
MARKER_ID = "factordiff-report"


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
    env.filters["duration"] = duration_text
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


__all__ = [  # with the page's content and Markdown, read from here by earlier callers
    "MARKER_ID",
    "PAGE_FILE",
    "collect",
    "markdown_html",
    "page_experiments",
    "render_page",
    "report_md_sections",
    "write_report",
]
