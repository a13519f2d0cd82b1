"""What :func:`~factordiff.analysis.run.analyze_run` and
:func:`~factordiff.analysis.map_run.analyze_map` share: parsing the checkpoint selection and
the grid, loading and checking the selected checkpoints, and the staged output folder
(written to a temporary sibling and renamed into place at the end, so a failure leaves
nothing half written)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from factordiff.analysis.grid import check_grid_shape, check_grid_side

#: Which checkpoints of a run's analysis get figures, by name (the command line's
#: ``--figures`` and Experiment 1's ``run_figures``) -> ``analyze_run(figures=...)``.
FIGURES = {"every": True, "last": "last", "none": False}


def _parse_checkpoints(checkpoints: str | Sequence[int]) -> str | list[int]:
    """``"last"``, ``"all"``, ``"0,150,300"`` or a sequence of epochs -> "last"/"all"/list."""
    if isinstance(checkpoints, str):
        text = checkpoints.strip().lower()
        if text in ("last", "all"):
            return text
        try:
            return [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            pass
        raise ValueError(
            f"checkpoints = {checkpoints!r} is invalid; allowed: 'last', 'all' or epochs "
            "such as '0,150,300'"
        )
    epochs = list(checkpoints)
    if not epochs or not all(isinstance(e, int | np.integer) for e in epochs):
        raise ValueError(
            f"checkpoints = {checkpoints!r} is invalid; allowed: 'last', 'all' or a non-empty "
            "list of integer epochs"
        )
    return [int(e) for e in epochs]


#: Default analysis grid: the paper's 32 x 32 conditions (its training lattice for N = 32),
#: dense enough for persistent homology to resolve both tori (a 16 x 16 ring torus is not).
DEFAULT_GRID = (32, 32)


def _parse_grid(grid: int | Sequence[int] | None, min_side: int) -> tuple:
    if grid is None:
        shape = DEFAULT_GRID
    elif isinstance(grid, int | np.integer):
        shape = (int(grid), int(grid))
    else:
        shape = tuple(int(v) for v in grid)
        if len(shape) != 2:
            raise ValueError(f"grid = {grid!r} is invalid; allowed: n or (n_x, n_y)")
    check_grid_shape(shape, min_side=min_side)
    for n in shape:  # bounded before any allocation (grid = 100000: 75 GiB of labels)
        check_grid_side(n, "grid" if isinstance(grid, int | np.integer) else "grid side", min_side)
    return shape


def _checked_epoch(path: Path, load_model) -> int:
    """Load the checkpoint at ``path`` (model, config, weights) and return its epoch;
    ``ValueError`` naming the file when it is unreadable or does not say its epoch."""
    _, _, meta = load_model(path, ema=True, map_location="cpu")
    epoch = meta.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(
            f"{path} is not a usable factordiff checkpoint: its epoch is {epoch!r}; allowed: "
            "a checkpoint written by factordiff train (an integer epoch >= 0)"
        )
    return epoch


def _select(paths: list[Path], selection: str | list[int], load_model) -> list[Path]:
    """The checkpoints to analyse, every one of them loaded and checked first, so a bad
    one (truncated, garbled) fails before any analysis is computed or written."""
    if selection in ("last", "all"):
        chosen = paths[-1:] if selection == "last" else paths
        for p in chosen:
            _checked_epoch(p, load_model)
        return chosen
    # Epochs live in the checkpoints: read them before any analysis, so a missing epoch
    # fails before anything is computed or written.
    by_epoch = {}
    for p in paths:
        by_epoch[_checked_epoch(p, load_model)] = p
    missing = [e for e in selection if e not in by_epoch]
    if missing:
        raise ValueError(
            f"no checkpoint for epoch(s) {missing}; available epochs: {sorted(by_epoch)}"
        )
    return [by_epoch[e] for e in sorted(set(selection))]


def _run_checkpoints(run_dir: Path, selection: str | list[int], training) -> tuple[list, list]:
    """``(paths, chosen)``: every checkpoint of the run and the selected ones, checked;
    ``FileNotFoundError`` when the run has none."""
    paths = training.list_checkpoints(run_dir)
    if not paths:
        raise FileNotFoundError(f"{run_dir} has no checkpoints to analyse")
    return paths, _select(paths, selection, training.load_model)


def _swap_in(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` to ``out``; an older result at ``out`` is replaced."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def _staged_folder(out: Path) -> Iterator[Path]:
    """A fresh temporary sibling of ``out`` to write into, renamed to ``out`` when the block
    ends; on any failure it is removed (and ``out.parent`` too, if this call created it and
    it is empty), so nothing half written is left."""
    # The first thing written; from here on any failure removes what this call made.
    made_parent = not out.parent.exists()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        yield tmp
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if made_parent and not any(out.parent.iterdir()):
            out.parent.rmdir()  # the analysis/ folder this call created, now empty
        raise
