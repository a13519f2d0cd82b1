"""Experiment 2's sweep: the training data of every run and the label spaces it is scored on.

:func:`sweep_runs` lists every run of a config as ``(params, run config)``, in a fixed order
(the sweep's folders are named from the run configs, so the order and the configs are part
of the experiment's record); :func:`evaluations` names the label spaces each run is
evaluated on, section by section; :func:`index_results` finds a run's evaluation by
``(part, key, seed)`` for the verdicts and figures.
"""

from __future__ import annotations

from dataclasses import replace

from factordiff.config import DataConfig, RunConfig
from factordiff.experiments.exp2.config import (
    MAIN_DATASETS,
    MAIN_MODELS,
    POSITIONS,
    Exp2Config,
)
from factordiff.experiments.exp2.designs import (
    lesion_data,
    lesion_eval_data,
    lesion_width_px,
    rim_data,
    scaled,
)


def main_data(model: str, n: int, rim_width: float = 1.0) -> DataConfig:
    """Training data of a main-comparison model (``2d``, ``1d``, ``2d+1d``) at size n; the
    ``1d`` model's rim is ``rim_width`` px."""
    if model == "1d":
        return rim_data(n, rim_width)
    return scaled(MAIN_DATASETS[model], n)


def plus_eval_data(n: int) -> DataConfig:
    """The label space and sections every main model is evaluated on: 2D SOS with the plus
    hole (its ``in_distribution`` is the frame outside the hole)."""
    return scaled("sos-plus-hole", n)


def rim_eval_data(n: int, rim_width: float = 1.0) -> DataConfig:
    """The label space of the rim ablation: stripes with the rim of ``rim_width`` px (its
    ``in_distribution`` is the rim, ``held_out`` the interior), for both models."""
    return rim_data(n, rim_width)


def square_data(kind: str, position: str, width: float, n: int) -> DataConfig:
    """2D ``kind`` (bump or SOS) at N = ``n`` without a ``width`` x ``width`` square (px at
    N = 32), ``position`` interior or exterior."""
    return scaled("sos-square-interior", n, kind=kind, hole=f"square_{position}", hole_width=width)


def subsampling_data(rate: float, n: int, stripes_too: bool) -> DataConfig:
    """2D bumps + 1D stripes at N = ``n`` with the 2D part kept at ``rate`` (the stripes
    too when ``stripes_too``)."""
    return scaled(
        "bump+stripes",
        n,
        subsample=rate,
        stripes_subsample=rate if stripes_too else 1.0,
    )


def sweep_runs(cfg: Exp2Config) -> list[tuple[dict, RunConfig]]:
    """``(params, run config)`` of every run of the sweep, in a fixed order."""
    n = cfg.image_size
    out: list[tuple[dict, RunConfig]] = []

    def add(params: dict, data: DataConfig, seed: int) -> None:
        tag = "-".join(str(v) for k, v in params.items() if k != "part")
        run = replace(cfg.run, name=f"{cfg.name}-{params['part']}-{tag}", seed=seed, data=data)
        out.append(({**params, "seed": seed}, run))

    for s in cfg.seeds:
        if "main" in cfg.parts or "rim" in cfg.parts:
            for m in MAIN_MODELS if "main" in cfg.parts else ("1d",):
                add({"part": "main", "model": m}, main_data(m, n, cfg.rim_width), s)
        if "rim" in cfg.parts:
            add({"part": "rim", "model": "1d-norim"}, scaled("stripes-norim", n), s)
    for s in cfg.curve_seed_list():
        if "subsampling" in cfg.parts:
            for r in cfg.sampling_rates:
                add(
                    {"part": "subsampling", "rate": r},
                    subsampling_data(r, n, cfg.subsample_stripes),
                    s,
                )
        if "lesion" in cfg.parts:
            for k in cfg.lesion_columns:
                params = {
                    "part": "lesion",
                    "columns": k,
                    "width_px": lesion_width_px(k, n),
                }
                add(params, lesion_data(k, n), s)
        if "squares" in cfg.parts:
            for kind in cfg.square_kinds:
                for w in cfg.square_widths:
                    for pos in POSITIONS:
                        add(
                            {
                                "part": "squares",
                                "kind": kind,
                                "position": pos,
                                "width": w,
                            },
                            square_data(kind, pos, w, n),
                            s,
                        )
    return out


def evaluations(cfg: Exp2Config, params: dict, data: DataConfig) -> dict[str, DataConfig]:
    """The label spaces a run is evaluated on: name -> data config (its regions are the
    sections). Main models: the plus hole (and the 1D model also the rim's label space);
    rim ablation: the rim's; every other run: its own training label space (the lesion of
    0 columns: the narrowest lesion's, so its ``held_out`` is that band, seen in training)."""
    n = cfg.image_size
    if params["part"] == "main":
        out = {"plus": plus_eval_data(n)}
        if params["model"] == "1d" and "rim" in cfg.parts:
            out["rim"] = rim_eval_data(n, cfg.rim_width)
        return out
    if params["part"] == "rim":
        return {"rim": rim_eval_data(n, cfg.rim_width)}
    if params["part"] == "lesion":  # 0 columns: scored on the narrowest lesion's band
        return {"own": lesion_eval_data(params["columns"], n, cfg.lesion_columns)}
    return {"own": data}


def index_results(results: list[dict]) -> dict:
    """(part, key, seed) -> evaluation; key: model, rate, width or (kind, position, width)."""
    out = {}
    for r in results:
        p = r["run"].params
        part = p["part"]
        if part in ("main", "rim"):
            key = p["model"]
        elif part == "subsampling":
            key = p["rate"]
        elif part == "lesion":
            key = p["columns"]
        else:
            key = (p["kind"], p["position"], p["width"])
        out[(part, key, p["seed"])] = r["evaluation"]
    return out
