"""Experiment 2's designs on the lattice: the lesions, the rim, and what each removes.

**Lesions by lattice columns.** A lesion is stated by the number k of lattice columns it
removes at the run's N (``Exp2Config.lesion_columns``), not by a width in px scaled from
N = 32: a scaled width can fall between two columns and remove none (1 px at N = 32 is 0.5 px
at N = 16, which held no lattice label). The k columns are the frame's lattice columns
nearest to x = N / 2, ties to the lower x (so the lesions are nested and contiguous); the
held-out band runs from half a spacing below the first to half a spacing above the last
(band edges between two columns, never on one), so its width is ``k * dx`` px, every y.
``k = 0`` is the full lattice (no lesion); that run is scored on the band of the narrowest
lesion of the config (the same labels, seen in training), so the curve starts from the
accuracy there without a lesion.

The lesion claim is judged over the lesions that remove at least one column
(:func:`lesion_statistics`): the 0-column run is the reference, shown beside the curve but
not part of its statistics (a step from "no lesion" to "any lesion" is not a decay with
width).

**The rim at the paper's share.** The 1D-stripes model keeps the 2D SOS labels within
``rim_width`` px of the frame's edge (our default at N = 32: 2 px, the ``stripes`` preset; the
paper's Fig. 10 compares with and without a rim and states no width). The rim is stated in px
at the run's N (``Exp2Config.rim_width``); :func:`rim_share` gives its share of the frame's
2D labels, which the report states beside the share at N = 32 (:func:`paper_rim_share`).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from factordiff.config import DataConfig

REFERENCE_SIZE = 32  # the paper's N
PAPER_RIM_WIDTH = 2.0  # px at N = 32: our default rim (the `stripes` dataset preset)


def scaled(preset: str, n: int, **changes) -> DataConfig:
    """Dataset preset ``preset`` with ``changes``, moved to N = ``n``
    (:func:`factordiff.data.rescale.scaled_data_config`)."""
    from factordiff.data import get_dataset_preset
    from factordiff.data.rescale import scaled_data_config

    return scaled_data_config(replace(get_dataset_preset(preset), **changes), n)


def _frame(data: DataConfig) -> np.ndarray:
    """The frame's lattice labels (both coordinates visible), (K, 2)."""
    from factordiff.data import coord_visible, lattice_labels

    lattice = lattice_labels(data)
    return lattice[coord_visible(lattice, data).all(axis=1)]


def frame_columns(data: DataConfig) -> np.ndarray:
    """The x of the frame's lattice columns, sorted: (C,) float64."""
    return np.unique(_frame(data)[:, 0])


def lesion_column_x(data: DataConfig, k: int) -> np.ndarray:
    """The x of the k lattice columns a lesion of k columns removes (sorted): the frame's
    columns nearest to x = N / 2, ties to the lower x."""
    cols = frame_columns(data)
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= len(cols):
        raise ValueError(
            f"lesion columns = {k!r} is invalid; allowed: an integer in [0, {len(cols)}]"
        )
    order = sorted(cols, key=lambda x: (abs(x - data.image_size / 2), x))
    return np.sort(np.asarray(order[:k], np.float64))


def lesion_band(data: DataConfig, k: int) -> tuple[float, float] | None:
    """The held-out band ``[lo, hi]`` in x of a lesion of k columns (None for k = 0)."""
    xs = lesion_column_x(data, k)
    if not len(xs):
        return None
    return float(xs[0] - data.dx / 2), float(xs[-1] + data.dx / 2)


def lesion_width_px(k: int, n: int) -> float:
    """The width in px at N = ``n`` of a lesion of k lattice columns (k times the spacing)."""
    band = lesion_band(scaled("sos", n), k)
    return 0.0 if band is None else band[1] - band[0]


def lesion_data(k: int, n: int) -> DataConfig:
    """2D SOS at N = ``n`` without the k lattice columns nearest x = N / 2 (every y): a
    ``custom`` hole of one band (:func:`lesion_band`); k = 0 is the full lattice."""
    base = scaled("sos", n)
    band = lesion_band(base, k)
    if band is None:
        return base
    return replace(base, hole="custom", hole_rects=((band[0], band[1], 0.0, float(n)),))


def lesion_reference_columns(columns) -> int:
    """The narrowest lesion of ``columns`` that removes a column: where the 0-column run is
    scored."""
    nonzero = [k for k in columns if k >= 1]
    if not nonzero:
        raise ValueError(f"lesion_columns = {list(columns)!r} has no lesion of 1 or more columns")
    return min(nonzero)


def lesion_eval_data(k: int, n: int, columns) -> DataConfig:
    """The label space a lesion run of k columns is scored on: its own (``held_out`` = its
    band); for k = 0 the narrowest lesion's of ``columns`` (its band, seen in training)."""
    return lesion_data(k if k else lesion_reference_columns(columns), n)


def removed_lattice_labels(data: DataConfig, seed: int = 0) -> np.ndarray:
    """The frame's lattice labels a dataset does not train on, (R, 2), from the built
    training set (for a dataset without subsampling: the hole)."""
    from factordiff.data import build_labels

    frame = _frame(data)
    train = build_labels(data, seed=seed).labels
    kept = {tuple(np.round(v, 9)) for v in train}
    return frame[[tuple(np.round(v, 9)) not in kept for v in frame]]


def removed_columns(data: DataConfig) -> int:
    """Lattice columns of the frame of which the training set keeps no label."""
    removed = removed_lattice_labels(data)
    rows = len(np.unique(_frame(data)[:, 1]))
    xs, counts = np.unique(removed[:, 0], return_counts=True)
    return int((counts == rows).sum()) if len(xs) else 0


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either is constant."""
    from scipy.stats import spearmanr

    if len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def lesion_statistics(columns: list[int], accuracy: list) -> tuple[float, float]:
    """The lesion claim's two statistics of one seed, over the lesions that remove at least
    one column: (accuracy of the narrowest - of the widest, Spearman rho(columns,
    accuracy)); NaN where undefined (fewer than two such lesions, a missing accuracy, a
    flat curve)."""
    pairs = sorted(
        (k, float("nan") if a is None else float(a)) for k, a in zip(columns, accuracy) if k >= 1
    )
    if len(pairs) < 2 or any(math.isnan(a) for _, a in pairs):
        return float("nan"), float("nan")
    ks, acc = [k for k, _ in pairs], [a for _, a in pairs]
    return acc[0] - acc[-1], spearman(ks, acc)


LESION_CLAIM = "OOD accuracy falls with lesion width"


def lesion_rules(min_difference: float, min_seeds: int) -> list:
    """The lesion claim's rules (over the lesions that remove at least one column)."""
    from factordiff.experiments.judgement import Rule

    return [
        Rule(
            "joint accuracy in the lesion, narrowest lesion that removes a lattice column "
            "minus widest",
            "above",
            min_difference,
            min_seeds,
        ),
        Rule(
            "Spearman rho(lattice columns removed, joint accuracy in the lesion) over the "
            "lesions that remove a column",
            "below",
            -0.5,
            min_seeds,
        ),
    ]


def lesion_verdict(columns: list[int], accuracy: list, n: int, min_difference: float, rules):
    """One seed's lesion verdict: ``accuracy`` in the lesion per lesion of ``columns``
    (sorted), its statistics (:func:`lesion_statistics`) and the per-run rule."""
    from factordiff.experiments.skeleton import Verdict

    d = min_difference
    widths = [lesion_width_px(k, n) for k in columns]
    drop, rho = lesion_statistics(columns, accuracy)
    return Verdict(
        claim=LESION_CLAIM,
        paper="out-of-distribution accuracy decays with the width of the lesion",
        rule=f"joint accuracy in the lesion, per seed, over the lesions that remove at least "
        f"one lattice column: narrowest - widest > {d:g} and Spearman rho(columns removed, "
        f"accuracy) < -0.5 (undefined for a flat curve); value: accuracy per lesion of "
        f"{list(columns)} lattice columns ({', '.join(f'{w:g}' for w in widths)} px at "
        f"N = {n}), the 0-column run (no lesion) scored on the "
        f"{lesion_reference_columns(columns)}-column band, shown and not judged",
        value=list(accuracy),
        reproduced=bool(drop >= d and rho <= -0.5),
        detail={"spearman_rho": rho, "columns": list(columns), "widths_px": widths},
        rules=rules,
        statistics=[None if math.isnan(v) else v for v in (drop, rho)],
    )


def design_problems(n: int, lesion_columns, rim_width: float) -> list[tuple[str, str]]:
    """``(field, allowed)`` for each invalid design field of a config at N = ``n``."""
    out = []
    c = lesion_columns
    if (
        any(isinstance(k, bool) or not isinstance(k, int) for k in c)
        or any(not 0 <= k < n for k in c)
        or len(set(c)) != len(c)
        or sum(k >= 1 for k in c) < 2
    ):
        out.append(
            (
                "lesion_columns",
                f"distinct integers in [0, {n - 1}] (lattice columns removed at N = {n}), two "
                "or more of them >= 1",
            )
        )
    if isinstance(rim_width, bool) or not 0 <= rim_width < n / 2:
        out.append(("rim_width", f"px in [0, {n / 2:g}) at N = {n}"))
    return out


def design_setting(n: int, lesion_columns, rim_width: float) -> str:
    """The report's setting line on the lesions and the rim."""
    cols = sorted(lesion_columns)
    widths = ", ".join(f"{lesion_width_px(k, n):g}" for k in cols)
    share, ref = rim_share(rim_data(n, rim_width)), paper_rim_share()
    return (
        f"lesions of {', '.join(map(str, cols))} lattice columns ({widths} px wide at N = {n}); "
        f"rim of the 1D model {rim_width:g} px at N = {n} ({share:.1%} of the 2D labels; our "
        f"default {PAPER_RIM_WIDTH:g} px at N = {REFERENCE_SIZE}: {ref:.1%})"
    )


def rim_data(n: int, rim_width: float) -> DataConfig:
    """1D stripes at N = ``n`` with the 2D SOS rim of ``rim_width`` px (0: no rim)."""
    return scaled("stripes", n, rim_width=rim_width)


def rim_share(data: DataConfig) -> float:
    """The rim's share of the frame's 2D labels: 2D images of the stripes dataset / frame
    lattice labels."""
    from factordiff.data import build_labels

    tags = build_labels(data, seed=0).tags
    return float((tags == 2).sum() / len(_frame(data)))


def paper_rim_share() -> float:
    """The share at N = 32 with our default rim of 2 px (0.234: 240 of 1,024 labels)."""
    return rim_share(rim_data(REFERENCE_SIZE, PAPER_RIM_WIDTH))


def design_summary(n: int, lesion_columns, rim_width: float) -> dict:
    """What the lesions and the rim of a config remove and keep at N = ``n``, for the
    summary and the report (computed from the built datasets)."""
    ref = lesion_reference_columns(lesion_columns)
    lesions = []
    for k in sorted(lesion_columns):
        data = lesion_data(k, n)
        lesions.append(
            {
                "columns": k,
                "width_px": lesion_width_px(k, n),
                "band": lesion_band(data, k),
                "column_x": lesion_column_x(data, k).tolist(),
                "removed_lattice_labels": int(len(removed_lattice_labels(data))),
                "scored_on": lesion_band(data, k or ref),
            }
        )
    rim = rim_data(n, rim_width)
    return {
        "image_size": n,
        "lesions": lesions,
        "rim": {
            "width_px": rim_width,
            "share_of_2d_labels": rim_share(rim),
            "reference_width_px": PAPER_RIM_WIDTH,
            "reference_share_of_2d_labels": paper_rim_share(),
        },
    }


def design_lines(designs: dict) -> list[str]:
    """The report's lines on the designs (:func:`design_summary`)."""
    n = designs["image_size"]
    rim = designs["rim"]
    lines = [
        "## Lesions and rim on the lattice",
        "",
        f"Each lesion removes the stated number of lattice columns nearest x = {n / 2:g} at "
        f"N = {n} (every y); the 0-column run trains on the full lattice and is scored on "
        "the narrowest lesion's band, not judged.",
        "",
        "| lattice columns removed | width (px) | band in x | columns at x | lattice labels "
        "removed | scored on x in |",
        "|---|---|---|---|---|---|",
    ]
    for les in designs["lesions"]:
        band = les["band"]
        scored = les["scored_on"]
        lines.append(
            f"| {les['columns']} | {les['width_px']:g} "
            f"| {'-' if band is None else f'[{band[0]:g}, {band[1]:g}]'} "
            f"| {', '.join(f'{x:g}' for x in les['column_x']) or '-'} "
            f"| {les['removed_lattice_labels']} "
            f"| {'-' if scored is None else f'[{scored[0]:g}, {scored[1]:g}]'} |"
        )
    lines += [
        "",
        f"Rim of the 1D-stripes model: {rim['width_px']:g} px at N = {n}, "
        f"{rim['share_of_2d_labels']:.1%} of the frame's 2D labels (our default at N = 32: "
        f"{rim['reference_width_px']:g} px, {rim['reference_share_of_2d_labels']:.1%}).",
    ]
    return lines
