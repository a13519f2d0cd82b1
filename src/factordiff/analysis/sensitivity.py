"""Sensitivity map: which rules hold over layers x timesteps x pooling x noise draws.

A verdict should not hinge on one arbitrary choice of layer, timestep or pooling.
:func:`sensitivity_map` extracts every setting with one forward pass per timestep, noise draw
and batch of conditions (:func:`extract_representations`), runs the rules on each, and, when
a control network is given (the untrained network of the same run), applies the control rule
(:func:`factordiff.analysis.control.judge`) setting by setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from factordiff.analysis.activations import ActivationExtractor
from factordiff.analysis.control import RULES, judge
from factordiff.analysis.pipeline import summarize_representation

#: Rules read from a summary without persistent homology.
LOOP_RULES = ("orthogonal", "parallel", "superfactored")


def _summaries(
    model: nn.Module,
    labels: np.ndarray,
    grid_shape: tuple[int, int],
    layers: Sequence[str | None],
    ts: Sequence[int | None],
    poolings: Sequence[str],
    n_noise: int,
    extractor_params: dict,
    analysis_params: dict,
) -> dict[tuple[str, int, str], dict]:
    reps = ActivationExtractor(n_noise=n_noise, **extractor_params).extract_many(
        model, labels, grid_shape, layers=list(layers), ts=list(ts), poolings=list(poolings)
    )
    return {key: summarize_representation(rep, **analysis_params) for key, rep in reps.items()}


def sensitivity_map(
    model: nn.Module,
    labels: np.ndarray,
    grid_shape: tuple[int, int],
    *,
    layers: Sequence[str | None],
    ts: Sequence[int | None],
    poolings: Sequence[str] = ("flatten", "mean"),
    n_noises: Sequence[int] = (1, 16),
    rules: Sequence[str] = LOOP_RULES,
    control: nn.Module | None = None,
    extractor_params: dict[str, Any] | None = None,
    **analysis_params: Any,
) -> list[dict]:
    """Run ``rules`` on every (layer, t, pooling, n_noise) setting of ``model``.

    ``labels`` (n_conditions, 2) and ``grid_shape`` (n_x, n_y) as from
    :func:`condition_grid`; ``extractor_params`` go to :class:`ActivationExtractor` (seed,
    batch_size, image_size, forward_fn, num_train_timesteps, ...); ``analysis_params`` to
    :func:`summarize_representation` (``topology=False`` by default: persistent homology of
    every setting is slow on a CPU; pass ``topology=True`` for the ``torus`` rule). With
    ``control`` (the untrained network of the same run) each rule's verdict is the control
    rule's. Returns one JSON-ready row per setting: ``layer``, ``t``, ``pooling``,
    ``n_noise``, ``effective_dimension``, ``betti``, and per rule
    ``{"value", "passes"[, "control_value", "control_passes", "reproduced"]}``."""
    for rule in rules:
        if rule not in RULES:
            raise ValueError(f"rule = {rule!r} is invalid; allowed: {sorted(RULES)}")
    analysis_params.setdefault("topology", False)
    needs_betti = [r for r in rules if r in ("torus", "b1_is_2")]
    if needs_betti and not analysis_params["topology"]:
        raise ValueError(f"rules {needs_betti} need Betti numbers: pass topology=True")
    if not n_noises or any(not isinstance(k, int) or k < 1 for k in n_noises):
        raise ValueError(f"n_noises = {n_noises!r} is invalid; allowed: integers >= 1")
    extractor_params = dict(extractor_params or {})
    rows = []
    for n_noise in n_noises:
        args = (labels, grid_shape, layers, ts, poolings, n_noise, extractor_params)
        trained = _summaries(model, *args, analysis_params)
        controls = _summaries(control, *args, analysis_params) if control is not None else None
        for (layer, t, pooling), summary in trained.items():
            row: dict[str, Any] = {
                "layer": layer,
                "t": t,
                "pooling": pooling,
                "n_noise": n_noise,
                "effective_dimension": summary["effective_dimension"],
                "betti": summary.get("betti"),
            }
            for rule in rules:
                if controls is None:
                    r = RULES[rule]
                    row[rule] = {"value": r.value(summary), "passes": bool(r.passes(summary))}
                else:
                    v = judge(summary, controls[(layer, t, pooling)], rule)
                    row[rule] = {
                        "value": v.trained_value,
                        "passes": v.trained_passes,
                        "control_value": v.control_value,
                        "control_passes": v.control_passes,
                        "reproduced": v.reproduced,
                    }
            rows.append(row)
    return rows


def count_holding(rows: list[dict], rule: str) -> tuple[int, int]:
    """``(settings where the rule holds, settings)``: with a control, "holds" means
    reproduced under the control rule, else that the trained model passes."""
    held = [r[rule].get("reproduced", r[rule]["passes"]) for r in rows if rule in r]
    return int(sum(bool(h) for h in held)), len(held)
