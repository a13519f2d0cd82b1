"""The notebook API: a run ready to sample, an experiment folder as tables.

::

    import factordiff as fd

    run = fd.load_run("runs/train/small")        # model, config, diffusion, on the device
    images = run.sample([[3.5, 4.5], [10, 12]])   # (2, 1, N, N) in [-1, 1]
    run.score(images, [[3.5, 4.5], [10, 12]]).summary()

    exp = fd.open_experiment("docs/results/exp1-5seeds")
    exp.verdicts[["claim", "verdict"]]            # a DataFrame, one row per claim
    exp.results, exp.tables["map"], exp.figures["pca_3d"], exp.report
    exp.runs[0].load()                            # = fd.load_run(exp.runs[0])

Both are built on the one path that loads, samples and scores a checkpoint
(:mod:`factordiff.sampling`) and on the files a run or an experiment writes; nothing here
computes anything of its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from factordiff.config import RunConfig
from factordiff.diffusion import GaussianDiffusion, check_labels
from factordiff.jsonfiles import read_json
from factordiff.runs import check_int, check_label_range, final_checkpoint, sampler_settings
from factordiff.sampling import load_checkpoint, sample_images, score_images
from factordiff.training import list_checkpoints

RUN_ALLOWED = "a run folder (config.json, checkpoints/) as factordiff train or experiment writes it"
EXPERIMENT_ALLOWED = (
    "an experiment folder (summary.json, results.csv, report.md) as factordiff experiment writes it"
)
#: The columns of :attr:`ExperimentFolder.verdicts`, in order.
VERDICT_COLUMNS = [
    "claim",
    "verdict",
    "value",
    "rule",
    "paper",
    "reproduced",
    "seeds",
    "intervals",
    "control_passes",
]


# ----------------------------------------------------------------------------- one run
@dataclass(frozen=True, eq=False)
class LoadedRun:
    """A checkpoint of a run, ready to sample: ``model`` (eval mode, on ``device``; the EMA
    weights unless loaded with ``ema=False``), its ``config``, the ``diffusion`` process of
    that config, and where it came from (``run_dir``, ``checkpoint``, ``epoch``, ``step``,
    ``accuracy`` measured at that epoch or None)."""

    model: torch.nn.Module = field(repr=False)
    config: RunConfig = field(repr=False)
    diffusion: GaussianDiffusion = field(repr=False)
    run_dir: Path
    checkpoint: Path
    epoch: int
    step: int
    accuracy: float | None
    device: torch.device
    ema: bool = True

    def sample(
        self, labels, sampler: str | None = None, num_steps: int | None = None, seed: int = 0
    ) -> torch.Tensor:
        """One image per label, ``(M, 1, N, N)`` on the CPU in [-1, 1], as ``factordiff
        sample`` draws it: ``labels`` (M, 2) ``(mu_x, mu_y)`` in px inside the run's label
        range; ``sampler`` and ``num_steps`` default to the run's ``eval`` settings; label
        k's noise comes from seed ``seed + k``, whatever the batch."""
        cfg = self.config
        check_int("seed", seed, 0)
        labels = check_labels(labels)
        sampler, num_steps = sampler_settings(cfg, sampler, num_steps)
        check_label_range(labels, cfg.data)
        return sample_images(
            self.model,
            cfg,
            labels,
            sampler=sampler,
            num_steps=num_steps,
            seed=seed,
            device=self.device,
            diffusion=self.diffusion,
        )

    def score(self, images: torch.Tensor, labels):
        """:class:`factordiff.evaluation.Scores` of ``images`` (M, 1, N, N) against their
        ``labels`` (M, 2) on the run's data, at its tolerance (``eval.tolerance_px``)."""
        return score_images(images, labels, self.config.data, self.config)


def _checkpoint_path(run_dir: Path, checkpoint: str | Path | int | None) -> Path:
    """The checkpoint file ``checkpoint`` names: None the newest kept one, an int its epoch,
    a path as it is or, when only a file name, inside ``run_dir/checkpoints``."""
    if checkpoint is None:
        return final_checkpoint(run_dir)
    if isinstance(checkpoint, int) and not isinstance(checkpoint, bool):
        kept = {int(p.stem.split("-")[1]): p for p in list_checkpoints(run_dir)}
        if checkpoint not in kept:
            raise ValueError(
                f"checkpoint = {checkpoint} is invalid; allowed: an epoch {run_dir} kept: "
                f"{sorted(kept)}"
            )
        return kept[checkpoint]
    path = Path(checkpoint)
    inside = run_dir / "checkpoints" / path
    return inside if not path.exists() and inside.is_file() else path


def load_run(
    run_dir: str | os.PathLike,
    checkpoint: str | Path | int | None = None,
    ema: bool = True,
    device: str = "auto",
) -> LoadedRun:
    """A run folder's checkpoint, ready to sample (:class:`LoadedRun`).

    ``checkpoint``: None for the newest kept one, an epoch (``25``), a file name inside
    ``RUN/checkpoints`` (``"epoch-00025.pt"``) or a path; ``ema=False`` loads the raw
    weights instead of their moving average; ``device``: auto | cpu | cuda | cuda:N | mps.
    ``run_dir`` may be a run of :func:`open_experiment` (``exp.runs[0]``). A missing folder
    is a ``FileNotFoundError`` naming it."""
    run_dir = Path(os.fspath(run_dir))
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist; allowed: {RUN_ALLOWED}")
    path = _checkpoint_path(run_dir, checkpoint)
    model, cfg, meta, dev = load_checkpoint(path, device, ema=ema)
    return LoadedRun(
        model=model,
        config=cfg,
        diffusion=GaussianDiffusion(cfg.diffusion),
        run_dir=run_dir,
        checkpoint=path,
        epoch=meta["epoch"],
        step=meta["step"],
        accuracy=meta["accuracy"],
        device=dev,
        ema=ema,
    )


# ----------------------------------------------------------------------------- one experiment
@dataclass(frozen=True)
class ExperimentRun:
    """One run of an experiment's sweep: its ``key`` (the folder name), the ``params`` that
    set it apart (e.g. ``{"seed": 1}``) and its folder ``dir`` (may be absent: a committed
    copy of an experiment keeps no runs). ``os.fspath(run)`` is the folder."""

    key: str
    params: dict[str, Any]
    dir: Path
    experiment_dir: Path = field(repr=False)

    @property
    def exists(self) -> bool:
        """Whether the run folder is on disk."""
        return self.dir.is_dir()

    def __fspath__(self) -> str:
        return str(self.dir)

    def load(
        self, checkpoint: str | Path | int | None = None, ema: bool = True, device: str = "auto"
    ) -> LoadedRun:
        """:func:`load_run` of this run; a ``FileNotFoundError`` naming the missing folder
        when the experiment folder keeps no run folders."""
        if not self.exists:
            raise FileNotFoundError(
                f"run folder {self.dir} does not exist: {self.experiment_dir} keeps the "
                "summary, tables and figures of its runs but not the runs (a committed copy, or "
                "one whose runs/ was removed); rerun the command in its summary.json to train them"
            )
        return load_run(self.dir, checkpoint=checkpoint, ema=ema, device=device)


@dataclass(frozen=True, eq=False, repr=False)
class ExperimentFolder:
    """A finished experiment folder as data: its ``name`` (the preset), ``config`` (the
    experiment.json as loaded; None where the folder has none), ``summary`` (summary.json),
    ``verdicts`` (one row per claim: :data:`VERDICT_COLUMNS`), ``results`` (results.csv),
    ``tables`` (every other CSV of the folder by name, e.g. ``"map"``, Experiment 1's map
    read from the mapped run's ``analysis/map/map.csv`` when the folder has none), ``runs``, ``figures``
    (by name, e.g. ``"pca_3d"``) and ``report`` (report.md)."""

    dir: Path
    name: str
    config: dict | None
    summary: dict
    verdicts: pd.DataFrame
    results: pd.DataFrame | None
    tables: dict[str, pd.DataFrame]
    runs: list[ExperimentRun]
    figures: dict[str, Path]
    report: Path | None

    def __repr__(self) -> str:
        counts = self.verdicts["verdict"].value_counts().to_dict() if len(self.verdicts) else {}
        verdicts = ", ".join(f"{n} {v}" for v, n in counts.items()) or "none"
        on_disk = sum(r.exists for r in self.runs)
        return (
            f"<experiment {self.name} at {self.dir}: verdicts {verdicts}; {len(self.runs)} "
            f"run(s), {on_disk} on disk; tables {sorted(self.tables)}; "
            f"{len(self.figures)} figure(s)>"
        )


def verdict_table(verdicts: list[dict]) -> pd.DataFrame:
    """summary.json's ``verdicts`` as a DataFrame, one row per claim: the claim, its
    verdict, the measured value (per seed), the rule, the paper's statement, the seeds, the
    90% interval of each judged statistic (None before judgements over seeds were written)
    and whether the control passed too (per seed)."""
    rows = []
    for v in verdicts:
        intervals = [j.get("interval") for j in v.get("judgements") or []]
        rows.append(
            {
                **{k: v.get(k) for k in ("claim", "verdict", "value", "rule", "paper")},
                "reproduced": v.get("reproduced"),
                "seeds": (v.get("spread") or {}).get("seeds"),
                "intervals": intervals or None,
                "control_passes": v.get("control_passes"),
            }
        )
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)


def _experiment_runs(folder: Path, summary: dict) -> list[ExperimentRun]:
    """The sweep's runs as summary.json lists them, each in ``folder/runs/KEY`` or, where
    that is absent and the recorded folder (an absolute path) exists, there."""
    runs = []
    for r in summary.get("runs") or []:
        where = folder / "runs" / r["key"]
        recorded = Path(r.get("run_dir") or "")
        if not where.is_dir() and recorded.is_absolute() and recorded.is_dir():
            where = recorded
        runs.append(ExperimentRun(r["key"], dict(r.get("params") or {}), where, folder))
    return runs


def open_experiment(folder: str | os.PathLike) -> ExperimentFolder:
    """An experiment folder as data (:class:`ExperimentFolder`): what ``factordiff
    experiment`` wrote, read, nothing computed. The folder needs its summary.json; a
    missing folder or file is a ``FileNotFoundError`` naming it."""
    folder = Path(os.fspath(folder))
    if not folder.is_dir():
        raise FileNotFoundError(
            f"experiment folder {folder} does not exist; allowed: {EXPERIMENT_ALLOWED}"
        )
    if not (folder / "summary.json").is_file():
        raise FileNotFoundError(
            f"{folder} holds no summary.json (an experiment writes it when it finishes; "
            f"`factordiff sweep status {folder}` shows a running one); allowed: "
            f"{EXPERIMENT_ALLOWED}"
        )
    summary = read_json(folder / "summary.json", EXPERIMENT_ALLOWED)
    if not isinstance(summary, dict) or not isinstance(summary.get("verdicts"), list):
        raise ValueError(
            f"{folder / 'summary.json'} holds no list of verdicts; allowed: {EXPERIMENT_ALLOWED}"
        )
    config_path = folder / "experiment.json"
    csvs = {p.stem: p for p in sorted(folder.glob("*.csv"))}
    results = csvs.pop("results", None)
    runs = _experiment_runs(folder, summary)
    if "map" not in csvs:  # Experiment 1 keeps its sensitivity map in the mapped run's folder
        mapped = [r.dir / "analysis" / "map" / "map.csv" for r in runs]
        mapped = [path for path in mapped if path.is_file()]
        if mapped:
            csvs["map"] = mapped[0]
    figures = folder / "figures"
    return ExperimentFolder(
        dir=folder,
        name=str(summary.get("experiment") or folder.name),
        config=read_json(config_path, EXPERIMENT_ALLOWED) if config_path.is_file() else None,
        summary=summary,
        verdicts=verdict_table(summary["verdicts"]),
        results=None if results is None else pd.read_csv(results),
        tables={name: pd.read_csv(path) for name, path in csvs.items()},
        runs=runs,
        figures={p.stem: p for p in sorted(figures.iterdir()) if p.is_file()}
        if figures.is_dir()
        else {},
        report=folder / "report.md" if (folder / "report.md").is_file() else None,
    )
