"""A finished experiment folder read back: whether its saved config is a given config
(:func:`saved_config_matches`) and judging it again with the current rules
(:func:`rejudge_experiment`). Re-exported by :mod:`factordiff.experiments.skeleton`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from factordiff.config import to_dict

if TYPE_CHECKING:
    from factordiff.experiments.skeleton import Experiment


def saved_config_matches(out: str | Path, cfg) -> bool:
    """Whether ``out/experiment.json`` holds config ``cfg``. The saved config is read back
    through ``cfg``'s class first, upgraded through its migrations (factordiff.migrate), so
    a field added since it was saved counts at the value the migration gives old configs (or
    at its default where no migration names it); a saved config the class no longer reads
    does not match. A missing file raises FileNotFoundError, an unreadable one or one of a
    newer schema version ValueError (both naming it)."""
    from factordiff.config import from_dict
    from factordiff.jsonfiles import read_json
    from factordiff.migrate import FutureSchemaError

    path = Path(out) / "experiment.json"
    saved = read_json(
        path, "an experiment config as factordiff experiment writes it (a JSON object)"
    )
    try:
        saved = to_dict(from_dict(type(cfg), saved))
    except FutureSchemaError as e:
        raise ValueError(f"{path}: {e}") from None
    except (ValueError, TypeError):
        return False
    return json.loads(json.dumps(saved)) == json.loads(json.dumps(to_dict(cfg)))


def rejudge_experiment(exp: Experiment, cfg, out: str | Path, why: str) -> dict:
    """Judge a finished experiment in ``out`` again with the current rules, from the rows its
    summary.json stores: nothing is trained or scored. For a rule change made after the run
    (``why`` says which, and the report says it too). Only experiments whose summary keeps
    one row per run (``rows``: Experiment 3, percolation) can be judged again this way."""
    from factordiff.experiments.results import write_summary
    from factordiff.jsonfiles import expect_list, read_summary

    out = Path(out)
    path = out / "summary.json"
    if not path.is_file():
        raise ValueError(f"--rejudge: {path} does not exist; allowed: a finished experiment folder")
    summary = read_summary(path)
    if not saved_config_matches(out, cfg):
        raise ValueError(
            f"--rejudge: the config in {out / 'experiment.json'} differs from {cfg.name!r}; "
            "allowed: the preset, seeds and --set values the experiment ran with"
        )
    if "rows" not in summary:
        raise ValueError(
            f"--rejudge: {path} keeps no per-run rows ({summary.get('experiment')}); allowed: "
            "experiments whose summary stores them (exp3, percolation)"
        )
    rows = expect_list(summary["rows"], path, "rows", dict)
    verdicts = exp.verdicts(cfg, [{"row": r} for r in rows])
    summary["verdicts"] = [v.to_dict() for v in verdicts]
    date = time.strftime("%Y-%m-%d", time.gmtime())
    summary["rejudged"] = [*summary.get("rejudged", []), {"date": date, "why": why}]
    return write_summary(exp, summary, out)
