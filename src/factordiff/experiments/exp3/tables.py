"""Experiment 3's tables beside the exponents (2026-12-06): the dataset sizes per N with the
ratio of the two datasets, each run's accuracy on the whole lattice and on the held-out sites,
and the exponents read from held-out accuracy (reported, not judged).

Each table is built from the results rows (a pure function), stored in ``summary.json`` and
drawn in ``report.md``; summaries written before them render without them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from factordiff.experiments.budgets import fmt_number
from factordiff.experiments.exp3.config import DATASETS
from factordiff.experiments.exp3.verdicts import fit_exponents, threshold_sizes


def _finite(values) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def _mean(values) -> float:
    v = _finite(values)
    return float(np.mean(v)) if v else math.nan


def stripes_per_n(rows: list[dict]) -> dict[int, int | None]:
    """The 1D stripes of (b) at each N (``n_images - n_bumps``): one number when every run of
    that N has the same (stripes kept in full), None when they differ (subsampled)."""
    out: dict[int, int | None] = {}
    for n in sorted({r["N"] for r in rows if r["dataset"] == "bumps+stripes"}):
        counts = {
            int(round(r["n_images"] - r["n_bumps"]))
            for r in rows
            if r["dataset"] == "bumps+stripes" and r["N"] == n
        }
        out[n] = counts.pop() if len(counts) == 1 else None
    return out


def size_table(rows: list[dict], sizes: dict, size_measure: str) -> list[dict]:
    """Per N: the size at the threshold of each dataset per seed (the ``sizes`` of
    :func:`factordiff.experiments.exp3.verdicts.threshold_sizes`) and their mean, the ratio bumps
    alone / bumps + stripes per seed and of the means, (b)'s stripes, and (b)'s images at its
    threshold with the share of them that are 2D bumps (when the stripes are one number)."""
    stripes = stripes_per_n(rows)
    a, b = sizes.get("bumps"), sizes.get("bumps+stripes")
    if a is None or b is None:
        return []
    out = []
    for j, n in enumerate(a["image_sizes"]):
        sa = [float(row[j]) for row in np.asarray(a["size"], np.float64)]
        sb = [float(row[j]) for row in np.asarray(b["size"], np.float64)]
        ratios = [
            x / y if math.isfinite(x) and math.isfinite(y) and y > 0 else math.nan
            for x, y in zip(sa, sb)
        ]
        ma, mb = _mean(sa), _mean(sb)
        k = stripes.get(n)
        if k is None or not math.isfinite(mb):
            images, share_2d = math.nan, math.nan
        elif size_measure == "bumps":
            images, share_2d = mb + k, mb / (mb + k)
        else:  # sizes count every image: the 2D bumps are what is left of the stripes
            images, share_2d = mb, (mb - k) / mb if mb > 0 else math.nan
        out.append(
            {
                "N": n,
                "seeds": list(a["seeds"]),
                "bumps": sa,
                "bumps_mean": ma,
                "bumps+stripes": sb,
                "bumps+stripes_mean": mb,
                "ratio": ratios,
                "ratio_of_means": ma / mb if math.isfinite(ma) and mb > 0 else math.nan,
                "stripes": k,
                "images_b": images,
                "share_2d_b": share_2d,
            }
        )
    return out


def accuracy_table(rows: list[dict]) -> list[dict]:
    """Per (dataset, N, share): the seeds, the mean 2D bumps and images, and the mean over
    seeds of the whole-lattice and the held-out accuracy (NaN where no site is held out)."""
    out = []
    keys = sorted({(r["dataset"], r["N"], r["share"]) for r in rows})
    for dataset, n, share in keys:
        sel = [r for r in rows if (r["dataset"], r["N"], r["share"]) == (dataset, n, share)]
        out.append(
            {
                "dataset": dataset,
                "N": n,
                "share": share,
                "seeds": sorted(r["seed"] for r in sel),
                "n_bumps": _mean([r["n_bumps"] for r in sel]),
                "n_images": _mean([r["n_images"] for r in sel]),
                "lattice": _mean([r["lattice"] for r in sel]),
                "heldout": _mean([r["heldout"] for r in sel]),
            }
        )
    return out


def heldout_exponents(rows: list[dict], cfg) -> dict:
    """The per-seed exponents and the fit read from the *held-out* accuracy instead of the
    whole lattice (beside the judged ones; not judged)."""
    other = replace(cfg, threshold_metric="heldout")
    fits = fit_exponents(threshold_sizes(rows, other), other)
    return {
        k: {"per_seed": v["per_seed"], "fit": None if v["fit"] is None else v["fit"].to_json()}
        for k, v in fits.items()
    }


def extra(rows: list[dict], cfg, sizes: dict) -> dict:
    """The three tables for ``summary.json``."""
    return {
        "size_table": size_table(rows, sizes, cfg.size_measure),
        "accuracy_table": accuracy_table(rows),
        "heldout_exponents": heldout_exponents(rows, cfg),
        "size_measure": cfg.size_measure,
    }


def _seeds_text(values) -> str:
    return ", ".join(fmt_number(v) for v in values)


def report_lines(summary: dict) -> list[str]:
    """The report's sections for the tables (nothing for summaries without them)."""
    if "size_table" not in summary:
        return []
    counted = "2D bumps" if summary.get("size_measure") == "bumps" else "all training images"
    lines = [
        "",
        "## Sizes per N beside the exponents",
        "",
        f"Size at the threshold counting {counted}, per seed (mean); the ratio bumps alone / "
        "bumps + stripes per seed (ratio of the means; above 1: the stripes save 2D "
        "examples); (b)'s 1D stripes and, at its threshold, its images and their share of "
        "2D bumps.",
        "",
        "| N | bumps alone | bumps + stripes | ratio | stripes in (b) | (b) images | 2D share |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summary["size_table"]:
        lines.append(
            f"| {r['N']} | {_seeds_text(r['bumps'])} ({fmt_number(r['bumps_mean'])}) | "
            f"{_seeds_text(r['bumps+stripes'])} ({fmt_number(r['bumps+stripes_mean'])}) | "
            f"{_seeds_text(r['ratio'])} ({fmt_number(r['ratio_of_means'])}) | "
            f"{r['stripes'] if r['stripes'] is not None else 'varies'} | "
            f"{fmt_number(r['images_b'])} | {fmt_number(r['share_2d_b'])} |"
        )
    lines += ["", "Exponents per seed (the judged statistic's source), by accuracy:", ""]
    judged = summary.get("fits") or {}
    held = summary.get("heldout_exponents") or {}
    for dataset in DATASETS:
        lattice = (judged.get(dataset) or {}).get("per_seed") or []
        other = (held.get(dataset) or {}).get("per_seed") or []
        lines.append(
            f"- {dataset}: whole lattice (judged) {_seeds_text(lattice) or 'n/a'}; held-out "
            f"sites (beside, not judged) {_seeds_text(other) or 'n/a'}"
        )
    lines += [
        "",
        "## Accuracy per N and share",
        "",
        "Mean over seeds of the accuracy of 2D bumps on the whole lattice (training sites "
        "included) and on the held-out lattice sites (those not in the bump part of the run's "
        "training set; none at share 1).",
        "",
        "| dataset | N | share | 2D bumps | images | whole lattice | held-out | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["accuracy_table"]:
        lines.append(
            f"| {r['dataset']} | {r['N']} | {r['share']:g} | {fmt_number(r['n_bumps'])} | "
            f"{fmt_number(r['n_images'])} | {fmt_number(r['lattice'])} | "
            f"{fmt_number(r['heldout'])} | {len(r['seeds'])} |"
        )
    return lines
