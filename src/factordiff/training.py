"""The training loop, :class:`Trainer`: optimizer, EMA, checkpoints, evaluation during
training, resume.

A run lives in one folder (its files: :mod:`factordiff.run_folder`; its checkpoints:
:mod:`factordiff.checkpoints`). Each step's randomness depends only on ``(seed, step)``
(:mod:`factordiff.training_schedule`), so a resumed run replays exactly the steps an
uninterrupted one would have taken.

The usual call is :func:`train` (:mod:`factordiff.train_entry`), which checks the run folder
first (:mod:`factordiff.training_resume`). This module re-exports the names callers import
from ``factordiff.training``: ``train``, ``RunExistsError``, the checkpoint and run-folder
readers, ``training_budget``, ``lr_at`` and ``atomic_write_text``.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from diffusers.training_utils import EMAModel

from factordiff.checkpoints import (
    CHECKPOINT_FORMAT,
    atomic_save,
    checkpoint_dir,
    list_checkpoints,
    load_checkpoint,
    load_model,
    newest_readable_checkpoint,
)
from factordiff.config import RunConfig, json_ready, to_dict
from factordiff.diffusion import GaussianDiffusion
from factordiff.hardware import ThreadGovernor, autocast, default_num_threads, resolve_precision
from factordiff.loss_watch import LossSpikeWatch
from factordiff.loss_watch import describe as describe_spike
from factordiff.migrate import stamp
from factordiff.model.base import Denoiser
from factordiff.model.registry import build_model
from factordiff.progress import progress_bar
from factordiff.run_folder import (
    atomic_write_text,
    read_json,
    read_metrics,
    read_run_config,
    repair_metrics,
    run_state,
)
from factordiff.train_entry import train
from factordiff.training_resume import (
    EXTENDABLE_KEYS,
    PLACEMENT_KEYS,
    RunExistsError,
    extension_problem,
)
from factordiff.training_schedule import lr_at, seed_for, training_budget

log = logging.getLogger("factordiff.train")

_seed_for = seed_for  # the name benchmarks/batched_models.py and its test import

__all__ = [
    "CHECKPOINT_FORMAT",
    "EXTENDABLE_KEYS",
    "PLACEMENT_KEYS",
    "RunExistsError",
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "atomic_save",
    "atomic_write_text",
    "checkpoint_dir",
    "extension_problem",
    "list_checkpoints",
    "load_checkpoint",
    "load_model",
    "lr_at",
    "read_json",
    "read_metrics",
    "read_run_config",
    "resolve_device",
    "run_state",
    "seed_for",
    "train",
    "training_budget",
]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda if available, else mps, else cpu; anything else is checked."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise ValueError(
            f"device = {name!r} is invalid; allowed: auto, cpu, cuda, cuda:N, mps"
        ) from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device = {name!r} requested but CUDA is not available; use cpu or auto")
    return dev


@dataclass
class TrainResult:
    """What :meth:`Trainer.train` (and :func:`train`) return: where the run stopped."""

    run_dir: Path
    epoch: int
    step: int
    final_accuracy: float | None
    train_seconds: float
    loss_spikes: tuple[dict, ...] = ()  # factordiff.loss_watch records of this session


@dataclass
class _Tick:
    """What the next loss record averages: the steps since the last one (across epochs)."""

    start: float  # time.perf_counter() at the last record
    images: int = 0
    losses: list[float] = field(default_factory=list)


class Trainer:
    """Owns one run: dataset, model, EMA, optimizer, checkpoints and logs.

    ``Trainer(cfg, run_dir).train()`` starts or resumes. Use :func:`train` for the usual
    call with the finished / config-mismatch checks."""

    def __init__(
        self,
        cfg: RunConfig,
        run_dir: str | Path,
        *,
        progress: bool = True,
        tensorboard: bool = False,
    ) -> None:
        from factordiff.data import build_dataset, eval_conditions

        cfg.validate()
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        # An optional view of metrics.jsonl (factordiff.sinks), not part of the config: a
        # missing tensorboard package fails here, before anything trains.
        self.sink = None
        if tensorboard:
            from factordiff.sinks import TENSORBOARD_DIR, TensorBoardSink

            self.sink = TensorBoardSink(self.run_dir / TENSORBOARD_DIR)
        self.last_eval_images: torch.Tensor | None = None  # (M, 1, N, N) of the last evaluation
        self.progress = progress
        self.device = resolve_device(cfg.device)
        # 0 = our default: all usable cores, or one fewer while that is faster (another
        # process holds a core; factordiff.hardware.ThreadGovernor); explicit counts as asked
        torch.set_num_threads(cfg.train.num_threads or default_num_threads())
        self.governor = (
            ThreadGovernor(default_num_threads())
            if cfg.train.num_threads == 0 and self.device.type == "cpu"
            else None
        )
        self.precision = resolve_precision(cfg.train.precision, self.device)
        torch.manual_seed(cfg.seed)
        self.dataset = build_dataset(cfg.data, seed=cfg.seed)
        self.images = self.dataset.images.to(self.device)  # (M, 1, N, N)
        self.labels = self.dataset.labels.to(self.device)  # (M, 2)
        self.eval_labels = eval_conditions(cfg.data, cfg.train.eval_num_conditions, seed=cfg.seed)
        self.model = build_model(cfg.model, cfg.data).to(self.device)
        self.diffusion = GaussianDiffusion(cfg.diffusion)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
        )
        self.ema = (
            EMAModel(self.model.parameters(), decay=cfg.train.ema_decay, use_ema_warmup=False)
            if cfg.train.ema_decay > 0
            else None
        )
        self.steps_per_epoch, self.num_epochs, self.total_steps = training_budget(
            cfg.train, len(self.images)
        )
        late = [e for e in cfg.train.checkpoint_epochs if e > self.num_epochs]
        if late:
            raise ValueError(
                f"train.checkpoint_epochs = {list(cfg.train.checkpoint_epochs)} is invalid for "
                f"train.max_steps = {cfg.train.max_steps} on {len(self.images)} images; allowed: "
                f"epochs in [0, {self.num_epochs}] (the derived epoch count)"
            )
        self.epoch = 0
        self.step = 0
        self.train_seconds = 0.0  # wall time spent in training steps and evals (not I/O)
        self.last_accuracy: dict | None = None
        self.loss_watch = LossSpikeWatch()
        self.loss_spikes: list[dict] = []

    # -------------------------------------------------------------- state
    def ema_model(self) -> Denoiser:
        """A copy of the model carrying the EMA weights (or the raw ones without EMA)."""
        model = copy.deepcopy(self.model)
        if self.ema is not None:
            self.ema.copy_to(model.parameters())
        return model.eval()

    def state_dict(self) -> dict:
        ema_model = self.ema_model().state_dict() if self.ema is not None else None
        return {
            "format": CHECKPOINT_FORMAT,
            "config": stamp(to_dict(self.cfg)),  # with its schema_version (factordiff.migrate)
            "epoch": self.epoch,
            "step": self.step,
            "train_seconds": self.train_seconds,
            "accuracy": None if self.last_accuracy is None else self.last_accuracy.get("accuracy"),
            "metrics": self.last_accuracy,
            "model": self.model.state_dict(),
            "ema_model": ema_model,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "torch_version": str(torch.__version__),
            "precision": self.precision.to_dict(),
        }

    def load_state_dict(self, ckpt: dict) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.ema is not None and ckpt.get("ema") is not None:
            self.ema.load_state_dict(ckpt["ema"])
        self.epoch = int(ckpt["epoch"])
        self.step = int(ckpt["step"])
        self.train_seconds = float(ckpt.get("train_seconds", 0.0))
        self.last_accuracy = ckpt.get("metrics")

    def save_checkpoint(self, keep: bool) -> None:
        d = checkpoint_dir(self.run_dir)
        d.mkdir(parents=True, exist_ok=True)
        state = self.state_dict()
        # The kept checkpoint first: a crash between the two files then leaves latest.pt one
        # save behind, and resuming replays (and rewrites) that epoch, so no kept epoch is lost.
        if keep:
            atomic_save(state, d / f"epoch-{self.epoch:05d}.pt")
        atomic_save(state, d / "latest.pt")
        self._write_state(finished=False)

    def _is_kept_epoch(self, epoch: int) -> bool:
        tc = self.cfg.train
        return epoch in tc.checkpoint_epochs or epoch == self.num_epochs

    def _write_state(self, finished: bool) -> None:
        atomic_write_text(
            self.run_dir / "state.json",
            json.dumps({"finished": finished, "epoch": self.epoch, "step": self.step}),
        )

    def _log_metrics(self, record: dict) -> None:
        path = self.run_dir / "metrics.jsonl"
        if self.sink is not None:  # opened before this session's first line (hides replays)
            self.sink.start_after(path)
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.sink is not None:  # metrics.jsonl first: it is the source of truth
            self.sink.write_record(record)

    # -------------------------------------------------------------- evaluation
    def evaluate(self) -> dict:
        """Sample the fixed evaluation conditions with the EMA weights and score them."""
        from factordiff.sampling import sample_images, score_images

        tc = self.cfg.train
        images = sample_images(
            self.ema_model(),
            self.cfg,
            self.eval_labels,
            sampler=tc.eval_sampler,
            num_steps=tc.eval_steps,
            seed=seed_for(self.cfg.seed, 7919) % (2**31),
            device=self.device,
            precision=self.precision,
            diffusion=self.diffusion,
        )
        self.last_eval_images = images  # for the sink's sample grid (factordiff.sinks)
        return score_images(images, self.eval_labels, self.cfg.data, self.cfg).summary()

    def _should_eval(self, epoch: int) -> bool:
        tc = self.cfg.train
        if tc.eval_every_epochs == 0:
            return False
        return (
            epoch % tc.eval_every_epochs == 0
            or epoch in tc.checkpoint_epochs
            or epoch == self.num_epochs
        )

    # -------------------------------------------------------------- loop
    def resume_if_possible(self) -> bool:
        """Load the newest readable state; False when there is none (a fresh run).

        ``latest.pt`` first, else the newest readable kept checkpoint
        (:func:`factordiff.checkpoints.newest_readable_checkpoint`). A kept checkpoint missing
        for the resumed epoch (a run written before kept checkpoints were saved first) is
        recreated from the resumed state. ``metrics.jsonl`` is repaired: a partial last line
        and the records of steps after the resumed one (which will be replayed) are dropped
        (:func:`factordiff.run_folder.repair_metrics`)."""
        found = newest_readable_checkpoint(self.run_dir, self.device)
        if found is None:
            return False
        ckpt, source = found
        self.load_state_dict(ckpt)
        kept_path = checkpoint_dir(self.run_dir) / f"epoch-{self.epoch:05d}.pt"
        if self._is_kept_epoch(self.epoch) and not kept_path.is_file():
            atomic_save(ckpt, kept_path)
            log.warning("recreated the missing %s from %s", kept_path.name, source.name)
        repair_metrics(self.run_dir, self.step)
        log.info("resumed from %s at epoch %d, step %d", source, self.epoch, self.step)
        return True

    def train_step(self, idx: torch.Tensor) -> float:
        tc = self.cfg.train
        lr = lr_at(self.step, self.total_steps, tc)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        gen = torch.Generator().manual_seed(seed_for(self.cfg.seed, 1, self.step))
        torch.manual_seed(seed_for(self.cfg.seed, 2, self.step))  # dropout, if any
        with autocast(self.device, self.precision):
            loss = self.diffusion.training_losses(
                self.model, self.images[idx], self.labels[idx], gen
            ).mean()
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"loss became {loss.item()} at step {self.step} (epoch {self.epoch}); "
                f"the last good checkpoint is kept in {checkpoint_dir(self.run_dir)}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.step(self.model.parameters())
        self.step += 1
        return loss.item()

    def train(self, on_eval: Callable[[dict], None] | None = None) -> TrainResult:
        """Train from where the run folder stands to the end of the budget, evaluating and
        saving checkpoints as the config says; ``on_eval`` gets each evaluation record."""
        tc = self.cfg.train
        self.run_dir.mkdir(parents=True, exist_ok=True)
        resumed = self.resume_if_possible()
        if not resumed:
            # Epoch 0: the untrained model, so analysis over training starts at the start.
            if self._should_eval(0) and 0 in tc.checkpoint_epochs:
                self._run_eval(on_eval)
            self.save_checkpoint(keep=0 in tc.checkpoint_epochs)
        bar = progress_bar(  # a bar on a terminal, plain lines into a log file
            total=self.total_steps,
            initial=self.step,
            disable=not self.progress,
            desc=self.cfg.name,
            unit="steps",
        )
        try:
            tick = _Tick(time.perf_counter())
            while self.epoch < self.num_epochs and self.step < self.total_steps:
                self._train_epoch(bar, tick)
                if self._should_eval(self.epoch):
                    self._run_eval(on_eval)
                keep = self._is_kept_epoch(self.epoch)
                if keep or self.epoch % max(1, tc.save_every_epochs) == 0:
                    self.save_checkpoint(keep=keep)
        finally:
            bar.close()
        self._write_state(finished=True)
        acc = None if self.last_accuracy is None else self.last_accuracy.get("accuracy")
        return TrainResult(
            self.run_dir, self.epoch, self.step, acc, self.train_seconds, tuple(self.loss_spikes)
        )

    def _train_epoch(self, bar, tick: _Tick) -> None:
        """The steps of epoch ``self.epoch`` (fewer when the step budget ends inside it), in
        the order its seeded permutation gives; a loss record every ``log_every_steps``."""
        tc = self.cfg.train
        m = len(self.images)
        t_epoch = time.perf_counter()
        perm_gen = torch.Generator().manual_seed(seed_for(self.cfg.seed, 0, self.epoch))
        perm = torch.randperm(m, generator=perm_gen).to(self.device)
        bs = min(tc.batch_size, m)
        # A step budget may end inside an epoch: take only the steps left.
        steps = min(self.steps_per_epoch, self.total_steps - self.step)
        for i in range(steps):
            idx = perm[i * bs : (i + 1) * bs]
            t_step = time.perf_counter()
            tick.losses.append(self.train_step(idx))
            if self.governor is not None:
                self._govern_threads(time.perf_counter() - t_step)
            tick.images += len(idx)
            bar.update(1)
            if self.step % tc.log_every_steps == 0:
                now = time.perf_counter()
                rec = {
                    "step": self.step,
                    "epoch": self.epoch + (i + 1) / self.steps_per_epoch,
                    "loss": float(np.mean(tick.losses)),
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "images_per_s": tick.images / max(now - tick.start, 1e-9),
                    "train_seconds": self.train_seconds + (now - t_epoch),
                }
                self._log_metrics(rec)
                self._watch_loss(rec)
                bar.set_postfix(loss=f"{rec['loss']:.4f}")
                tick.start, tick.images, tick.losses = now, 0, []
        self.epoch += 1
        self.train_seconds += time.perf_counter() - t_epoch

    def _govern_threads(self, step_seconds: float) -> None:
        """Tell the thread governor how long a step took; log the thread count it picks."""
        chosen = self.governor.step_done(step_seconds)
        if chosen is not None:
            self._log_metrics({"step": self.step, "threads": chosen[0], "why": chosen[1]})
            log.info("step %d: %d threads (%s)", self.step, *chosen)

    def _watch_loss(self, rec: dict) -> None:
        spike = self.loss_watch.observe(rec["step"], rec["loss"])
        if spike is not None:
            self._log_metrics(spike)
            self.loss_spikes.append(spike)
            log.warning(describe_spike(spike))

    def _run_eval(self, on_eval) -> None:
        t0 = time.perf_counter()
        summary = json_ready(self.evaluate())  # plain types: checkpoints load weights_only
        dt = time.perf_counter() - t0
        self.train_seconds += dt
        self.last_accuracy = summary
        rec = {
            "step": self.step,
            "epoch": self.epoch,
            "eval_seconds": dt,
            "train_seconds": self.train_seconds,
        }
        rec.update({f"eval/{k}": v for k, v in summary.items()})
        self._log_metrics(rec)
        if self.sink is not None and self.last_eval_images is not None:
            self.sink.write_samples(
                self.step,
                self.last_eval_images,
                self.eval_labels,
                tolerance_px=self.cfg.eval.tolerance_px,
            )
        log.info(
            "epoch %d step %d: accuracy %.3f (x %.3f, y %.3f)",
            self.epoch,
            self.step,
            summary.get("accuracy", float("nan")),
            summary.get("x_accuracy", float("nan")),
            summary.get("y_accuracy", float("nan")),
        )
        if on_eval is not None:
            on_eval(rec)
