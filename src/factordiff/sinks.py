"""Optional sinks for the records a run writes: TensorBoard event files beside ``metrics.jsonl``.

``metrics.jsonl`` stays the source of truth; a sink is a view of it. With
``factordiff train --tensorboard`` (or ``train(cfg, run_dir, tensorboard=True)``) the trainer
hands every record it appends to ``metrics.jsonl`` to a :class:`TensorBoardSink` writing
``RUN/tensorboard/``, and at each evaluation a grid of the first sampled images with their
targets marked. :func:`export_tensorboard` writes the scalars of an existing run's
``metrics.jsonl`` afterwards, so runs trained without the sink can be viewed too::

    pip install -e ".[tensorboard]"
    factordiff train --preset quick --tensorboard
    python -m factordiff.sinks runs/train/older-run       # export an existing run
    tensorboard --logdir runs/train

Tags: a key that holds a ``/`` keeps it (``eval/accuracy``); any other key is prefixed by the
kind of its record, ``eval/`` in an evaluation record and ``train/`` otherwise
(``train/loss``, ``train/lr``, ``train/images_per_s``, ``train/threads``, ``eval/epoch``).
The global step is the record's ``step``. Non-numeric values (the thread governor's ``why``)
are not scalars and are left out.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: How to install the optional dependency, named in every message about it.
INSTALL_HINT = 'pip install -e ".[tensorboard]"'

#: Tag of the sample grids logged at each evaluation.
SAMPLES_TAG = "eval/samples"

#: Images per sample grid: the first of the evaluation's fixed conditions.
GRID_IMAGES = 16

#: Where a run's event files go (a folder of the run).
TENSORBOARD_DIR = "tensorboard"

_EVENTS_GLOB = "events.out.tfevents.*"


class TensorBoardMissing(ValueError, ImportError):
    """The ``tensorboard`` package is not installed (a ``ValueError``, so the command line
    prints it as one ``error:`` line; an ``ImportError`` for Python callers)."""


def require_tensorboard() -> None:
    """Raise :class:`TensorBoardMissing`, naming the install command, unless the
    ``tensorboard`` package (which ``torch.utils.tensorboard`` writes with) imports."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as e:
        raise TensorBoardMissing(
            f"tensorboard = True is invalid here: the tensorboard package is not installed "
            f"({e}); allowed: install it with {INSTALL_HINT} (or pip install tensorboard), "
            "or train without --tensorboard"
        ) from None


def record_kind(record: Mapping[str, Any]) -> str:
    """``"eval"`` for an evaluation record (a key starting with ``eval/``), else ``"train"``
    (training ticks and thread choices), the prefix of its keys' tags."""
    return "eval" if any(str(k).startswith("eval/") for k in record) else "train"


def record_scalars(record: Mapping[str, Any]) -> dict[str, float]:
    """``{tag: value}`` of a ``metrics.jsonl`` record: every number but ``step`` (the global
    step), nested dicts flattened with ``/``; strings, lists and ``None`` left out."""
    prefix = record_kind(record)
    out: dict[str, float] = {}

    def add(key: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                add(f"{key}/{k}", v)
        elif isinstance(value, bool | int | float):
            out[key if "/" in key else f"{prefix}/{key}"] = float(value)

    for key, value in record.items():
        if key != "step":
            add(str(key), value)
    return out


def _record_step(record: Mapping[str, Any]) -> int:
    step = record.get("step")
    if isinstance(step, bool) or not isinstance(step, int | float) or not math.isfinite(step):
        raise ValueError(
            f"metrics record {dict(record)!r} has step = {step!r}; allowed: an integer step >= 0"
        )
    return int(step)


def samples_grid(
    images, labels, *, tolerance_px: float | None = None, max_images: int = GRID_IMAGES
):
    """An RGB image ``(H, W, 3)`` uint8 of the first ``max_images`` of ``images`` (M, 1, N, N)
    or (M, N, N) in [-1, 1], each with its target ``labels`` (M, 2) ``(mu_x, mu_y)`` marked
    (:func:`factordiff.plotting.sample_grid_figure`, the grid ``factordiff evaluate`` saves)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from factordiff.plotting import sample_grid_figure

    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 4:
        images = images[:, 0]  # (M, N, N): the one channel
    fig = sample_grid_figure(
        images[:max_images],
        np.asarray(labels, dtype=np.float32)[:max_images],
        max_images=max_images,
        tolerance_px=tolerance_px,
    )
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(80)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()  # (H, W, 3)


class TensorBoardSink:
    """Writes ``metrics.jsonl`` records and sample grids as TensorBoard events in ``log_dir``.

    Parameters
    ----------
    log_dir : the event folder (``RUN/tensorboard`` for a run).

    The writer opens on :meth:`start` (or the first write). ``start(purge_step)`` hides, in
    TensorBoard, events of earlier sessions at steps ``>= purge_step``: a resumed run logs
    the steps after its checkpoint again, as ``metrics.jsonl`` does after dropping them.
    Every write is flushed, so the files are complete whenever training stops.
    """

    def __init__(self, log_dir: str | Path) -> None:
        require_tensorboard()  # before anything trains
        self.log_dir = Path(log_dir)
        self.writer_ = None

    @property
    def is_open(self) -> bool:
        return self.writer_ is not None

    def start(self, purge_step: int | None = None) -> None:
        """Open the writer once (later calls do nothing)."""
        if self.writer_ is not None:
            return
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.writer_ = SummaryWriter(str(self.log_dir), purge_step=purge_step)

    def start_after(self, metrics_path: str | Path) -> None:
        """:meth:`start` with ``purge_step`` one past the last step ``metrics_path`` holds
        (``0`` when it holds none): call it before this session's first record is appended.
        A resumed run's ``metrics.jsonl`` has dropped the steps it will replay, so their
        events from the interrupted session are hidden, and a run restarted with ``--force``
        (no ``metrics.jsonl``) hides every earlier event."""
        if self.writer_ is not None:
            return
        from factordiff.training import read_metrics

        steps = [r["step"] for r in read_metrics(metrics_path) if isinstance(r.get("step"), int)]
        self.start(purge_step=max(steps) + 1 if steps else 0)

    def write_record(self, record: Mapping[str, Any]) -> None:
        """Each number of one ``metrics.jsonl`` record as a scalar at its ``step``
        (:func:`record_scalars` gives the tags)."""
        self.start()
        step = _record_step(record)
        for tag, value in record_scalars(record).items():
            self.writer_.add_scalar(tag, value, global_step=step)
        self.writer_.flush()

    def write_samples(
        self, step: int, images, labels, *, tolerance_px: float | None = None
    ) -> None:
        """A grid of the first :data:`GRID_IMAGES` ``images`` (M, 1, N, N) in [-1, 1] with
        their targets ``labels`` (M, 2) marked, as the image :data:`SAMPLES_TAG` at ``step``."""
        self.start()
        grid = samples_grid(images, labels, tolerance_px=tolerance_px)  # (H, W, 3) uint8
        self.writer_.add_image(SAMPLES_TAG, grid, global_step=int(step), dataformats="HWC")
        self.writer_.flush()

    def close(self) -> None:
        if self.writer_ is not None:
            self.writer_.close()
            self.writer_ = None


def export_tensorboard(
    run_dir: str | Path, out: str | Path | None = None, *, force: bool = False
) -> Path:
    """Write the scalars of a run's ``metrics.jsonl`` as TensorBoard events; returns the folder.

    ``out`` defaults to ``RUN/tensorboard``. Records are read with
    :func:`factordiff.training.read_metrics` (a resumed run's replays merged), tagged as the
    live sink tags them. Sample grids are not exported: a run keeps no samples of its
    evaluations. A folder that already holds event files (the live sink's, or an earlier
    export) is refused unless ``force``, which deletes those event files first."""
    from factordiff.training import read_metrics

    require_tensorboard()
    run_dir = Path(run_dir)
    metrics = run_dir / "metrics.jsonl"
    if not metrics.is_file():
        raise FileNotFoundError(
            f"{run_dir} has no metrics.jsonl; allowed: a run folder as factordiff train writes it"
        )
    records = read_metrics(metrics)
    if not records:
        raise ValueError(f"{metrics} holds no records; allowed: the metrics of a run that trained")
    out = Path(out) if out is not None else run_dir / TENSORBOARD_DIR
    if out.exists() and not out.is_dir():
        raise ValueError(f"out = {str(out)!r} is a file; allowed: a folder path")
    existing = sorted(out.glob(_EVENTS_GLOB)) if out.is_dir() else []
    if existing and not force:
        raise ValueError(
            f"{out} already holds {len(existing)} TensorBoard event file(s); allowed: another "
            "folder (out=..., --out) or force=True (--force) to replace them"
        )
    for path in existing:
        path.unlink()
    sink = TensorBoardSink(out)
    try:
        sink.start()
        for record in records:
            sink.write_record(record)
    finally:
        sink.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m factordiff.sinks RUN [--out DIR] [--force]``: export a run's metrics."""
    parser = argparse.ArgumentParser(
        prog="python -m factordiff.sinks",
        description="write the scalars of a run's metrics.jsonl as TensorBoard event files",
    )
    parser.add_argument("run", help="run folder (holds metrics.jsonl)")
    parser.add_argument("--out", help="event folder (default RUN/tensorboard)")
    parser.add_argument("--force", action="store_true", help="replace event files in the folder")
    args = parser.parse_args(argv)
    try:
        out = export_tensorboard(args.run, args.out, force=args.force)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote TensorBoard events to {out.resolve()}; view with: tensorboard --logdir {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
