"""Leaf: the Markdown our ``report.md`` files use, as HTML for the report page.

:func:`markdown_html` renders ``#`` headings, pipe tables, ``- `` lists, paragraphs, code and
bold, everything escaped first; :func:`report_md_sections` cuts an experiment's own part out
of its ``report.md`` (the page renders the header, verdicts and figures itself).
"""

from __future__ import annotations

import html
import re


def _inline(text: str) -> str:
    """Escaped text with ``code`` and **bold** of our reports turned into HTML."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def table_cells(line: str) -> list[str]:
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
            head, body = table_cells(rows[0]), rows[1:]
            parts = ["<table>", "<thead><tr>"]
            parts += [f"<th>{_inline(c)}</th>" for c in head]
            parts.append("</tr></thead><tbody>")
            for row in body:
                parts.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in table_cells(row)))
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


__all__ = ["markdown_html", "report_md_sections", "table_cells"]
