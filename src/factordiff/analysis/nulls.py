"""The raw images as a second null beside the untrained network, and the calibration of the
"not aligned" reading (2026-12-06).

**The raw-images null.** The representation is the training images themselves, flattened
(``N * N`` pixel values per condition), rendered by the dataset's own code at the conditions
of the analysis grid (:func:`raw_images_representation`); it goes through exactly the same
pipeline as a model's representation. It is the same in every seed, a fixed reference. On
the calibration clouds the bump images are orthogonal, superfactored, not aligned and a
torus (docs/analysis.md): a model layer that copies the pixels passes those rules without
having learned anything, which is what the sensitivity map of ``exp1-quick`` showed in the
decoder (``up_blocks.3``: effective dimension 164 and x-on-y 0.024; the raw images 163 and
0.023).

A claim is read against the raw images by the paired statistic *trained minus raw images*
of its distance from the claim (:data:`RAW_DISTANCES`): below 0 when the trained model is
strictly nearer the claim than the pixels. Because the raw-image value is the same in every
seed, the interval of ``trained - raw`` is the interval of ``trained`` shifted by ``raw``: the
paired row and a threshold at the raw value give the same verdict; the paired form keeps
every control of docs/rules.md in one shape and shows each seed's margin over the pixels.

The null applies where the pixels leave room beyond them: orthogonality (x-on-y 0.023 on the
32 x 32 grid of 32 x 32 bumps, sigma 1), superfactoring (median |value cos| 0.125) and the
effective dimension (163, 156 from 7). It does not apply to the torus (the raw images have
``b1 = 2``: ``|b1 - 2| = 0``, no representation can be nearer) nor to "not aligned" (x-on-x
and y-on-y of the raw images are 0 to rounding: an image is an outer product of two 1D
profiles, so x-loops at different y span orthogonal subspaces): there the raw images'
value is reported beside the verdict, not judged.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from factordiff.analysis.control import NOT_ALIGNED_BELOW
from factordiff.analysis.grid import Representation, condition_grid

#: How the raw-images null is named in rules and reports.
RAW_IMAGES = "raw images (the training images of the same conditions, flattened)"

#: Per rule of the map and the verdicts: the distance of a rule's value from the claim
#: (smaller is nearer; one number per component). The raw-images null applies to these.
RAW_DISTANCES: dict[str, Callable[[Any], list[float]]] = {
    "orthogonal": lambda v: [v],
    "superfactored": lambda v: list(v),
    "effective_dimension_about_7": lambda v: [abs(v - 7.0)],
}

#: Rules the raw-images null does not judge, and why.
RAW_NOT_APPLICABLE = {
    "b1_is_2": "the raw images are a torus (b1 = 2 on the 32 x 32 grid): none can be nearer",
    "torus": "the raw images are a torus (b1 = 2 on the 32 x 32 grid): none can be nearer",
    "not_aligned": "the raw images' x-on-x and y-on-y are 0 to rounding: none can be lower",
    "parallel": "not a claim of the paper",
}


def raw_images_representation(data_cfg, grid: int) -> Representation:
    """The flattened images of ``data_cfg`` (a :class:`DataConfig`) at the ``grid x grid``
    conditions of the analysis (:func:`condition_grid` over its frame), in model space
    [-1, 1]: ``X`` (grid * grid, N * N), rows x-major."""
    from factordiff.data.render import render_images

    labels, shape = condition_grid(data_cfg.image_size, grid, grid)
    X = render_images(labels, data_cfg).reshape(len(labels), -1).numpy().astype(np.float64)
    return Representation(
        X=X,
        labels=labels,
        grid_shape=shape,
        metadata={
            "source": "raw images",
            "image_size": data_cfg.image_size,
            "periodic": data_cfg.periodic,
        },
    )


@functools.lru_cache(maxsize=8)
def _raw_summary(data_json: str, grid: int, n_landmarks: int, topology: bool) -> str:
    from factordiff.analysis.pipeline import summarize_representation
    from factordiff.config import DataConfig, from_dict

    data_cfg = from_dict(DataConfig, json.loads(data_json))
    rep = raw_images_representation(data_cfg, grid)
    summary = summarize_representation(
        rep, periodic=data_cfg.periodic, topology=topology, n_landmarks=n_landmarks
    )
    return json.dumps(summary)


def raw_images_summary(
    data_cfg, grid: int, *, n_landmarks: int = 256, topology: bool = True
) -> dict:
    """The summary (:func:`summarize_representation`) of the raw images of ``data_cfg`` on
    the ``grid x grid`` conditions, computed once per process and setting (persistent
    homology of 1,024 images takes about a minute of CPU)."""
    from factordiff.config import to_dict

    key = json.dumps(to_dict(data_cfg), sort_keys=True)
    return json.loads(_raw_summary(key, int(grid), int(n_landmarks), bool(topology)))


def _finite(v) -> bool:
    return v is not None and isinstance(v, int | float) and math.isfinite(v)


def beyond_raw(rule: str, trained_value, raw_value) -> bool | None:
    """Whether the trained value of ``rule`` is strictly nearer the claim than the raw
    images' in every component; ``None`` where the null does not apply. An undefined value
    is never beyond."""
    if rule not in RAW_DISTANCES:
        return None
    try:
        t = RAW_DISTANCES[rule](trained_value)
        r = RAW_DISTANCES[rule](raw_value)
    except TypeError:  # an undefined value (None) somewhere
        return False
    if not all(_finite(v) for v in t + r):
        return False
    return all(a < b for a, b in zip(t, r, strict=True))


def map_raw_reading(rows: list[dict], rules: Sequence, raw_summary: dict) -> dict:
    """The sensitivity map read against both nulls. ``rules``: the map's rules (names of
    ``control.RULES`` or ``Rule`` objects, as given to the map). Per rule: whether the
    raw-images null applies (and why not), the raw images' value and whether they pass the
    rule, the settings where the trained model is beyond the raw images (:func:`beyond_raw`)
    and ``holds_both``: the settings where the claim holds against the untrained network
    (the map's ``reproduced``) *and* the trained model is beyond the raw images (``None``
    where the null does not apply). Each setting's cell of a rule gains ``raw_value``,
    ``beyond_raw`` and ``holds_both`` (``None`` where the null does not apply), the columns
    of ``map.csv``."""
    from factordiff.analysis.sensitivity import _rule

    out = {}
    for rule in (_rule(r) for r in rules):
        name = rule.name
        cells = [r[name] for r in rows if name in r]
        try:
            raw_value, raw_passes = rule.value(raw_summary), bool(rule.passes(raw_summary))
        except (KeyError, ValueError, TypeError):  # the raw summary lacks it (no homology)
            raw_value = raw_passes = None
        entry: dict[str, Any] = {"raw_value": raw_value, "raw_passes": raw_passes}
        applies = name in RAW_DISTANCES
        for c in cells:
            beyond = bool(beyond_raw(name, c["value"], raw_value)) if applies else None
            held = bool(c.get("reproduced", c["passes"]))
            c.update(
                raw_value=raw_value,
                beyond_raw=beyond,
                holds_both=(beyond and held) if applies else None,
            )
        if not applies:
            entry.update(
                applies=False,
                why=RAW_NOT_APPLICABLE.get(name, "no distance from the claim defined"),
                beyond_raw=None,
                holds_both=None,
            )
        else:
            entry.update(
                applies=True,
                beyond_raw=int(sum(c["beyond_raw"] for c in cells)),
                holds_both=int(sum(c["holds_both"] for c in cells)),
            )
        out[name] = entry
    return out


def map_csv_reading(csv_path, raw_summary: dict, epoch: int | None = None) -> dict:
    """A map written before the second null (its ``map.csv``) read against the raw images:
    per rule the null applies to, the settings where the claim holds against the control,
    those beyond the raw images and those where both hold (with the layers). For the
    committed ``exp1-quick`` map: ``map_csv_reading("docs/results/exp1/map.csv",
    raw_images_summary(DataConfig(image_size=32, periodic=True), 32, topology=False))``."""
    import csv
    from collections import Counter

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if epoch is not None:
        rows = [r for r in rows if int(r["epoch"]) == epoch]
    f = raw_summary["factorization"]
    raw_values = {
        "orthogonal": f["orthogonality_xy"],
        "superfactored": (f["value_cosine_x"], f["value_cosine_y"]),
        "effective_dimension_about_7": raw_summary["effective_dimension"],
    }
    out = {}
    for rule, raw_value in raw_values.items():
        held, beyond, both, layers = 0, 0, 0, Counter()
        for r in rows:
            if r["rule"] != rule:
                continue
            try:
                value = json.loads(r["value"])
            except ValueError:  # an undefined value (empty, NaN)
                value = None
            b = bool(beyond_raw(rule, value, raw_value))
            h = r["reproduced"] == "True"
            held, beyond, both = held + h, beyond + b, both + (b and h)
            if b and h:
                layers[r["layer"]] += 1
        out[rule] = {
            "holds": held,
            "beyond_raw": beyond,
            "holds_both": both,
            "layers": dict(layers),
        }
    return out


# ----------------------------------------------------------------------------- calibration
def not_aligned_known() -> dict[str, bool]:
    """The known "not aligned" answer of each calibration cloud
    (:data:`factordiff.analysis.calibration.KNOWN_ANSWERS`)."""
    from factordiff.analysis.calibration import KNOWN_ANSWERS

    return {name: known.not_aligned for name, known in KNOWN_ANSWERS.items()}


def null_calibration(n: int = 32, noise_levels=(0.0, 0.1, 0.3), random_state: int = 0):
    """The "not aligned" rule and the raw-images null on the calibration clouds (no
    persistent homology: seconds). Per (cloud, noise level): x-on-x, y-on-y, ``not_aligned``
    and its known answer; and, against the raw images of the ``n x n`` frame (the periodic
    bump torus, clean), ``beyond_raw`` for each rule the null judges."""
    from factordiff.analysis.calibration import calibration_cloud, judge_cloud
    from factordiff.analysis.control import RULES

    raw = judge_cloud(calibration_cloud("bump_torus", n), topology=False)
    rows = []
    for name, known in not_aligned_known().items():
        for level in noise_levels:
            row = judge_cloud(calibration_cloud(name, n, level, random_state), topology=False)
            summary = row | {"effective_dimension": row["effective_dimension"]}
            not_aligned = bool(RULES["not_aligned"].passes(summary))
            beyond = {}
            for rule in RAW_DISTANCES:
                if rule == "effective_dimension_about_7":
                    t, r = row["effective_dimension"], raw["effective_dimension"]
                else:
                    t, r = RULES[rule].value(summary), RULES[rule].value(raw)
                beyond[rule] = beyond_raw(rule, t, r)
            rows.append(
                {
                    "cloud": name,
                    "noise_level": float(level),
                    "parallelism_xx": row.get("parallelism_xx"),
                    "parallelism_yy": row.get("parallelism_yy"),
                    "not_aligned": not_aligned,
                    "known_not_aligned": known,
                    "agrees": not_aligned == known,
                    "orthogonality_xy": row.get("orthogonality_xy"),
                    "value_cosine": [row.get("value_cosine_x"), row.get("value_cosine_y")],
                    "effective_dimension": row["effective_dimension"],
                    "beyond_raw": beyond,
                }
            )
    raw_row = {
        "orthogonality_xy": raw["orthogonality_xy"],
        "value_cosine": [raw["value_cosine_x"], raw["value_cosine_y"]],
        "effective_dimension": raw["effective_dimension"],
        "parallelism_xx": raw["parallelism_xx"],
        "parallelism_yy": raw["parallelism_yy"],
    }
    return {"raw_images": raw_row, "rows": rows, "not_aligned_below": NOT_ALIGNED_BELOW}


NULLS_START = "<!-- nulls-table:start -->"
NULLS_END = "<!-- nulls-table:end -->"


def null_table_markdown(cal: dict) -> str:
    """The calibration of :func:`null_calibration` as a markdown table."""

    def f(v, d=3):
        return "n/a" if v is None else f"{v:.{d}f}"

    def yn(v):
        return "n/a" if v is None else ("yes" if v else "no")

    raw = cal["raw_images"]
    lines = [
        f"Raw images (periodic bumps, sigma 1 px, 32 x 32 grid of a 32 x 32 frame): x-on-y "
        f"{f(raw['orthogonality_xy'])}, median \\|value cos\\| {f(raw['value_cosine'][0])} / "
        f"{f(raw['value_cosine'][1])}, effective dimension {f(raw['effective_dimension'], 1)}, "
        f"x-on-x {raw['parallelism_xx']:.1e}, y-on-y {raw['parallelism_yy']:.1e}.",
        "",
        "| cloud | noise | x-on-x | y-on-y | not aligned (known) | beyond the raw images: "
        "orthogonal / superfactored / eff. dim |",
        "|---|---|---|---|---|---|",
    ]
    for r in cal["rows"]:
        na = yn(r["not_aligned"])
        if not r["agrees"]:
            na = f"**{na}** (x)"
        b = r["beyond_raw"]
        lines.append(
            f"| {r['cloud']} | {r['noise_level']:.1f} | {f(r['parallelism_xx'], 2)} | "
            f"{f(r['parallelism_yy'], 2)} | {na} ({yn(r['known_not_aligned'])}) | "
            f"{yn(b['orthogonal'])} / {yn(b['superfactored'])} / "
            f"{yn(b['effective_dimension_about_7'])} |"
        )
    return "\n".join(lines) + "\n"


def main(root=None) -> dict:
    """Compute the null calibration and write it into ``ROOT/docs/analysis.md`` and
    ``ROOT/docs/results/calibration/nulls.json``."""
    from factordiff.analysis.calibration import repository_root, write_table_and_json

    root = repository_root(root)
    cal = null_calibration()
    write_table_and_json(
        root / "docs" / "analysis.md",
        NULLS_START,
        NULLS_END,
        null_table_markdown(cal),
        root / "docs" / "results" / "calibration" / "nulls.json",
        copy.deepcopy(cal),
    )
    return cal


if __name__ == "__main__":
    from factordiff.analysis.calibration import run_command

    run_command(
        "python -m factordiff.analysis.nulls",
        "The 'not aligned' rule and the raw-images null on the calibration clouds: rewrite the "
        "table in ROOT/docs/analysis.md and ROOT/docs/results/calibration/nulls.json.",
        main,
    )
