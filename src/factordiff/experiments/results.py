"""What an experiment writes from its analysed runs: the results table (``results.csv`` and
``results.parquet``, one row per run), the summary (``summary.json``) and the report
(``report.md``). Used by :func:`factordiff.experiments.skeleton.run_experiment` and by
rejudging (:mod:`factordiff.experiments.rejudge`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from factordiff.config import json_ready, to_dict
from factordiff.experiments.sweep import SweepRun
from factordiff.provenance import provenance

if TYPE_CHECKING:
    from factordiff.experiments.skeleton import Experiment
    from factordiff.experiments.verdict import Verdict


# ----------------------------------------------------------------------------- results table
def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dict -> ``{"a.b.c": value}``; lists become JSON text (one cell each)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{name}."))
        elif isinstance(v, list | tuple):
            out[name] = json.dumps(to_dict(v))
        else:
            out[name] = v
    return out


def results_table(results: list[dict]):
    """One row per run: ``key``, ``run_dir``, the params, the flattened config
    (``config.<section>.<field>``) and the metrics of ``analyse``. A pandas DataFrame."""
    import pandas as pd

    rows = []
    for r in results:
        run: SweepRun = r["run"]
        row: dict[str, Any] = {"key": run.key, "run_dir": str(run.dir)}
        row.update({f"param.{k}": v for k, v in run.params.items()})
        cfg = to_dict(run.config)
        cfg.pop("device", None)
        row.update(flatten(cfg, "config."))
        row.update(json_ready(r["row"]))
        rows.append(row)
    return pd.DataFrame(rows)


def write_table(table, out: Path) -> list[Path]:
    """``results.csv`` and ``results.parquet`` (read back with ``pd.read_parquet(path)``)."""
    csv, parquet = out / "results.csv", out / "results.parquet"
    for path, write in ((csv, table.to_csv), (parquet, table.to_parquet)):
        tmp = path.with_name(path.name + ".tmp")
        write(tmp, index=False)
        tmp.replace(path)
    return [csv, parquet]


def run_deviations(runs: list[SweepRun]) -> list[str]:
    """The deviations from the paper's network that remain in any run of the sweep
    (:func:`factordiff.ladder.deviations`), each once, in ladder order."""
    from factordiff.ladder import deviations

    return list(dict.fromkeys(d for r in runs for d in deviations(r.config)))


def train_seconds(run_dir: Path) -> float:
    """Training wall time recorded in a run's metrics (last logged ``train_seconds``)."""
    from factordiff.training import read_metrics  # names file and line on a bad record

    last = 0.0
    if (Path(run_dir) / "metrics.jsonl").is_file():
        for rec in read_metrics(run_dir):
            last = max(last, float(rec.get("train_seconds", 0.0)))
    return last


# ----------------------------------------------------------------------------- summary
def experiment_summary(
    exp: Experiment,
    cfg,
    runs: list[SweepRun],
    results: list[dict],
    *,
    command: str,
    device_used: str,
    executor,
    t_start: float,
    analysis_seconds: float,
    table_paths: list[Path],
    verdicts: list[Verdict],
    figures: list[str],
) -> dict:
    """The summary of an experiment run (not yet JSON-ready; :func:`write_summary` makes it
    so): its setting, machine, provenance, timings (``wall_seconds`` since ``t_start``, a
    ``time.perf_counter()`` value), runs, table files, the experiment's extra fields, verdicts
    and figures."""
    from factordiff.hardware import machine_description

    name = getattr(cfg, "name", "") or exp.name
    return {
        "experiment": name,
        "title": exp.title.format(name=name),
        "command": command,
        "device": device_used,
        "machine": machine_description(device_used),
        "provenance": provenance(),
        "setting": exp.describe_setting(cfg),
        "deviations": run_deviations(runs),
        **({"variant": cfg.variant} if hasattr(cfg, "variant") else {}),
        "wall_seconds": time.perf_counter() - t_start,
        "train_seconds": float(sum(train_seconds(r.dir) for r in runs)),
        "analysis_seconds": analysis_seconds,
        "executor": executor.describe(),
        "seeds": sorted({r.config.seed for r in runs}),
        "runs": [{"key": r.key, "params": r.params, "run_dir": str(r.dir)} for r in runs],
        "table": [p.name for p in table_paths],
        **exp.summary_extra(cfg, results),
        "verdicts": [v.to_dict() for v in verdicts],
        "figures": figures,
    }


def write_summary(exp: Experiment, summary: dict, out: Path) -> dict:
    """Write ``summary`` (made JSON-ready) to ``out/summary.json`` and its rendering to
    ``out/report.md``; returns the JSON-ready summary."""
    from factordiff.experiments.report import render_report
    from factordiff.training import atomic_write_text

    summary = json_ready(summary)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / "report.md", render_report(summary, exp.report_sections(summary)))
    return summary
