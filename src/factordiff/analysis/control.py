"""The control rule: a claim is reproduced only when the trained model passes the rule and the
control (the untrained network of the same run, epoch 0) does not.

A rule reads one summary (the dict of :func:`summarize_representation`, of
:meth:`RepresentationAnalysis.summary` or a row of :func:`calibration.judge_cloud`) and says
whether the representation passes. :func:`judge` applies one rule to a trained summary and
its control and returns a :class:`ControlledVerdict` (data, rendered by reports).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


def _factorization(summary: dict, key: str) -> Any:
    # A judge_cloud row holds the factorization numbers at the top level.
    f = summary.get("factorization", summary)
    if key not in f:
        raise ValueError(
            f"the summary has no factorization value {key!r}: was it computed on a grid?"
        )
    return f[key]


def _betti(summary: dict) -> list[int]:
    # summarize_representation writes both; a stored topology summary has only the nested one
    betti = summary.get("betti", (summary.get("topology") or {}).get("betti"))
    if betti is None:
        raise ValueError("the summary has no Betti numbers: was persistent homology computed?")
    return list(betti)


@dataclass(frozen=True)
class Rule:
    """One pass / fail test on a summary.

    ``value(summary)`` is the number (or tuple) the rule looks at; ``passes(summary)`` the
    verdict; ``statement`` says the rule in words."""

    name: str
    statement: str
    value: Callable[[dict], Any]
    passes: Callable[[dict], bool]


#: "Not aligned" (the paper's reading of the parallelism test: "not aligned for different
#: values of the same feature"): x-loops at different y, and y-loops at different x, lie in
#: nearly orthogonal subspaces, by the orthogonality rule's standard (the same statistic, a
#: subspace similarity of two loop planes). Calibration in docs/analysis.md.
NOT_ALIGNED_BELOW = 0.2


def _not_aligned(summary: dict) -> bool:
    xx = _factorization(summary, "parallelism_xx")
    yy = _factorization(summary, "parallelism_yy")
    # None or NaN (a loop without variance) passes no test
    return all(v is not None and v <= NOT_ALIGNED_BELOW for v in (xx, yy))


def _is_torus(summary: dict) -> bool:
    b = _betti(summary)
    return len(b) >= 2 and b[1] == 2 and (len(b) < 3 or b[2] == 1)


RULES: dict[str, Rule] = {
    "orthogonal": Rule(
        "orthogonal",
        "median x-on-y subspace similarity <= orthogonal_below (0.2)",
        lambda s: _factorization(s, "orthogonality_xy"),
        lambda s: bool(_factorization(s, "orthogonal")),
    ),
    "parallel": Rule(
        "parallel",
        "median x-on-x and y-on-y subspace similarity >= parallel_above (0.8)",
        lambda s: (_factorization(s, "parallelism_xx"), _factorization(s, "parallelism_yy")),
        lambda s: bool(_factorization(s, "parallel_x") and _factorization(s, "parallel_y")),
    ),
    "not_aligned": Rule(
        "not_aligned",
        f"median x-on-x and y-on-y subspace similarity <= {NOT_ALIGNED_BELOW:g}",
        lambda s: (_factorization(s, "parallelism_xx"), _factorization(s, "parallelism_yy")),
        _not_aligned,
    ),
    "superfactored": Rule(
        "superfactored",
        "median |value cosine| of x and of y <= superfactored_below (0.2)",
        lambda s: (_factorization(s, "value_cosine_x"), _factorization(s, "value_cosine_y")),
        lambda s: bool(_factorization(s, "superfactored")),
    ),
    "torus": Rule(
        "torus",
        "Betti numbers (1, 2, 1) (b1 = 2, and b2 = 1 where H2 is computed)",
        lambda s: tuple(_betti(s)),
        _is_torus,
    ),
    "b1_is_2": Rule(
        "b1_is_2",
        "b1 = 2 (two independent loops)",
        lambda s: _betti(s)[1],
        lambda s: _betti(s)[1] == 2,
    ),
}


def effective_dimension_rule(max_dimension: float) -> Rule:
    """Rule "low-dimensional": effective dimension ``<= max_dimension``."""
    if not max_dimension > 0:
        raise ValueError(f"max_dimension = {max_dimension!r} is invalid; allowed: a number > 0")
    return Rule(
        f"effective_dimension<={max_dimension:g}",
        f"effective dimension (participation ratio) <= {max_dimension:g}",
        lambda s: s["effective_dimension"],
        lambda s: (
            bool(np.isfinite(s["effective_dimension"]))
            and s["effective_dimension"] <= max_dimension
        ),
    )


@dataclass(frozen=True)
class ControlledVerdict:
    """The outcome of one rule on a trained representation and its control."""

    rule: str
    statement: str
    trained_value: Any
    control_value: Any
    trained_passes: bool
    control_passes: bool
    reproduced: bool
    reason: str

    def as_dict(self) -> dict:
        """JSON-ready fields."""
        from factordiff.config import json_ready

        return json_ready(self.__dict__.copy())


def controlled(trained_passes: bool, control_passes: bool) -> tuple[bool, str]:
    """The control rule itself: ``(reproduced, reason)``. Reproduced only when the trained
    model passes and the control does not."""
    if not trained_passes:
        return False, "the trained model fails the rule"
    if control_passes:
        return False, "the control (untrained network) passes the rule too"
    return True, "the trained model passes the rule and the control does not"


def judge(trained: dict, control: dict, rule: str | Rule) -> ControlledVerdict:
    """Apply ``rule`` (a name in :data:`RULES` or a :class:`Rule`) to the summary of a trained
    representation and to that of its control (the untrained network of the same run)."""
    if isinstance(rule, str):
        if rule not in RULES:
            raise ValueError(f"rule = {rule!r} is invalid; allowed: {sorted(RULES)} or a Rule")
        rule = RULES[rule]
    trained_passes = bool(rule.passes(trained))
    control_passes = bool(rule.passes(control))
    reproduced, reason = controlled(trained_passes, control_passes)
    return ControlledVerdict(
        rule=rule.name,
        statement=rule.statement,
        trained_value=rule.value(trained),
        control_value=rule.value(control),
        trained_passes=trained_passes,
        control_passes=control_passes,
        reproduced=reproduced,
        reason=reason,
    )


def untrained_network_summary(
    preset: str = "exp1-quick", seed: int = 0, n: int = 32, **analysis_params: Any
) -> dict:
    """Summary of the untrained network of ``preset`` (initialised from ``seed``, as a run's
    epoch 0): its default layer at ``t = T - 1``, flatten pooling, on the ``n x n`` grid.
    What a control looks like before any training."""
    import torch

    from factordiff.analysis.activations import ActivationExtractor
    from factordiff.analysis.grid import condition_grid
    from factordiff.analysis.pipeline import summarize_representation
    from factordiff.model.registry import build_model
    from factordiff.presets import preset_config

    cfg = preset_config(preset)
    torch.manual_seed(seed)
    model = build_model(cfg.model, cfg.data)
    labels, shape = condition_grid(cfg.data.image_size, n, n)
    rep = ActivationExtractor(num_train_timesteps=cfg.diffusion.num_train_timesteps).extract(
        model, labels, shape
    )
    params = {"periodic": cfg.data.periodic, **analysis_params}
    summary = summarize_representation(rep, **params)
    summary["preset"] = preset
    summary["seed"] = seed
    return summary
