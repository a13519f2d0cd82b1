"""Leaf: ``summary.json`` content -> ``report.md`` text. Reads numbers, never computes them.

The verdict table is rendered from verdict data (claim, paper's statement, measured value,
rule, control, spread over seeds, verdict); experiments add their own sections below it.
"""

from __future__ import annotations

from typing import Any

from factordiff.experiments.captions import summary_caption
from factordiff.experiments.judgement import REPRODUCED, verdict_of, verdict_text


def fmt(v: Any) -> str:
    """Numbers to 3 significant digits, lists elementwise, mappings as "name value", None
    as n/a."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    if isinstance(v, dict):  # e.g. controls: {"ring_torus": 0.5, "clifford_torus": 0.0}
        return ", ".join(f"{str(k).replace('_', ' ')} {fmt(x)}" for k, x in v.items())
    return str(v)


def _measured(v: dict) -> str:
    spread = v.get("spread")
    if not spread:
        return fmt(v["value"])
    seeds = spread.get("seeds", [])
    if not isinstance(v["value"], list | tuple):
        # one value over all seeds (e.g. an exponent fitted to every seed's points)
        return fmt(v["value"]) + f" (from seeds {fmt(list(seeds))})"
    per_seed = "; ".join(f"seed {s}: {fmt(x)}" for s, x in zip(seeds, v["value"]))
    if "mean" in spread:
        per_seed += (
            f"; mean {fmt(spread['mean'])} (std {fmt(spread['std'])}, "
            f"range {fmt(spread['min'])} to {fmt(spread['max'])})"
        )
    return per_seed


def _verdict(v: dict) -> str:
    return verdict_text(v, emphasis="**")


def _control(v: dict) -> str:
    """The control's value, with whether it passes the rule where a control rule applies."""
    passes = v.get("control_passes")
    if passes is None:
        return fmt(v.get("control"))

    def one(value, ok) -> str:
        return f"{fmt(value)} ({'passes' if ok else 'fails'})"

    if isinstance(passes, list):  # over seeds
        seeds = (v.get("spread") or {}).get("seeds", list(range(len(passes))))
        return "; ".join(f"seed {s}: {one(x, ok)}" for s, x, ok in zip(seeds, v["control"], passes))
    return one(v.get("control"), passes)


def verdict_table(verdicts: list[dict]) -> list[str]:
    """Markdown lines of the verdict table."""
    controls = any(v.get("control") is not None for v in verdicts)
    papers = any(v.get("paper") for v in verdicts)  # summaries written before the skeleton
    head = (
        "| claim |"
        + (" paper |" if papers else "")
        + (" measured |" if any(v.get("spread") for v in verdicts) else " this run |")
        + " rule |"
        + (" control |" if controls else "")
        + " verdict |"
    )
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for v in verdicts:
        cells = [v["claim"]] + ([v.get("paper") or ""] if papers else [])
        cells += [_measured(v), v["rule"]] + ([_control(v)] if controls else []) + [_verdict(v)]
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    return lines


def cell(text) -> str:
    """A Markdown table cell: a ``|`` in the text (e.g. ``|a - b| <= t``) is escaped."""
    return str(text).replace("|", "\\|")


def pooled_lines(sources: list[dict]) -> list[str]:
    """report.md lines naming the folders a pooled summary judged together (none if not)."""
    if not sources:
        return []
    lines = [
        "",
        f"Seeds pooled from {len(sources)} folders (`factordiff pool`), each trained and "
        "analysed in its own call; every claim judged again over all their seeds. The "
        "checkpoint tables and figures are the first folder's.",
        "",
        "| folder | seeds | machine | commit | command |",
        "|---|---|---|---|---|",
    ]
    for p in sources:
        commit = (p.get("provenance") or {}).get("git_commit") or "not recorded"
        seeds = ", ".join(str(x) for x in p["seeds"])
        lines.append(
            f"| `{cell(p['folder'])}` | {seeds} | {cell(p.get('machine') or p.get('device'))} "
            f"| {cell(commit)} | `{cell(p.get('command') or '')}` |"
        )
    return lines + [""]


def render_report(summary: dict, sections: list[str] | None = None) -> str:
    """``report.md`` text: header (command, time, setting), verdicts, ``sections``, figures."""
    s = summary
    title = s.get("title") or s["experiment"]
    summed = " summed over runs" if len(s.get("runs", [])) > 1 else ""
    lines = [
        f"# {title}",
        "",
        f"Command: `{s['command']}`  ",
        f"Wall time: {s['wall_seconds'] / 60:.1f} min (training {s['train_seconds'] / 60:.1f} "
        f"min{summed}, analysis {s['analysis_seconds'] / 60:.1f} min) on {s['device']}"
        + (f" ({s['machine']})" if s.get("machine") else "")
        + ".  ",
        f"Setting: {s['setting']}  ",
    ]
    if "deviations" in s:  # summaries written before the ladder do not say
        devs = s["deviations"]
        lines.append(
            "Deviations from the paper's network that remain in this run: "
            + ("; ".join(devs) if devs else "none (the paper's network as we read it)")
            + " (factordiff.ladder).  "
        )
    if "runs" in s:
        seeds = ", ".join(str(x) for x in s.get("seeds", []))
        lines.append(
            f"Sweep: {len(s['runs'])} run(s) (seeds {seeds}), executor {s.get('executor')}; "
            f"one row per run in {' and '.join(s.get('table', []))}.  "
        )
    lines += pooled_lines(s.get("pooled_from") or [])
    if "analysis" in s:
        a = s["analysis"]
        lines.append(
            f"Representation: layer `{a['layer']}`, t = {a['t']}, {a['pooling']} pooling, "
            f"{a['grid'][0]} x {a['grid'][1]} grid of conditions, noise seed {a['seed']}."
        )
    lines += ["", "## Verdicts", ""]
    for r in s.get("rejudged", []):
        lines += [
            f"Judged again on {r['date']} from the stored results of this run (no training, no "
            f"scoring), after a rule change made after the run: {r['why']}",
            "",
        ]
    lines += verdict_table(s["verdicts"])
    lines += list(sections or [])
    lines += ["", "## Figures", ""]
    for name in s.get("figures", []):
        lines += [f"![{name}](figures/{name})", "", f"*{summary_caption(s, name)}*", ""]
    return "\n".join(lines)


def render_variants(doc: dict) -> str:
    """``variants.md`` text from ``variants.json`` content: one row per claim, one column per
    training variant (its verdict and the seeds it held in), and the count of variants in
    which the claim holds."""
    variants = doc["variants"]
    names = list(variants)
    lines = [
        f"# {doc['experiment']}: training variants",
        "",
        f"Command: `{doc['command']}`  ",
        "Each variant is a whole experiment in its own folder (its `report.md`). A claim "
        "holds in a variant when that variant's verdict, over its seeds, is reproduced.",
        "",
        "| claim | " + " | ".join(f"`{n}`" for n in names) + " | holds in |",
        "|---" * (len(names) + 2) + "|",
    ]
    for i, c in enumerate(doc["claims"]):
        cells = []
        for n in names:
            v = variants[n]["verdicts"][i]
            text = verdict_of(v)
            text = text if text == REPRODUCED else f"**{text}**"
            cells.append(f"{text} ({v['reproduced_in']} of {len(v['seeds'])} seeds)")
        lines.append(
            f"| {c['claim']} | " + " | ".join(cells) + f" | {len(c['holds_in'])} of {c['of']} |"
        )
    mapped = [n for n in names if variants[n].get("map")]
    if mapped:
        rules = list(dict.fromkeys(r for n in mapped for r in variants[n]["map"]))
        lines += [
            "",
            "## Sensitivity map: settings in which each rule holds (final checkpoint, first seed)",
            "",
            "| rule | " + " | ".join(f"`{n}`" for n in mapped) + " |",
            "|---" * (len(mapped) + 1) + "|",
        ]
        for rule in rules:
            claim = next(
                variants[n]["map"][rule]["claim"] for n in mapped if rule in variants[n]["map"]
            )
            cells = []
            for n in mapped:
                c = variants[n]["map"].get(rule)
                cells.append("n/a" if c is None else f"{c['holds']} of {c['settings']}")
            lines.append(f"| {claim} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Variants",
        "",
        "| variant | folder | what | setting | training |",
        "|---|---|---|---|---|",
    ]
    for n, d in variants.items():
        minutes = "n/a" if d.get("train_seconds") is None else f"{d['train_seconds'] / 60:.1f} min"
        folder = d.get("folder", n)
        lines.append(
            f"| `{n}` | [{folder}]({folder}/report.md) | {d['description']} | {d['setting']} "
            f"| {minutes} |"
        )
    failed = doc.get("failed") or {}
    if failed:
        lines += ["", "## Variants not judged (a run did not finish)", ""]
        for n, d in failed.items():
            error = d["error"].replace("\n", " ")
            lines.append(f"- `{n}` ({d['description']}), `{d['folder']}`: {error}")
    lines.append("")
    return "\n".join(lines)
