"""A watch on the training loss for a run that diverges without a NaN.

A run can blow up and stay finite: `rung2` (epsilon-prediction, min-SNR weighting, learning
rate 2e-3 constant, bf16) reached 0.99 joint accuracy at step 5,600, then its logged loss went
from about 0.0005 to 0.43 and 0.92 within 40 steps and accuracy fell to 0 (docs/fidelity.md).
The NaN check (:class:`factordiff.training.TrainingDiverged`) cannot see that, so every logged
mean loss is compared with the median of the ones before it: a mean :data:`SPIKE_FACTOR` times
that median or more is a *loss spike*. The run goes on (stopping would change what a config
computes); the spike is recorded in ``metrics.jsonl`` as ``{"step", "warning": "loss spike",
"spike_loss", "median_before"}``, logged, and returned by :func:`loss_spikes` and by
``train()`` in ``TrainResult.loss_spikes``.
"""

from __future__ import annotations

import statistics
from collections import deque
from pathlib import Path

#: A logged mean loss at least this many times the median of the previous ones is a spike.
SPIKE_FACTOR = 50.0
#: How many previous logged means the median is taken over, and how many it needs first.
SPIKE_WINDOW = 25
SPIKE_MIN_HISTORY = 5
WARNING = "loss spike"


class LossSpikeWatch:
    """Feed it each logged mean loss; it returns a warning record for a spike, else None.

    A spike is reported once: the losses after it count as the new normal only when they fall
    back below the threshold, so a run that stays blown up gives one record, not hundreds."""

    def __init__(self, factor: float = SPIKE_FACTOR, window: int = SPIKE_WINDOW) -> None:
        if not factor > 1:
            raise ValueError(f"factor = {factor!r} is invalid; allowed: a number > 1")
        self.factor = factor
        self.history: deque[float] = deque(maxlen=window)
        self.in_spike = False

    def observe(self, step: int, loss: float) -> dict | None:
        if len(self.history) >= SPIKE_MIN_HISTORY:
            median = statistics.median(self.history)
            if loss >= self.factor * median and median > 0:
                if self.in_spike:
                    return None
                self.in_spike = True
                return {
                    "step": step,
                    "warning": WARNING,
                    "spike_loss": loss,
                    "median_before": median,
                }
        self.in_spike = False
        self.history.append(loss)
        return None


def describe(record: dict) -> str:
    """One line for a spike record, for logs and the command line."""
    ratio = record["spike_loss"] / record["median_before"]
    return (
        f"loss spike at step {record['step']}: mean loss {record['spike_loss']:.4g} against a "
        f"median of {record['median_before']:.4g} over the logs before it ({ratio:.0f}x); the "
        "run may have diverged (accuracy after it is suspect)"
    )


def loss_spikes(run_dir: str | Path) -> list[dict]:
    """The loss-spike records of a run's ``metrics.jsonl`` (resumed sessions included)."""
    from factordiff.training import read_metrics

    return [r for r in read_metrics(run_dir) if r.get("warning") == WARNING]
