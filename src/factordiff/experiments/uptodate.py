"""Whether an experiment of a reproduce must run again, and why.

An experiment is up to date, and ``reproduce`` leaves it alone (not even analysed again),
when its ``summary.json`` exists, its ``experiment.json`` is the config asked for now, the
summary lists exactly the runs this config plans, every one of them is finished, none
finished after the summary was written, and ``reproduce.json`` does not record its last
attempt as failed or interrupted (:func:`reason_to_run`).
"""

from __future__ import annotations

from pathlib import Path

from factordiff.experiments.planning import Planned
from factordiff.experiments.skeleton import finished, saved_config_matches
from factordiff.jsonfiles import read_summary

#: Statuses of a last attempt that did not end well: the experiment runs again.
UNFINISHED_STATUSES = ("failed", "interrupted", "running", "training")


def needs_work(p: Planned) -> str | None:
    """Why experiment ``p`` must run (a short reason), or None when its folder is up to date
    (see the module docstring)."""
    summary_path = p.out / "summary.json"
    if not summary_path.is_file():
        return "no summary.json yet"
    # Deliberately tolerant: an unreadable summary.json or experiment.json (factordiff.jsonfiles
    # names it) is a reason to run the experiment again, which writes both anew.
    try:
        summary = read_summary(summary_path)
        same_config = saved_config_matches(p.out, p.cfg)
    except (OSError, ValueError) as e:
        return f"an unreadable file, written again ({e})"
    if not same_config:
        return "the config differs from the one in experiment.json"
    if sorted(r.get("key") for r in summary.get("runs", [])) != sorted(r.key for r in p.runs):
        return "summary.json lists other runs than this config plans"
    left = sum(not finished(r) for r in p.runs)
    if left:
        return f"{left} run(s) to train"
    stamp = summary_path.stat().st_mtime
    if any((r.dir / "state.json").stat().st_mtime > stamp for r in p.runs):
        return "a run finished after summary.json was written"
    return None


def reason_to_run(p: Planned, last_status: str | None, reanalyse: bool = False) -> str | None:
    """Why experiment ``p`` runs in this call (None: up to date, skipped): its folder
    (:func:`needs_work`), else its last attempt's ``last_status`` in reproduce.json, else
    ``reanalyse`` (its analysis asked for again)."""
    reason = needs_work(p)
    if reason is None and last_status in UNFINISHED_STATUSES:
        reason = f"its last attempt is recorded as {last_status}"
    if reason is None and reanalyse:
        reason = "analysis asked again (reanalyse)"
    return reason


def summary_wall_seconds(folder: Path) -> float | None:
    """The wall time an experiment's summary.json records (None when unreadable)."""
    try:  # tolerant: only a number shown on the page
        value = read_summary(folder / "summary.json").get("wall_seconds")
    except (OSError, ValueError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


__all__ = ["UNFINISHED_STATUSES", "needs_work", "reason_to_run", "summary_wall_seconds"]
