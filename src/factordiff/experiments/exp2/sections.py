"""Experiment 2's scoring section by section, and the per-run outcome rule.

Pure functions, numbers and arrays in and out: the conditions drawn inside each section of a
label space (:func:`section_conditions`), the marking of each (section, axis) as *seen* or
*novel* from the training set (:func:`seen_coordinates`), the scores of generated images per
section (:func:`section_scores`) and the rule that turns them into composes / interpolates
(:func:`classify_outcome`, stated in :data:`OUTCOME_RULE`).
"""

from __future__ import annotations

import math

import numpy as np

from factordiff.config import DataConfig

_SEEN_SLACK = 1e-6  # px, float slack when matching a coordinate to the training lattice


def shown_axes(labels: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """Which coordinates an image of the dataset shows: (B, 2) labels -> (B, 2) bool.

    An SOS / stripes image shows each coordinate whose stripe lies in the frame; a bump
    shows both coordinates when it lies in the frame, neither otherwise."""
    from factordiff.data import coord_visible, label_formulas

    vis = coord_visible(labels, cfg)  # (B, 2)
    bump = label_formulas(labels, cfg) == 0
    vis[bump] = vis[bump].all(axis=1, keepdims=True)
    return vis


def seen_coordinates(conditions: np.ndarray, train: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """Per condition and axis: does some training image show that coordinate value on that
    axis? (K, 2) conditions, (M, 2) training labels -> (K, 2) bool.

    Our rule: a value is seen when a training image shows a value within half a lattice
    spacing of it (exact lattice matches, and the values in between two seen neighbours)."""
    shown = shown_axes(train, cfg)
    out = np.zeros(conditions.shape, bool)
    for a, spacing in enumerate((cfg.dx, cfg.dy)):
        values = np.unique(train[shown[:, a], a])
        if len(values) == 0:
            continue
        idx = np.clip(np.searchsorted(values, conditions[:, a]), 1, len(values) - 1)
        near = np.minimum(
            np.abs(values[idx] - conditions[:, a]),
            np.abs(values[idx - 1] - conditions[:, a]),
        )
        if len(values) == 1:
            near = np.abs(values[0] - conditions[:, a])
        out[:, a] = near <= spacing / 2 + _SEEN_SLACK
    return out


def section_conditions(
    cfg: DataConfig, names: list[str], k: int, seed: int
) -> dict[str, np.ndarray]:
    """``k`` conditions inside each named region of ``cfg``: name -> (k, 2) float64.

    Drawn from the frame's lattice labels (before holes) in the region, without replacement
    when there are enough, with replacement otherwise. A region holding no lattice label
    (a band narrower than the lattice spacing) gets ``k`` continuous labels drawn uniformly
    inside it (rejection sampling in the frame); a region of zero area gets none."""
    from factordiff.data import build_regions, coord_visible, lattice_labels

    regions = build_regions(cfg)
    missing = [n for n in names if n not in regions]
    if missing:
        raise ValueError(f"sections {missing} are not regions of {cfg}; allowed: {list(regions)}")
    lattice = lattice_labels(cfg)
    frame = lattice[coord_visible(lattice, cfg).all(axis=1)]
    rng = np.random.default_rng(seed)
    out = {}
    for name in names:
        pool = frame[regions[name].contains(frame)]
        if len(pool):
            out[name] = pool[rng.choice(len(pool), size=k, replace=k > len(pool))]
            continue
        cand = rng.uniform(0, cfg.image_size, size=(200 * k, 2))
        cand = cand[regions[name].contains(cand)]
        out[name] = cand[:k] if len(cand) >= k else np.zeros((0, 2))
    return out


def section_scores(
    images: np.ndarray,
    conditions: dict[str, np.ndarray],
    eval_cfg: DataConfig,
    train_cfg: DataConfig,
    train_labels: np.ndarray,
    tolerance_px: float = 1.0,
) -> tuple[dict[str, dict], np.ndarray]:
    """Score images generated section by section.

    Args:
        images: (K, N, N) or (K, 1, N, N) in [-1, 1], the sections' images in the order of
            ``conditions`` (a dict: name -> (k_i, 2) labels, sum k_i = K).
        eval_cfg: the label space the conditions come from (its scale must be the model's).
        train_cfg, train_labels: the model's training data, (M, 2) labels, to mark each
            (section, axis) as seen or novel.

    Returns:
        ``(sections, joint_ok)``: name -> ``{"n", "accuracy", "x_accuracy", "y_accuracy",
        "x_seen", "y_seen"}`` (``*_seen``: share of the section's conditions whose value on
        that axis a training image shows), and (K,) bool joint correctness.
    """
    from factordiff.evaluation import score

    labels = np.concatenate([c for c in conditions.values()]).reshape(-1, 2)
    scores = score(images, labels, eval_cfg, tolerance_px=tolerance_px)
    seen = seen_coordinates(labels, train_labels, train_cfg) if len(labels) else labels > 0
    out, start = {}, 0
    for name, cond in conditions.items():
        sl = slice(start, start + len(cond))
        start += len(cond)
        summ = scores.subset(np.arange(len(labels))[sl]).summary()
        nan = float("nan")
        out[name] = {
            "n": int(len(cond)),
            "accuracy": summ["accuracy"],
            "x_accuracy": summ["x_accuracy"],
            "y_accuracy": summ["y_accuracy"],
            "x_seen": float(seen[sl, 0].mean()) if len(cond) else nan,
            "y_seen": float(seen[sl, 1].mean()) if len(cond) else nan,
        }
    return out, np.asarray(scores.joint_ok)


# ----------------------------------------------------------------------------- outcomes
OUTCOME_RULE = (
    "reference r = mean of x and y accuracy in the in-distribution section; in every other "
    "section each axis is a composition test when most of its conditions have a value on that "
    "axis that a training image shows (a seen value in a new combination), an interpolation "
    "test otherwise (a value never shown); composes = mean accuracy over composition tests "
    ">= {ratio:g} r, interpolates = mean accuracy over interpolation tests >= {ratio:g} r; "
    "both false unless x and y accuracy in the in-distribution section are each >= {floor:g} "
    "(otherwise the model has not learned its reference); not tested "
    "(None) when a model has no test of that kind. Over seeds, each part is a statistic per "
    "seed judged from its interval: composition margin = composition accuracy - {ratio:g} r "
    "(composes: > 0), interpolation margin = interpolation accuracy - {ratio:g} r (does not "
    "interpolate: < 0), reference floor = the smaller of x and y accuracy in the "
    "in-distribution section (learned: > {floor:g})"
)


def as_number(v) -> float:
    """A number read back from JSON: None (a NaN there) -> NaN."""
    return float("nan") if v is None else float(v)


def classify_outcome(
    sections: dict[str, dict],
    *,
    reference: str = "in_distribution",
    ratio: float = 0.5,
    min_reference: float = 0.5,
) -> dict:
    """Composes or not, interpolates or not, from per-section x and y accuracy.

    Args:
        sections: name -> ``{"x_accuracy", "y_accuracy", "x_seen", "y_seen", "n"}`` as
            :func:`section_scores` gives (``*_seen`` in [0, 1]; ``n`` optional).
        reference: the section the others are read against.
        ratio, min_reference: the rule's constants (:data:`OUTCOME_RULE`).

    Returns:
        ``{"reference", "learned", "composition", "interpolation", "composes",
        "interpolates", "outcome", "reference_min", "composition_margin",
        "interpolation_margin"}``: the reference accuracy r, whether both axes reach
        ``min_reference`` there, the mean accuracy over composition tests and
        over interpolation tests (None without a test), the two classes (None: not tested)
        and a label such as ``"composes, does not interpolate"``; and the numbers the
        classes compare, the statistics a claim is judged by over seeds: the smaller of x
        and y accuracy in the reference (learned: >= ``min_reference``) and each test's
        accuracy minus ``ratio`` r (composes / interpolates: >= 0); None where undefined.
    """
    if reference not in sections:
        raise ValueError(f"reference = {reference!r} is not a section; allowed: {list(sections)}")
    ref = sections[reference]
    ref_x, ref_y = (as_number(ref[f"{a}_accuracy"]) for a in ("x", "y"))  # NaN when empty
    r = (ref_x + ref_y) / 2
    comp, interp = [], []
    for name, s in sections.items():
        if name == reference or s.get("n", 1) == 0:
            continue
        for axis in ("x", "y"):
            acc = as_number(s[f"{axis}_accuracy"])
            if not math.isnan(acc):
                (comp if s[f"{axis}_seen"] >= 0.5 else interp).append(acc)
    # both axes must be learned: a model that draws every y right and every x wrong has
    # r = 0.5 but has learned only half its task
    learned = bool(min(ref_x, ref_y) >= min_reference)

    def judge(values: list[float]) -> tuple[float | None, bool | None]:
        if not values:
            return None, None
        m = float(np.mean(values))
        return m, bool(learned and m >= ratio * r)

    c_val, composes = judge(comp)
    i_val, interpolates = judge(interp)

    def margin(v: float | None) -> float | None:
        m = float("nan") if v is None else v - ratio * r
        return None if math.isnan(m) else float(m)

    floor = float("nan") if math.isnan(ref_x) or math.isnan(ref_y) else min(ref_x, ref_y)

    def word(flag: bool | None, verb: str) -> str:
        if flag is None:
            return f"{verb} not tested"
        return verb + "s" if flag else f"does not {verb}"

    return {
        "reference": None if math.isnan(r) else float(r),
        "learned": learned,
        "composition": c_val,
        "interpolation": i_val,
        "composes": composes,
        "interpolates": interpolates,
        "outcome": f"{word(composes, 'compose')}, {word(interpolates, 'interpolate')}",
        "reference_min": None if math.isnan(floor) else float(floor),
        "composition_margin": margin(c_val),
        "interpolation_margin": margin(i_val),
    }
