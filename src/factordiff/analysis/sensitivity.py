"""Sensitivity map: which rules hold over layers x timesteps x pooling x noise draws.

A verdict should not hinge on one arbitrary choice of layer, timestep or pooling.
:func:`sensitivity_map` extracts every setting with one forward pass per timestep, noise draw
and batch of conditions (:func:`extract_representations`), runs the rules on each, and, when
a control network is given (the untrained network of the same run), applies the control rule
(:func:`factordiff.analysis.control.judge`) setting by setting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from factordiff.analysis.activations import ActivationExtractor, layer_names, resolve_layer
from factordiff.analysis.control import RULES, Rule, judge
from factordiff.analysis.pipeline import summarize_representation
from factordiff.config import json_ready
from factordiff.progress import progress_bar

#: Rules read from a summary without persistent homology.
LOOP_RULES = ("orthogonal", "parallel", "superfactored")

#: Rules that need Betti numbers (persistent homology).
BETTI_RULES = ("torus", "b1_is_2")

# A foreign UNet's blocks in diffusers naming, at any depth: ``down_blocks.0``, ``mid_block``...
_BLOCK = re.compile(r"(?:^|\.)(down_blocks\.(\d+)|mid_block|up_blocks\.(\d+))$")


def block_layers(model: nn.Module) -> list[str]:
    """The layers a map reads for ``layers="all"``, in forward order.

    A model that declares them (a :class:`factordiff.model.base.Denoiser`, or any module with
    an ``analysis_layers()`` method) is asked; each name is checked with
    :func:`resolve_layer`. Any other module (a user's own diffusers ``UNet2DModel``, say)
    gives its submodules named ``...down_blocks.<i>``, ``...mid_block`` and
    ``...up_blocks.<i>`` (diffusers naming). Raises ``ValueError`` when there are none."""
    declared = getattr(model, "analysis_layers", None)
    if callable(declared):
        names = [resolve_layer(model, name) for name in declared()]
        if not names or len(set(names)) != len(names):
            raise ValueError(
                f"{type(model).__name__}.analysis_layers() = {names!r} is invalid; allowed: a "
                "non-empty list of distinct submodule names"
            )
        return names
    return _diffusers_blocks(model)


def _diffusers_blocks(model: nn.Module) -> list[str]:
    found = []
    for name in layer_names(model):
        m = _BLOCK.search(name)
        if m is None:
            continue
        if m.group(2) is not None:
            order = (0, int(m.group(2)))
        elif m.group(3) is not None:
            order = (2, int(m.group(3)))
        else:
            order = (1, 0)
        found.append((order, name))
    if not found:
        raise ValueError(
            f"layers = 'all' is invalid for {type(model).__name__}: it declares no "
            "analysis_layers() and has no submodules named down_blocks.<i>, mid_block or "
            "up_blocks.<i>; pass layer names instead"
        )
    return [name for _, name in sorted(found)]


def resolve_layers(model: nn.Module, layers: str | Sequence[str | None]) -> list[str]:
    """Layer names of a map: ``"all"`` (:func:`block_layers`), or a list of names (``None``:
    the model's default layer), each checked with :func:`resolve_layer` (a bad name raises
    ``ValueError`` naming it, close matches and the available names). Names must be
    distinct."""
    if isinstance(layers, str):
        layers = [v.strip() for v in layers.split(",") if v.strip()]
    layers = list(layers)
    if layers == ["all"]:
        return block_layers(model)
    if not layers or "all" in layers:
        raise ValueError(
            f"layers = {layers!r} is invalid; allowed: 'all' alone or a non-empty list of layer "
            "names"
        )
    names = [resolve_layer(model, layer) for layer in layers]
    if len(set(names)) != len(names):
        raise ValueError(f"layers = {names!r} is invalid; allowed: distinct layer names")
    return names


def _rule(rule: str | Rule) -> Rule:
    if isinstance(rule, Rule):
        return rule
    if rule not in RULES:
        raise ValueError(f"rule = {rule!r} is invalid; allowed: {sorted(RULES)} or a Rule")
    return RULES[rule]


def _summaries(
    model: nn.Module,
    labels: np.ndarray,
    grid_shape: tuple[int, int],
    layers: Sequence[str | None],
    t: int | None,
    poolings: Sequence[str],
    n_noise: int,
    extractor_params: dict,
    analysis_params: dict,
    homology_step: int,
) -> dict[tuple[str, int, str], dict]:
    # One timestep at a time: every layer and pooling of that timestep come from one forward
    # pass per noise draw and batch, and only one timestep's arrays are held at once (all
    # blocks of a 32 x 32 UNet at 1,024 conditions are ~0.3 GB per timestep).
    reps = ActivationExtractor(n_noise=n_noise, **extractor_params).extract_many(
        model, labels, grid_shape, layers=list(layers), ts=[t], poolings=list(poolings)
    )
    return {key: _summarize(rep, analysis_params, homology_step) for key, rep in reps.items()}


def _summarize(rep, analysis_params: dict, homology_step: int) -> dict:
    """Summary of one setting; persistent homology (H0 and H1 only, the ``b1`` of the rules)
    on every ``homology_step``-th condition along each axis of the grid."""
    params = dict(analysis_params)
    topology = params.pop("topology")
    summary = summarize_representation(rep, topology=False, **params)
    if topology:
        from factordiff.analysis.topology import PersistentHomology

        X = rep.subgrid(homology_step).X
        if len(np.unique(X, axis=0)) < 2:
            # Every condition gives the same vector (the layer ignores the labels): one
            # point, one component and no loop.
            summary["topology"] = {"betti": [1, 0], "grid_step": homology_step}
            summary["betti"] = [1, 0]
            return summary
        ph = PersistentHomology(maxdim=1).fit(X)
        summary["topology"] = ph.summary() | {"grid_step": homology_step, "n_points": len(X)}
        summary["betti"] = list(ph.betti_)
    return summary


def check_homology_step(step, name: str = "homology_step") -> int:
    """``step`` of the map's persistent homology (every ``step``-th condition per axis) as
    an int, or ``ValueError`` naming it (``name``: the option it came from) unless >= 1."""
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1:
        what = f"{name} {step!r}" if name.startswith("--") else f"{name} = {step!r}"
        raise ValueError(
            f"{what} is invalid; allowed: an integer >= 1 (persistent homology on "
            "every k-th condition per axis; 1: all of them)"
        )
    return int(step)


def sensitivity_map(
    model: nn.Module,
    labels: np.ndarray,
    grid_shape: tuple[int, int],
    *,
    layers: Sequence[str | None],
    ts: Sequence[int | None],
    poolings: Sequence[str] = ("flatten", "mean"),
    n_noises: Sequence[int] = (1, 16),
    rules: Sequence[str | Rule] = LOOP_RULES,
    control: nn.Module | None = None,
    extractor_params: dict[str, Any] | None = None,
    topology: bool = False,
    homology_step: int = 1,
    progress: bool = False,
    **analysis_params: Any,
) -> list[dict]:
    """Run ``rules`` on every (layer, t, pooling, n_noise) setting of ``model``.

    ``labels`` (n_conditions, 2) and ``grid_shape`` (n_x, n_y) as from
    :func:`condition_grid`; ``extractor_params`` go to :class:`ActivationExtractor` (seed,
    batch_size, image_size, forward_fn, num_train_timesteps, ...); ``analysis_params`` to
    :func:`summarize_representation` (``n_dims``, ``periodic``...). ``rules`` are names in
    :data:`RULES` or :class:`Rule` objects. ``topology=True`` computes H0 and H1 (not H2) of
    every setting, from every ``homology_step``-th condition along each axis (1: all of
    them), for the ``b1_is_2`` rule; it is off by default, persistent homology of every
    setting being slow on a CPU. With ``control`` (the untrained network of the same run)
    each rule's verdict is the control rule's. Layers, timesteps and poolings are all checked
    before any forward pass. Returns one JSON-ready row per setting: ``layer``, ``t``,
    ``pooling``, ``n_noise``, ``effective_dimension``, ``betti`` and per rule
    ``{"value", "passes"[, "control_value", "control_passes", "reproduced"]}``.
    ``progress``: a bar (stderr) over the (n_noise, t) passes."""
    rule_objs, layers, ts, extractor_params = _check_map_request(
        model, rules, layers, ts, poolings, n_noises, topology, homology_step, extractor_params
    )
    analysis_params = {**analysis_params, "topology": topology}
    rows = []
    bar = progress_bar(
        total=len(n_noises) * len(ts), desc="sensitivity map", unit="passes", disable=not progress
    )
    for n_noise in n_noises:
        for t in ts:
            bar.set_postfix_str(f"t = {t}, {n_noise} noise draw(s)")
            args = (labels, grid_shape, layers, t, poolings, n_noise, extractor_params)
            trained = _summaries(model, *args, analysis_params, homology_step)
            controls = (
                _summaries(control, *args, analysis_params, homology_step)
                if control is not None
                else None
            )
            for (layer, t_step, pooling), summary in trained.items():
                setting = {"layer": layer, "t": t_step, "pooling": pooling, "n_noise": n_noise}
                c = None if controls is None else controls[(layer, t_step, pooling)]
                rows.append(_map_row(setting, summary, c, rule_objs))
            bar.update()
    bar.close()
    rows.sort(key=lambda r: (layers.index(r["layer"]), -r["t"], r["pooling"], r["n_noise"]))
    return rows


def _check_map_request(
    model: nn.Module,
    rules: Sequence[str | Rule],
    layers: Sequence[str | None],
    ts: Sequence[int | None],
    poolings: Sequence[str],
    n_noises: Sequence[int],
    topology: bool,
    homology_step: int,
    extractor_params: dict[str, Any] | None,
) -> tuple[list[Rule], list[str], list[int], dict[str, Any]]:
    """``(rules, layers, ts, extractor_params)`` of :func:`sensitivity_map`, resolved for
    ``model`` and checked (``ValueError`` naming the bad value), all before the first forward
    pass, so a bad t or layer costs nothing."""
    from factordiff.analysis.activations import resolve_timesteps

    rule_objs = [_rule(r) for r in rules]
    if len({r.name for r in rule_objs}) != len(rule_objs):
        raise ValueError(f"rules = {[r.name for r in rule_objs]} is invalid; allowed: distinct")
    needs_betti = [r.name for r in rule_objs if r.name in BETTI_RULES]
    if needs_betti and not topology:
        raise ValueError(f"rules {needs_betti} need Betti numbers: pass topology=True")
    if not n_noises or any(not isinstance(k, int) or k < 1 for k in n_noises):
        raise ValueError(f"n_noises = {n_noises!r} is invalid; allowed: integers >= 1")
    if len(set(n_noises)) != len(n_noises):
        raise ValueError(f"n_noises = {list(n_noises)} is invalid; allowed: distinct values")
    check_homology_step(homology_step)
    extractor_params = dict(extractor_params or {})
    layers = [resolve_layer(model, layer) for layer in layers]
    ts = resolve_timesteps(model, list(ts), extractor_params.get("num_train_timesteps"))
    for what, values in (("layers", layers), ("ts", ts), ("poolings", list(poolings))):
        if not values or len(set(values)) != len(values):
            raise ValueError(f"{what} = {values!r} is invalid; allowed: distinct values")
    ActivationExtractor(**extractor_params).check_params(model)
    for pooling in poolings:
        ActivationExtractor(pooling=pooling, **extractor_params).check_params(model)
    return rule_objs, layers, ts, extractor_params


def _map_row(setting: dict, summary: dict, control: dict | None, rules: list[Rule]) -> dict:
    """One JSON-ready row of the map: the ``setting`` (layer, t, pooling, n_noise), its
    effective dimension and Betti numbers, and per rule its value and verdict; with the
    ``control``'s summary of the same setting, the control rule's verdict."""
    row: dict[str, Any] = {
        **setting,
        "effective_dimension": summary["effective_dimension"],
        "betti": summary.get("betti"),
    }
    if control is not None:
        row["control_effective_dimension"] = control["effective_dimension"]
        row["control_betti"] = control.get("betti")
    for rule in rules:
        if control is None:
            row[rule.name] = {"value": rule.value(summary), "passes": bool(rule.passes(summary))}
        else:
            v = judge(summary, control, rule)
            row[rule.name] = {
                "value": v.trained_value,
                "passes": v.trained_passes,
                "control_value": v.control_value,
                "control_passes": v.control_passes,
                "reproduced": v.reproduced,
            }
    return json_ready(row)


def count_holding(rows: list[dict], rule: str) -> tuple[int, int]:
    """``(settings where the rule holds, settings)``: with a control, "holds" means
    reproduced under the control rule, else that the trained model passes."""
    held = [r[rule].get("reproduced", r[rule]["passes"]) for r in rows if rule in r]
    return int(sum(bool(h) for h in held)), len(held)


def map_counts(rows: list[dict], rules: Sequence[str]) -> dict[str, dict]:
    """Per rule: ``settings``, ``holds`` (:func:`count_holding`), ``trained_passes`` and
    (with a control) ``control_passes``, counted over the settings of ``rows``."""
    out = {}
    for rule in rules:
        cells = [r[rule] for r in rows if rule in r]
        holds, n = count_holding(rows, rule)
        out[rule] = {
            "settings": n,
            "holds": holds,
            "trained_passes": int(sum(bool(c["passes"]) for c in cells)),
        }
        if cells and "control_passes" in cells[0]:
            out[rule]["control_passes"] = int(sum(bool(c["control_passes"]) for c in cells))
    return out


TABLE_COLUMNS = (
    "layer",
    "t",
    "pooling",
    "n_noise",
    "rule",
    "value",
    "passes",
    "control_value",
    "control_passes",
    "reproduced",
    "raw_value",
    "beyond_raw",
    "holds_both",
)


def map_table(rows: list[dict], rules: Sequence[str]) -> list[dict]:
    """The map as a long table: one dict per setting x rule with :data:`TABLE_COLUMNS`
    (``value`` and ``control_value`` as JSON text when they are pairs; the control columns
    ``None`` without a control; ``reproduced`` then equals ``passes``; ``raw_value``,
    ``beyond_raw`` and ``holds_both`` from the raw-images null, ``None`` without it)."""
    table = []
    for r in rows:
        for rule in rules:
            cell = r[rule]

            def text(v):
                return json.dumps(v) if isinstance(v, list | tuple) else v

            table.append(
                {
                    "layer": r["layer"],
                    "t": r["t"],
                    "pooling": r["pooling"],
                    "n_noise": r["n_noise"],
                    "rule": rule,
                    "value": text(cell["value"]),
                    "passes": cell["passes"],
                    "control_value": text(cell.get("control_value")),
                    "control_passes": cell.get("control_passes"),
                    "reproduced": cell.get("reproduced", cell["passes"]),
                    # against the raw images (analyze_map's raw null; empty without it)
                    "raw_value": text(cell.get("raw_value")),
                    "beyond_raw": cell.get("beyond_raw"),
                    "holds_both": cell.get("holds_both"),
                }
            )
    return table
