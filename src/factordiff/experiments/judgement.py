"""Three answers from intervals over seeds: the rule a claim is judged by, and the judging.

A rule is a statistic (one number per seed), a threshold and the side of it the claim
predicts. Its values over seeds give an interval; the verdict is

- *reproduced* when the whole interval lies on the claim's side of the threshold,
- *not reproduced* when the whole interval lies on the other side,
- *inconclusive* otherwise, and whenever fewer seeds than the rule's minimum were judged.

The interval (:data:`METHOD`): the two-sided 90% Student-t interval of the mean over seeds,
``mean +- t(0.95, n - 1) * sd / sqrt(n)`` (so each verdict is a one-sided test at 5%). Seeds
whose statistic is undefined (None or NaN) do not count towards ``n``.

A control is a paired difference: the statistic is *trained minus control* in each seed (the
untrained network, the raw images), and the rule says which side of the threshold the
difference must lie on. A claim may have several rules (an absolute one and a paired control):
it is reproduced when every rule is, not reproduced when any rule is not, else inconclusive.

Every rule, threshold and minimum number of seeds lives in code before the runs it judges;
docs/rules.md lists them with the commit that fixed them and every later change.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from scipy import stats

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_JUDGED = "not judged"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_JUDGED)

LEVEL = 0.90  # two-sided level of the interval over seeds
METHOD = "two-sided 90% Student-t interval of the mean over seeds"
SIDES = ("below", "above")


@dataclass(frozen=True)
class Rule:
    """How one statistic of a claim is judged over seeds.

    ``statistic``: what one seed gives, in words with units (for a paired control: "trained
    minus untrained network, ..."); ``side``: ``below`` (the claim predicts statistic <
    threshold) or ``above`` (statistic > threshold); ``min_seeds``: fewer seeds judged give
    *inconclusive*; ``control``: the control of a paired difference, None for an absolute
    rule."""

    statistic: str
    side: str
    threshold: float
    min_seeds: int = 3
    control: str | None = None

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"rule side = {self.side!r} is invalid; allowed: {list(SIDES)}")
        if not math.isfinite(self.threshold):
            raise ValueError(f"rule threshold = {self.threshold!r} is invalid; allowed: finite")
        if not isinstance(self.min_seeds, int) or self.min_seeds < 1:
            raise ValueError(f"min_seeds = {self.min_seeds!r} is invalid; allowed: an integer >= 1")

    @property
    def sign(self) -> str:
        return "<" if self.side == "below" else ">"

    def describe(self) -> str:
        """``"x-on-y similarity < 0.2 (>= 5 seeds)"``."""
        return f"{self.statistic} {self.sign} {self.threshold:g} (>= {self.min_seeds} seeds)"

    def to_dict(self) -> dict:
        return asdict(self) | {"text": self.describe()}

    @classmethod
    def from_dict(cls, d: dict) -> Rule:
        """The rule a stored ``to_dict`` (or a verdict's ``rules`` entry) describes."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


def interval(values: list[float], level: float = LEVEL) -> tuple[float, float]:
    """The two-sided Student-t interval of the mean of ``values`` (n >= 2); one value gives
    the degenerate interval (v, v), which :func:`judge` never reads as decisive below the
    rule's minimum of seeds."""
    n = len(values)
    if n == 0:
        raise ValueError("interval of no values")
    mean = sum(values) / n
    if n == 1:
        return mean, mean
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def _number(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass
class Judgement:
    """One rule over seeds: each seed's value, n, the interval and the verdict."""

    rule: Rule
    seeds: list[int]
    values: list[float | None]
    n: int
    mean: float | None
    interval: tuple[float, float] | None
    verdict: str
    reason: str

    def to_dict(self) -> dict:
        out = asdict(self)
        out["rule"] = self.rule.to_dict()
        out["interval"] = None if self.interval is None else list(self.interval)
        out["method"] = METHOD
        return out

    def describe(self) -> str:
        """``"x-on-y similarity 0.14 [0.05, 0.23] (n = 5) < 0.2: inconclusive"``."""
        if self.interval is None:
            return f"{self.rule.statistic}: no value (n = 0): {self.verdict}"
        lo, hi = self.interval
        return (
            f"{self.rule.statistic} {self.mean:.3g} [{lo:.3g}, {hi:.3g}] (n = {self.n}) "
            f"{self.rule.sign} {self.rule.threshold:g}: {self.verdict}"
        )


def judge(rule: Rule, values: list, seeds: list[int] | None = None, level: float = LEVEL):
    """Judge ``rule`` on its per-seed ``values`` (None or NaN: undefined in that seed)."""
    seeds = list(range(len(values))) if seeds is None else list(seeds)
    if len(seeds) != len(values):
        raise ValueError(f"{len(values)} values for {len(seeds)} seeds")
    nums = [_number(v) for v in values]
    defined = [v for v in nums if v is not None]
    n = len(defined)
    if n == 0:
        return Judgement(rule, seeds, nums, 0, None, None, INCONCLUSIVE, "no seed gave a value")
    lo, hi = interval(defined, level)
    mean = sum(defined) / n
    if n < rule.min_seeds:
        verdict = INCONCLUSIVE
        reason = f"{n} seed(s) judged; the rule needs at least {rule.min_seeds}"
    else:
        below, above = hi < rule.threshold, lo > rule.threshold
        on_side = below if rule.side == "below" else above
        off_side = (lo >= rule.threshold) if rule.side == "below" else (hi <= rule.threshold)
        if on_side:
            verdict, reason = REPRODUCED, f"the whole interval is {rule.sign} {rule.threshold:g}"
        elif off_side:
            verdict, reason = NOT_REPRODUCED, "the whole interval is on the other side"
        else:
            verdict, reason = INCONCLUSIVE, f"the interval straddles {rule.threshold:g}"
    return Judgement(rule, seeds, nums, n, mean, (lo, hi), verdict, reason)


def combine(verdicts: list[str]) -> str:
    """Several rules of one claim: not reproduced if any is, reproduced if all are, else
    inconclusive (not judged wins over all)."""
    if not verdicts:
        raise ValueError("no verdicts to combine")
    if NOT_JUDGED in verdicts:
        return NOT_JUDGED
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    return INCONCLUSIVE


def verdict_of(v: dict) -> str:
    """The verdict of a verdict's dict as a summary stores it; summaries written before the
    third answer carry only ``reproduced`` (and maybe ``verdict``)."""
    text = v.get("verdict")
    if text in VERDICTS:
        return text
    if v.get("not_judged"):
        return NOT_JUDGED
    return REPRODUCED if v.get("reproduced") else NOT_REPRODUCED


def judgements_text(v: dict) -> str:
    """The judgements of a verdict's dict in one line (empty for summaries without them)."""
    parts = []
    for j in v.get("judgements") or []:
        rule = j.get("rule") or {}
        iv = j.get("interval")
        sign = "<" if rule.get("side") == "below" else ">"
        if iv is None:
            parts.append(f"{rule.get('statistic', '?')}: n = 0")
            continue
        parts.append(
            f"{rule.get('statistic', '?')} {j['mean']:.3g} [{iv[0]:.3g}, {iv[1]:.3g}] "
            f"(n = {j['n']}; rule {sign} {rule.get('threshold', float('nan')):g}, "
            f">= {rule.get('min_seeds', '?')} seeds): {j['verdict']}"
        )
    return "; ".join(parts)


def verdict_text(v: dict, emphasis: str = "") -> str:
    """A verdict's dict in words: the answer (``emphasis``, e.g. ``**``, around any answer but
    reproduced), then each rule's interval over seeds or, for verdicts without rules, the
    seeds in which the per-run rule held."""
    answer = verdict_of(v)
    e = emphasis
    if answer == NOT_JUDGED:
        return f"{e}not judged{e}: {v.get('not_judged')}"
    text = answer if answer == REPRODUCED else f"{e}{answer}{e}"
    judged = judgements_text(v)
    spread = v.get("spread") or {}
    if judged:
        text += f": {judged}"
    elif "reproduced_in" in spread:
        text += f" ({spread['reproduced_in']} of {len(spread.get('seeds', []))} seeds)"
    return text
