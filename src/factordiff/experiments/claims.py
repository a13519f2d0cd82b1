"""The claims table: one row per claim of the paper, from the verdicts of the summaries.

The same rows make the page's table, its ``report.md`` twin and the README's Results table
(:func:`claims_markdown`), so the three cannot disagree. A row holds

- the claim, and the paper's statement with the figure it comes from (:data:`PAPER_FIGURES`,
  from ``../shared/paper/NOTES.md``);
- *ours*: each rule's named quantity, every seed's value, ``n`` and the interval over seeds
  (:mod:`factordiff.experiments.judgement`);
- the rule in a short phrase (threshold and side, and which controls the trained model must
  beat);
- the verdict: reproduced, not reproduced or inconclusive (or not judged).

Summaries written before the interval rules (no ``judgements``) show their stored value and
rule text.
"""

from __future__ import annotations

from typing import Any

from factordiff.experiments.judgement import NOT_JUDGED, verdict_of
from factordiff.experiments.report import fmt

#: The paper's figure behind each claim (by the claim's text in the verdicts).
PAPER_FIGURES = {
    "torus topology: two long H1 bars (Betti numbers 1, 2, 1)": "Fig. 2",
    "x and y factorized: x-loops orthogonal to y-loops": "Fig. 3",
    "superfactored: different values of one feature nearly orthogonal": "Fig. 3",
    "factorization emerges gradually over training": "Figs. 2-3",
    "effective dimension converges to about 7": "Fig. 2",
    "models trained with 1D stripes compose in the plus hole": "Fig. 4",
    "the 2D-only model does not interpolate into the hole": "Fig. 4",
    "1D stripes restore generalization in the hole": "Fig. 4",
    "the rim of 2D examples matters": "Fig. 10",
    "OOD accuracy falls with lesion width": "Fig. 11",
    "held-out interior squares are generated better than exterior ones": "Fig. 12",
    "bumps alone: dataset size for 60% accuracy ~ N^2": "Fig. 5",
    "bumps + stripes: dataset size for 60% accuracy ~ N^1": "Fig. 5",
    "the onset of accuracy is sharp": "Figs. 6, 13-15",
    "the onset comes earlier for wider bumps": "Figs. 6, 13-15",
    "the onset sits near the simulated percolation threshold": "Figs. 6, 13-15",
}


def _control_name(control: str) -> str:
    """ "untrained network (epoch 0 of the same seed)" -> "untrained network"."""
    return control.split(" (")[0]


def short_rule(rules: list[dict]) -> str:
    """The rules of a claim in a short phrase: ``"< 0.2; below the untrained network and
    the raw images; >= 5 seeds"``."""
    if not rules:
        return ""
    absolute = [r for r in rules if not r.get("control")]
    paired = [r for r in rules if r.get("control")]
    parts = []
    for r in absolute:
        sign = "<" if r["side"] == "below" else ">"
        parts.append(f"{r['statistic']} {sign} {r['threshold']:g}")
    if paired:
        by_side: dict[str, list[str]] = {}
        for r in paired:
            word = ("below" if r["side"] == "below" else "above") + (
                "" if r["threshold"] == 0 else f" by {abs(r['threshold']):g}"
            )
            names = by_side.setdefault(word, [])
            name = f"the {_control_name(r['control'])}"
            if name not in names:  # one rule per component (x and y) of the same control
                names.append(name)
        parts += [f"{word} {' and '.join(names)}" for word, names in by_side.items()]
    seeds = max(int(r.get("min_seeds", 1)) for r in rules)
    return "; ".join(parts) + f"; >= {seeds} seeds"


def _interval(j: dict) -> str:
    lo_hi = j.get("interval")
    if isinstance(lo_hi, list) and len(lo_hi) == 2 and None not in lo_hi:
        return f"[{fmt(lo_hi[0])}, {fmt(lo_hi[1])}]"
    return "none (fewer than 2 seeds)"


def ours(judgements: list[dict]) -> list[str]:
    """One line per rule: the quantity, each seed's value, n and the 90% interval."""
    lines = []
    for j in judgements:
        rule = j["rule"]
        seeds, values = j.get("seeds") or [], j.get("values") or []
        per_seed = ", ".join(f"seed {s}: {fmt(v)}" for s, v in zip(seeds, values, strict=False))
        name = rule["statistic"]
        if rule.get("control"):
            name = f"{name.split(',')[0]} minus the {_control_name(rule['control'])}"
        lines.append(
            f"{name}: {per_seed or 'no seed'}; n = {j.get('n', len(values))}; "
            f"interval {_interval(j)}"
        )
    return lines


def claim_row(experiment: str, v: dict) -> dict[str, Any]:
    """The table's row of one verdict (``Verdict.to_dict()``) of ``experiment``."""
    claim = str(v.get("claim", ""))
    judgements = v.get("judgements") or []
    if judgements:
        measured, rule = ours(judgements), short_rule(v.get("rules") or [])
    else:  # a summary written before the interval rules
        measured, rule = [fmt(v.get("value"))], str(v.get("rule", ""))
    return {
        "experiment": experiment,
        "claim": claim,
        "paper": str(v.get("paper") or ""),
        "figure": PAPER_FIGURES.get(claim, ""),
        "ours": measured,
        "rule": rule,
        "method": judgements[0].get("method", "") if judgements else "",
        "verdict": verdict_of(v),
        "why": str(v.get("not_judged") or "") if verdict_of(v) == NOT_JUDGED else "",
    }


def claim_rows(summaries: list[tuple[str, dict]]) -> list[dict]:
    """The rows of every verdict of each ``(experiment name, summary)``, in order."""
    return [claim_row(name, v) for name, s in summaries for v in s.get("verdicts", [])]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def claims_markdown(rows: list[dict]) -> str:
    """The claims table in Markdown (report.md beside the page, the README's Results)."""
    lines = [
        "| experiment | claim | the paper | ours (each seed, n, 90% interval) | rule | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        paper = r["paper"] + (f" ({r['figure']})" if r["figure"] else "")
        lines.append(
            f"| {r['experiment']} | {_cell(r['claim'])} | {_cell(paper)} | "
            f"{'<br>'.join(_cell(x) for x in r['ours'])} | {_cell(r['rule'])} | "
            f"**{r['verdict']}** |"
        )
    return "\n".join(lines) + "\n"
