"""The page's header (what made the results) and its Markdown twin.

Both read the context :func:`factordiff.experiments.page_content.collect` builds, so the
HTML page, the ``.md`` beside it and the README's Results table (:func:`readme_results`)
come from the same data. Nothing here depends on when or where the page is built: the page
of a folder is the same bytes wherever and whenever it is rebuilt.
"""

from __future__ import annotations

from pathlib import Path

from factordiff.experiments.claims import claims_markdown

TITLE = "factordiff reproduction report: How Diffusion Models Learn to Factorize and Compose"
PAPER = "Liang, Liu, Ostrow, Fiete, NeurIPS 2024 (arXiv 2408.13256)"

#: The markers between which :func:`readme_results` puts the claims table.
README_START = "<!-- results-table:start -->"
README_END = "<!-- results-table:end -->"


def rung_of(deviations: list[str]) -> str:
    """Which rung of the ladder (docs/fidelity.md) a run's remaining deviations are: "rung K"
    when they are the last deviations of the ladder's list, else "off the ladder"."""
    from factordiff.ladder import DEVIATIONS

    names = [str(d).split(":")[0] for d in deviations]
    ladder = [d.name for d in DEVIATIONS]
    for k in range(len(ladder) + 1):
        if names == ladder[k:]:
            name = "the paper's network as we read it" if k == len(ladder) else "by its deviations"
            return f"rung {k} of the ladder ({name})"
    return "off the ladder"


def _distinct(values) -> list[str]:
    out: list[str] = []
    for v in values:
        if v not in (None, "") and str(v) not in out:
            out.append(str(v))
    return out


def header_rows(context: dict) -> list[tuple[str, str]]:
    """The page's header: scale, model (rung and remaining deviations per experiment), the
    machine, and the package version, git commit and torch version that made the results
    (``not recorded`` for summaries written before they were)."""
    record = context.get("record") or {}
    shown = [s for s in context["sections"] if s["summary"]]
    rows = [("Paper", PAPER), ("Scale", str(record.get("scale") or "one experiment folder"))]
    models = []
    for s in shown:
        devs = s.get("deviations")
        if devs is None:
            models.append(f"{s['name']}: not recorded")
        else:
            left = "; ".join(d.split(":")[0] for d in devs) or "none"
            models.append(f"{s['name']}: {rung_of(devs)}; deviations left: {left}")
    rows.append(("Model", " | ".join(models) or "n/a"))
    machines = _distinct([record.get("cpu")] + [m for s in shown for m in s.get("machines", [])])
    rows.append(("Machine", "; ".join(machines) or "not recorded"))
    for key, label in (
        ("factordiff", "factordiff"),
        ("git_commit", "git commit"),
        ("torch", "torch"),
    ):
        values = _distinct((s.get("provenance") or {}).get(key) for s in shown)
        missing = [s["name"] for s in shown if not (s.get("provenance") or {}).get(key)]
        text = "; ".join(values)
        if missing:
            text += ("; " if text else "") + f"not recorded ({', '.join(missing)})"
        rows.append((label, text or "n/a"))
    return rows


def page_markdown(context: dict) -> str:
    """The page as Markdown (renders on a repository host): the header, the claims table,
    then per experiment its folder's report and figures with their captions."""
    lines = [f"# {TITLE}", ""]
    lines += [f"- **{k}**: {v}" for k, v in header_rows(context)]
    lines += ["", "## Claims", "", claims_markdown(context["claim_rows"])]
    for s in context["sections"]:
        lines += [f"## {s['title']}", ""]
        folder = s["folder"]
        if not s["summary"]:
            lines += [f"Missing: {s['missing']}.", ""]
            continue
        lines += [f"Report: [{folder}/report.md]({folder}/report.md)", ""]
        for f in s["figures"]:
            path = f"{folder}/figures/{f['name']}"
            lines += [f"![{f['name']}]({path})", "", f"*{f['caption']}*", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def markdown_path(page: Path, root: Path) -> Path | None:
    """Where the Markdown twin of ``page`` goes (beside it, ``.md``), or None where that is
    an experiment's own ``report.md``."""
    path = page.with_suffix(".md")
    single = (root / "summary.json").is_file() or (root / "sweep.json").is_file()
    if single and path.resolve() == (root / "report.md").resolve():
        return None
    return path


def check_readme(readme: str | Path) -> None:
    """``ValueError`` naming ``readme`` unless it is a file holding both results markers."""
    path = Path(readme)
    text = path.read_text() if path.is_file() else None
    if text is None or README_START not in text or README_END not in text:
        raise ValueError(
            f"readme = {str(path)!r} is invalid: "
            + ("no such file" if text is None else "it lacks the results markers")
            + f"; allowed: a Markdown file holding {README_START} and {README_END}"
        )


def readme_results(context: dict, readme: str | Path) -> None:
    """Put the claims table between :data:`README_START` and :data:`README_END` of
    ``readme`` (``ValueError`` without them; nothing written then)."""
    from factordiff.analysis.calibration import replace_between

    replace_between(Path(readme), README_START, README_END, claims_markdown(context["claim_rows"]))


__all__ = [
    "README_END",
    "README_START",
    "check_readme",
    "TITLE",
    "header_rows",
    "markdown_path",
    "page_markdown",
    "readme_results",
    "rung_of",
]
