"""Two finished runs of one experiment compared seed by seed: what one change does to each
claim's statistics.

Two folders of the same experiment that differ in one setting (a rung of the ladder, a
variant) and share their seeds are a paired comparison: for every rule of every claim, the
statistic of seed s in folder A minus that of seed s in folder B, and the 90% Student-t
interval of the mean of those differences (the interval the verdicts use,
:func:`factordiff.experiments.judgement.interval`). An interval that excludes 0 says the change
moved that statistic; one that straddles it says these seeds cannot tell. Each rule's answer
in both folders is shown beside it, as each folder's summary states it; nothing is judged
again.

    python -m factordiff.experiments.compare A B [--out FILE.md]

reads ``A/summary.json`` and ``B/summary.json`` and prints (or writes) a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from factordiff.experiments.judgement import LEVEL, interval
from factordiff.jsonfiles import read_summary


@dataclass(frozen=True)
class PairedRow:
    """One rule of one claim in both folders, and the per-seed differences A - B."""

    claim: str
    rule: str  # the rule's text, e.g. "median x-on-y subspace similarity < 0.2 (>= 5 seeds)"
    verdict_a: str  # the rule's own answer in A (a claim's verdict combines its rules)
    verdict_b: str
    mean_a: float
    mean_b: float
    seeds: tuple[int, ...]  # the seeds both folders have, in order
    differences: tuple[float, ...]  # A - B per seed
    low: float  # the interval of the mean difference (low == high with one seed)
    high: float

    @property
    def moved(self) -> bool:
        """The interval of the difference excludes 0 (two seeds at least)."""
        return len(self.seeds) >= 2 and (self.low > 0 or self.high < 0)


def _judged(summary: dict, where: Path) -> list[dict]:
    verdicts = summary.get("verdicts") or []
    if not verdicts or any("judgements" not in v for v in verdicts):
        raise ValueError(
            f"{where}: its verdicts have no per-seed judgements; allowed: a summary written by "
            "the interval rules (docs/rules.md)"
        )
    return verdicts


def _values(judgement: dict) -> dict[int, float]:
    return {
        int(s): float(v)
        for s, v in zip(judgement["seeds"], judgement["values"], strict=True)
        if v is not None
    }


def paired_rows(folder_a: str | Path, folder_b: str | Path) -> list[PairedRow]:
    """Every rule of every claim of ``folder_a`` and ``folder_b`` (finished folders of the
    same experiment), with the per-seed differences A - B over the seeds both have.
    ``ValueError`` when the two judge different claims or rules, or share no seed."""
    a_dir, b_dir = Path(folder_a), Path(folder_b)
    a = _judged(read_summary(a_dir / "summary.json"), a_dir)
    b = _judged(read_summary(b_dir / "summary.json"), b_dir)
    if [v["claim"] for v in a] != [v["claim"] for v in b]:
        raise ValueError(
            f"{a_dir} and {b_dir} judge different claims; allowed: two folders of one experiment"
        )
    rows = []
    for va, vb in zip(a, b, strict=True):
        for ja, jb in zip(va["judgements"], vb["judgements"], strict=True):
            if ja["rule"]["statistic"] != jb["rule"]["statistic"]:
                raise ValueError(
                    f"claim {va['claim']!r}: rule {ja['rule']['statistic']!r} against "
                    f"{jb['rule']['statistic']!r}; allowed: the same rules in both folders"
                )
            xa, xb = _values(ja), _values(jb)
            seeds = tuple(sorted(set(xa) & set(xb)))
            if not seeds:
                raise ValueError(
                    f"{a_dir} (seeds {sorted(xa)}) and {b_dir} (seeds {sorted(xb)}) share no "
                    "seed; allowed: folders trained on the same seeds"
                )
            diff = tuple(xa[s] - xb[s] for s in seeds)
            low, high = interval(list(diff))
            rows.append(
                PairedRow(
                    va["claim"],
                    ja["rule"].get("text", ja["rule"]["statistic"]),
                    ja["verdict"],
                    jb["verdict"],
                    float(ja["mean"]),
                    float(jb["mean"]),
                    seeds,
                    diff,
                    low,
                    high,
                )
            )
    return rows


def markdown_table(rows: list[PairedRow], name_a: str = "A", name_b: str = "B") -> str:
    """The rows as a Markdown table: claim, rule, both verdicts and means, the per-seed
    differences and their interval."""
    pct = f"{LEVEL:.0%}"
    lines = [
        f"| claim | rule | {name_a} | {name_b} | {name_a} - {name_b} per seed | mean "
        f"[{pct} interval] |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        per_seed = ", ".join(f"{s}: {d:.3g}" for s, d in zip(r.seeds, r.differences))
        mean = sum(r.differences) / len(r.differences)
        mark = " (moved)" if r.moved else ""
        lines.append(
            f"| {r.claim} | {r.rule.replace('|', chr(92) + '|')} | {r.verdict_a}, mean "
            f"{r.mean_a:.3g} | {r.verdict_b}, mean {r.mean_b:.3g} | {per_seed} | {mean:.3g} "
            f"[{r.low:.3g}, {r.high:.3g}]{mark} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m factordiff.experiments.compare",
        description="Compare two finished folders of one experiment seed by seed.",
    )
    parser.add_argument("a", help="a finished experiment folder (its summary.json)")
    parser.add_argument("b", help="another folder of the same experiment, the same seeds")
    parser.add_argument("--out", help="write the Markdown table here instead of printing it")
    args = parser.parse_args(argv)
    try:
        rows = paired_rows(args.a, args.b)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = markdown_table(rows, Path(args.a).name, Path(args.b).name)
    if args.out:
        from factordiff.run_folder import atomic_write_text

        atomic_write_text(Path(args.out), text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
