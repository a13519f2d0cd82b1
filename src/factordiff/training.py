"""The training loop: optimizer, EMA, checkpoints, evaluation during training, resume.

A run lives in one folder::

    RUN/config.json          the resolved RunConfig, with its schema_version (factordiff.migrate)
    RUN/metrics.jsonl        one JSON line per logging tick and per evaluation
    RUN/train.log            the log
    RUN/checkpoints/epoch-00010.pt   kept checkpoints (config.train.checkpoint_epochs + last)
    RUN/checkpoints/latest.pt        the newest state, for resuming
    RUN/state.json           {"finished": bool, "epoch": int, "step": int}

Determinism: the data order of epoch ``e`` is a permutation drawn from a generator seeded
with ``(seed, e)``, and the timesteps and noise of step ``s`` from one seeded with
``(seed, s)``. Nothing depends on RNG state carried across steps, so a resumed run replays
exactly the steps an uninterrupted one would have taken.

Checkpoints are dicts of tensors and plain values written with ``torch.save`` to a temporary
file and renamed into place (atomic on POSIX), and read with ``torch.load(weights_only=True)``
so loading a checkpoint never runs code.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers.training_utils import EMAModel

from factordiff.config import RunConfig, from_dict, json_ready, saved_as_current, to_dict
from factordiff.diffusion import GaussianDiffusion
from factordiff.hardware import (
    ThreadGovernor,
    autocast,
    default_num_threads,
    environment_record,
    resolve_precision,
)
from factordiff.loss_watch import LossSpikeWatch
from factordiff.loss_watch import describe as describe_spike
from factordiff.migrate import FutureSchemaError, stamp
from factordiff.model.base import Denoiser
from factordiff.model.registry import build_model
from factordiff.paths import check_writable_folder
from factordiff.progress import progress_bar

log = logging.getLogger("factordiff.train")

CHECKPOINT_FORMAT = "factordiff-checkpoint-v1"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class RunExistsError(RuntimeError):
    """A finished run (or one with another config) is in the way."""


# ----------------------------------------------------------------------------- utilities
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


def _seed_for(*parts: int) -> int:
    """A 63-bit seed from integers (SplitMix64 mixing), for per-epoch / per-step generators."""
    z = 0x9E3779B97F4A7C15
    for p in parts:
        z = (z ^ (int(p) + 0x9E3779B97F4A7C15 + (z << 6) + (z >> 2))) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        z ^= z >> 31
    return z & 0x7FFFFFFFFFFFFFFF


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to ``path.tmp`` then rename, so ``path`` is never a truncated file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def lr_at(step: int, total_steps: int, cfg) -> float:
    """Linear warm-up to ``cfg.lr`` over ``warmup_steps``, then constant or cosine to 0."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "cosine":
        span = max(1, total_steps - cfg.warmup_steps)
        frac = min(1.0, (step - cfg.warmup_steps) / span)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * frac))
    return cfg.lr


def training_budget(train_cfg, num_images: int) -> tuple[int, int, int]:
    """``(steps_per_epoch, num_epochs, total_steps)`` of a run on ``num_images`` images.

    An epoch is ``num_images // batch_size`` steps (the last partial batch is dropped, at
    least one step). With ``train_cfg.max_steps > 0`` the run takes exactly that many steps
    and ``num_epochs = ceil(max_steps / steps_per_epoch)`` (the last epoch may be partial);
    otherwise it takes ``train_cfg.epochs`` full epochs."""
    steps_per_epoch = max(1, num_images // train_cfg.batch_size)
    if train_cfg.max_steps > 0:
        total = train_cfg.max_steps
        return steps_per_epoch, math.ceil(total / steps_per_epoch), total
    return steps_per_epoch, train_cfg.epochs, steps_per_epoch * train_cfg.epochs


# ----------------------------------------------------------------------------- checkpoints
def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Kept checkpoints of a run (``epoch-*.pt``), sorted by epoch."""
    d = checkpoint_dir(Path(run_dir))
    if not d.is_dir():
        raise FileNotFoundError(f"{run_dir} has no checkpoints/ folder: is it a factordiff run?")
    return sorted(d.glob("epoch-*.pt"), key=lambda p: int(p.stem.split("-")[1]))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint dict safely (``weights_only=True``) and check its format."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        head = f.read(4)
    # torch.save writes a zip archive; anything else (a text file, an empty file) is not a
    # checkpoint at all, which is a different fault from a checkpoint cut short.
    if head != b"PK\x03\x04":
        what = "an empty file" if not head else f"a file that starts with {head!r}"
        raise ValueError(
            f"{path} is not a factordiff checkpoint: it is {what}, not a PyTorch checkpoint "
            "(a zip archive written by torch.save); allowed: a checkpoint file of a run, "
            "RUN/checkpoints/epoch-NNNNN.pt"
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's own message advises weights_only=False, which would run code from the file
        raise ValueError(
            f"{path} is not a factordiff checkpoint: it holds objects other than tensors and "
            "plain values, and factordiff loads checkpoints without running code"
        ) from e
    except Exception as e:  # noqa: BLE001 - a truncated or corrupt file, reported the same way
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(
            f"{path} is not a readable factordiff checkpoint (truncated or corrupt: {reason})"
        ) from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a factordiff checkpoint (format {CHECKPOINT_FORMAT!r})")
    return ckpt


def load_model(
    path: str | Path, ema: bool = True, map_location: str | torch.device = "cpu"
) -> tuple[Denoiser, RunConfig, dict]:
    """Rebuild the model of a checkpoint. Returns ``(model, config, meta)``.

    ``ema=True`` loads the EMA weights (what sampling and analysis use). ``meta`` holds
    ``epoch``, ``step`` and ``accuracy`` (None if it was not measured at that epoch)."""
    ckpt = load_checkpoint(path, map_location)
    try:
        cfg = from_dict(RunConfig, ckpt["config"])
    except (KeyError, ValueError) as e:
        raise ValueError(f"{path}: the config stored in the checkpoint is invalid: {e}") from e
    model = build_model(cfg.model, cfg.data)
    state = ckpt["ema_model"] if ema and ckpt.get("ema_model") is not None else ckpt["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not fit the architecture in its config: {e}") from e
    model.to(map_location).eval()
    # T of the schedule travels with the model, so analyses default to t = T - 1 and reject
    # t >= T (factordiff.analysis.ActivationExtractor).
    model.num_train_timesteps = cfg.diffusion.num_train_timesteps
    meta = {k: ckpt.get(k) for k in ("epoch", "step", "accuracy", "metrics")}
    return model, cfg, meta


# ----------------------------------------------------------------------------- trainer
@dataclass
class TrainResult:
    run_dir: Path
    epoch: int
    step: int
    final_accuracy: float | None
    train_seconds: float
    loss_spikes: tuple[dict, ...] = ()  # factordiff.loss_watch records of this session


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
            seed=_seed_for(self.cfg.seed, 7919) % (2**31),
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

        ``latest.pt`` first; if it is unreadable (e.g. truncated by a full disk), the newest
        readable kept checkpoint, saying so. A kept checkpoint missing for the resumed epoch
        (a run written before kept checkpoints were saved first) is recreated from the
        resumed state. ``metrics.jsonl`` is repaired: a partial last line and the records of
        steps after the resumed one (which will be replayed) are dropped."""
        d = checkpoint_dir(self.run_dir)
        latest = d / "latest.pt"
        kept = list_checkpoints(self.run_dir) if d.is_dir() else []
        if not latest.is_file() and not kept:
            return False
        ckpt, source, problems = None, None, []
        for path in [latest, *reversed(kept)]:
            if not path.is_file():
                continue
            try:
                ckpt, source = load_checkpoint(path, self.device), path
                break
            except ValueError as e:
                problems.append(str(e))
        if ckpt is None:
            raise ValueError(
                f"no readable checkpoint to resume from in {d} ({'; '.join(problems)}); "
                "use --force to start the run again"
            )
        if problems:
            msg = (
                f"{problems[0]}; resuming from the newest readable checkpoint, {source.name} "
                f"(epoch {ckpt['epoch']})"
            )
            log.warning(msg)
            print(f"warning: {msg}", file=sys.stderr)
        self.load_state_dict(ckpt)
        kept_path = d / f"epoch-{self.epoch:05d}.pt"
        if self._is_kept_epoch(self.epoch) and not kept_path.is_file():
            atomic_save(ckpt, kept_path)
            log.warning("recreated the missing %s from %s", kept_path.name, source.name)
        self._repair_metrics()
        log.info("resumed from %s at epoch %d, step %d", source, self.epoch, self.step)
        return True

    def _repair_metrics(self) -> None:
        """Drop a partial last line of ``metrics.jsonl`` (a crash mid-write would glue the
        next record onto it) and the records of steps after ``self.step``, which the resumed
        run logs again."""
        path = self.run_dir / "metrics.jsonl"
        if not path.is_file():
            return
        text = path.read_text()
        lines = text.split("\n")
        partial = lines.pop()  # "" when the file ends with a newline
        keep, replayed = [], 0
        for line in lines:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                keep.append(line)  # not ours to judge here; readers name the line
                continue
            if isinstance(rec, dict) and isinstance(rec.get("step"), int | float):
                if rec["step"] > self.step:
                    replayed += 1
                    continue
            keep.append(line)
        if partial or replayed:
            atomic_write_text(path, "".join(line + "\n" for line in keep))
            log.warning(
                "metrics.jsonl: dropped %s and %d record(s) of steps after %d (replayed)",
                "a partial last line" if partial else "no partial line",
                replayed,
                self.step,
            )

    def train_step(self, idx: torch.Tensor) -> float:
        tc = self.cfg.train
        lr = lr_at(self.step, self.total_steps, tc)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        gen = torch.Generator().manual_seed(_seed_for(self.cfg.seed, 1, self.step))
        torch.manual_seed(_seed_for(self.cfg.seed, 2, self.step))  # dropout, if any
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
        tc = self.cfg.train
        self.run_dir.mkdir(parents=True, exist_ok=True)
        resumed = self.resume_if_possible()
        if not resumed:
            # Epoch 0: the untrained model, so analysis over training starts at the start.
            if self._should_eval(0) and 0 in tc.checkpoint_epochs:
                self._run_eval(on_eval)
            self.save_checkpoint(keep=0 in tc.checkpoint_epochs)
        m = len(self.images)
        bar = progress_bar(  # a bar on a terminal, plain lines into a log file
            total=self.total_steps,
            initial=self.step,
            disable=not self.progress,
            desc=self.cfg.name,
            unit="steps",
        )
        try:
            tick_t, tick_images, losses = time.perf_counter(), 0, []
            while self.epoch < self.num_epochs and self.step < self.total_steps:
                t_epoch = time.perf_counter()
                perm_gen = torch.Generator().manual_seed(_seed_for(self.cfg.seed, 0, self.epoch))
                perm = torch.randperm(m, generator=perm_gen).to(self.device)
                bs = min(tc.batch_size, m)
                # A step budget may end inside an epoch: take only the steps left.
                steps = min(self.steps_per_epoch, self.total_steps - self.step)
                for i in range(steps):
                    idx = perm[i * bs : (i + 1) * bs]
                    t_step = time.perf_counter()
                    losses.append(self.train_step(idx))
                    if self.governor is not None:
                        chosen = self.governor.step_done(time.perf_counter() - t_step)
                        if chosen is not None:
                            self._log_metrics(
                                {"step": self.step, "threads": chosen[0], "why": chosen[1]}
                            )
                            log.info("step %d: %d threads (%s)", self.step, *chosen)
                    tick_images += len(idx)
                    bar.update(1)
                    if self.step % tc.log_every_steps == 0:
                        now = time.perf_counter()
                        rec = {
                            "step": self.step,
                            "epoch": self.epoch + (i + 1) / self.steps_per_epoch,
                            "loss": float(np.mean(losses)),
                            "lr": self.optimizer.param_groups[0]["lr"],
                            "images_per_s": tick_images / max(now - tick_t, 1e-9),
                            "train_seconds": self.train_seconds + (now - t_epoch),
                        }
                        self._log_metrics(rec)
                        self._watch_loss(rec)
                        bar.set_postfix(loss=f"{rec['loss']:.4f}")
                        tick_t, tick_images, losses = now, 0, []
                self.epoch += 1
                self.train_seconds += time.perf_counter() - t_epoch
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


# ----------------------------------------------------------------------------- entry point
def read_metrics(path: str | Path) -> list[dict]:
    """The records of a run's ``metrics.jsonl`` (a run folder or the file itself).

    Replayed records (a resumed run logs the steps after its checkpoint again) are merged:
    the last record per ``(step, kind)`` is kept, ``kind`` being ``eval`` for evaluation
    records, ``threads`` for thread choices, ``warning`` for loss spikes
    (:mod:`factordiff.loss_watch`) and ``train`` otherwise, in the order of first
    appearance. An unterminated last
    line (a write cut short) is skipped; any other line that is not a JSON object raises
    ``ValueError`` naming the file and the line."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        return []
    text = path.read_text()
    lines = text.split("\n")
    last = lines.pop()  # "" after a final newline, else a partial record
    records: dict[tuple, dict] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}, line {number}: not a JSON record ({e.msg})") from None
        if not isinstance(rec, dict):
            raise ValueError(f"{path}, line {number}: {rec!r} is not a JSON object")
        kind = (
            "eval"
            if any(k.startswith("eval/") for k in rec)
            else ("threads" if "threads" in rec else ("warning" if "warning" in rec else "train"))
        )
        key = (rec.get("step"), kind)
        records[key] = rec
    if last.strip():
        log.warning("%s: skipped an unterminated last line (a write cut short)", path)
    return list(records.values())


def read_json(path: Path) -> Any:
    """A JSON file of a run folder (:func:`factordiff.jsonfiles.read_json`); a garbled file
    raises ``ValueError`` naming it."""
    from factordiff.jsonfiles import read_json as read

    return read(
        path,
        "the file as factordiff train writes it; repair or delete it (delete the run "
        "folder to start over)",
    )


def read_run_config(run_dir: str | Path) -> RunConfig:
    """The strictly validated ``config.json`` of a run; errors name the file."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no config.json: is it a factordiff run folder?")
    data = read_json(path)
    try:
        return from_dict(RunConfig, data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def run_state(run_dir: str | Path) -> dict | None:
    """``state.json`` of a run (None when there is none); a garbled file is named."""
    path = Path(run_dir) / "state.json"
    if not path.is_file():
        return None
    from factordiff.jsonfiles import expect_object

    return expect_object(
        read_json(path),
        path,
        "",
        "a JSON object (finished, epoch, step) as factordiff train writes it",
        optional={"finished": bool, "epoch": int, "step": int},
    )


# Keys of a RunConfig that say where a run is computed, not what it computes: a run started on
# one machine may be resumed on another.
PLACEMENT_KEYS = ("device",)


def _config_diff(a: dict, b: dict, prefix: str = "", ignore: tuple[str, ...] = ()) -> list[str]:
    """``section.key: old -> new`` for each value that differs between config dicts ``a``
    (a saved one, upgraded: :func:`factordiff.config.saved_as_current`) and ``b``; top-level
    keys in ``ignore`` are skipped."""
    out = []
    for k in sorted(set(a) | set(b)):
        if not prefix and k in ignore:
            continue
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _config_diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: {va!r} -> {vb!r}")
    return out


# What --extend may change: the budget, and which epochs keep a checkpoint.
EXTENDABLE_KEYS = ("train.epochs", "train.max_steps", "train.checkpoint_epochs")


def extension_problem(saved: dict, cfg: RunConfig, state: dict) -> str | None:
    """Why ``cfg`` cannot continue the run saved as ``saved`` (None when it can).

    A run can be extended when the configs differ only in :data:`EXTENDABLE_KEYS`, the new
    budget is larger (in the same unit: epochs, or ``max_steps``), the learning rate does not
    depend on the budget (``lr_schedule = constant``; a cosine schedule would have decayed
    differently) and every epoch the run kept a checkpoint for is still kept. Each step's
    randomness depends only on ``(seed, step)``, so the continued run equals one trained to
    the new budget from the start."""
    old = from_dict(type(cfg), saved)  # upgraded through its migrations (factordiff.migrate)
    diff = _config_diff(to_dict(old), to_dict(cfg), ignore=PLACEMENT_KEYS)
    other = [d for d in diff if d.split(":")[0] not in EXTENDABLE_KEYS]
    if other:
        return f"{'; '.join(other[:8])} changed; allowed: {', '.join(EXTENDABLE_KEYS)} only"
    a, b = old.train, cfg.train
    if a.lr_schedule != "constant" or b.lr_schedule != "constant":
        return (
            f"lr_schedule = {b.lr_schedule!r}: the learning rate depends on the budget; "
            "allowed: 'constant'"
        )
    if (a.max_steps > 0) != (b.max_steps > 0):
        return "the budget changes unit (epochs <-> max_steps); allowed: the same unit, larger"
    before, after = (a.max_steps, b.max_steps) if a.max_steps > 0 else (a.epochs, b.epochs)
    unit = "max_steps" if a.max_steps > 0 else "epochs"
    if after <= before:
        return f"train.{unit} = {after} is not above the run's {before}; allowed: > {before}"
    kept = set(a.checkpoint_epochs)
    if state.get("finished") and state.get("epoch") is not None:
        kept.add(int(state["epoch"]))  # the last epoch always keeps its checkpoint
    missing = sorted(kept - set(b.checkpoint_epochs))
    if missing:
        allowed = sorted(kept | set(b.checkpoint_epochs))
        return (
            f"train.checkpoint_epochs = {list(b.checkpoint_epochs)} drops the kept epochs "
            f"{missing}; allowed: a list that keeps them, e.g. {allowed}"
        )
    return None


def _setup_file_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("factordiff").addHandler(handler)
    logging.getLogger("factordiff").setLevel(logging.INFO)
    return handler


def train(
    cfg: RunConfig,
    run_dir: str | Path,
    *,
    force: bool = False,
    extend: bool = False,
    progress: bool = True,
    on_eval: Callable[[dict], None] | None = None,
    tensorboard: bool = False,
) -> TrainResult:
    """Start, resume or (with ``force``) restart the run in ``run_dir``.

    - empty or new folder: start; ``config.json`` is written first.
    - same config, not finished: resume from ``checkpoints/latest.pt``.
    - with ``extend``, a config that only raises the budget (see :func:`extension_problem`):
      continue from ``latest.pt`` to the new budget; the result equals a run trained to that
      budget from the start.
    - finished, or a different config: ``RunExistsError`` unless ``force`` (which clears
      the folder's run files and starts over).

    ``tensorboard=True`` also writes every ``metrics.jsonl`` record and a sample grid per
    evaluation as TensorBoard events in ``RUN/tensorboard/`` (:mod:`factordiff.sinks`; needs
    ``pip install -e ".[tensorboard]"``, checked before anything is written)."""
    run_dir = Path(run_dir)
    cfg.validate()
    if tensorboard:
        from factordiff.sinks import require_tensorboard

        require_tensorboard()  # before --force clears anything
    check_writable_folder(run_dir)  # a file in the way or a read-only place: fail first
    cfg_path = run_dir / "config.json"
    if cfg_path.is_file():
        old = read_json(cfg_path)
        if not isinstance(old, dict):
            raise ValueError(f"{cfg_path} holds {old!r}; allowed: a run config (a JSON object)")
        try:  # compared upgraded (factordiff.migrate): a field added since is no change
            old = saved_as_current(type(cfg), old)
        except FutureSchemaError as e:
            if not force:  # --force clears the folder: no need to read what it held
                raise ValueError(f"{cfg_path}: {e}; or --force to train it again") from None
        diff = _config_diff(old, to_dict(cfg), ignore=PLACEMENT_KEYS)
        state = run_state(run_dir) or {}
        if force:
            _clear_run(run_dir)
        elif diff and extend:
            problem = extension_problem(old, cfg, state)
            if problem:
                raise RunExistsError(f"{run_dir} cannot be extended: {problem}")
            atomic_write_text(cfg_path, cfg.to_json() + "\n")
            log.info("extended %s: %s", run_dir, "; ".join(diff))
        elif diff:
            raise RunExistsError(
                f"{run_dir} holds a run with another config ({'; '.join(diff[:8])}); "
                "use --force to overwrite it or --out for a new folder"
            )
        elif state.get("finished"):
            raise RunExistsError(
                f"{run_dir} holds a finished run (epoch {state.get('epoch')}); "
                "use --force to train it again or --out for a new folder"
            )
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = None
    try:
        trainer = Trainer(cfg, run_dir, progress=progress, tensorboard=tensorboard)
    except Exception:
        if created:
            _remove_tree(run_dir)
        raise
    if not cfg_path.is_file():
        atomic_write_text(cfg_path, cfg.to_json() + "\n")
    # Where this (part of the) run computed: device, CPU, threads, precision and why.
    env = environment_record(trainer.device, trainer.precision)
    atomic_write_text(run_dir / "environment.json", json.dumps(env, indent=2) + "\n")
    handler = _setup_file_log(run_dir)
    try:
        log.info("run %s in %s on %s", cfg.name, run_dir, trainer.device)
        log.info(
            "precision %s (%s); %d threads; %s",
            trainer.precision.used,
            trainer.precision.reason,
            env["num_threads"],
            env["cpu"],
        )
        return trainer.train(on_eval=on_eval)
    finally:
        logging.getLogger("factordiff").removeHandler(handler)
        handler.close()
        if trainer.sink is not None:
            trainer.sink.close()


def _clear_run(run_dir: Path) -> None:
    for name in ("config.json", "metrics.jsonl", "train.log", "state.json", "environment.json"):
        (run_dir / name).unlink(missing_ok=True)
    _remove_tree(checkpoint_dir(run_dir))
    from factordiff.sinks import TENSORBOARD_DIR

    _remove_tree(run_dir / TENSORBOARD_DIR)  # events of the old run would mix with the new


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
