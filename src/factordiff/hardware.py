"""What the machine computes well: precision and thread choices, and how to name the CPU.

``train.precision = "auto"`` (the default) uses bf16 autocast only where the hardware computes
bf16 natively, because elsewhere it is emulated and many times slower than fp32 (we measured
12x per training step on an AVX2-only CPU, docs/performance.md):

- CPU: x86 with AVX-512 BF16 or AMX tiles (``torch.cpu._is_avx512_bf16_supported()``,
  ``torch.cpu._is_amx_tile_supported()``), unless torch runs lowered below it
  (``ATEN_CPU_CAPABILITY=avx2``, or ``ONEDNN_MAX_CPU_ISA`` under AVX-512 BF16), where bf16 is
  emulated; every other CPU (AVX2, AVX-512 without BF16, ARM) gets fp32.
- CUDA: ``torch.cuda.is_bf16_supported()`` (Ampere and newer).
- MPS and anything else: fp32.

An explicit ``"bf16"`` or ``"fp32"`` is honoured; ``"bf16"`` where it would be emulated logs a
warning. :func:`resolve_precision` returns the choice with the reason, which the run records
(``RUN/environment.json``, the log and every checkpoint).

Running as the other CPU kind: ``FACTORDIFF_NATIVE_BF16=0`` (or ``1``) overrides the CPU's
bf16 detection, so ``auto`` picks what it would pick on a CPU without (with) native bf16;
``ATEN_CPU_CAPABILITY`` and ``ONEDNN_MAX_CPU_ISA`` lower torch's own kernels to match.
``factordiff machine --other-kind-env`` prints those settings for this machine
(``.ci/run`` runs the tests of the defaults a second time with them).
``FACTORDIFF_REFUSE_AUTO_PRECISION=1`` makes ``auto`` an error: the test suite sets it so that no
test that trains or compares numbers depends on the machine it runs on.

Threads: ``train.num_threads = 0`` (the default) picks :func:`default_num_threads`, which
leaves one core free when others are busy; see that function for the rule and
docs/performance.md for the measurements behind it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
from dataclasses import asdict, dataclass

import numpy as np
import torch

log = logging.getLogger("factordiff.hardware")

PRECISIONS = ("auto", "bf16", "fp32")
# torch's own default intra-op thread count (its count of physical cores), read once at import
# so that a run which set fewer threads does not lower the default of the next one.
_TORCH_DEFAULT_THREADS = torch.get_num_threads()


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run computes in, and why."""

    requested: str  # auto | bf16 | fp32
    used: str  # bf16 | fp32
    native_bf16: bool  # does this device compute bf16 natively?
    reason: str

    @property
    def bf16(self) -> bool:
        return self.used == "bf16"

    def to_dict(self) -> dict:
        return asdict(self)


def cpu_model_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_capability() -> str:
    """torch's name for the CPU's vector instruction set (``AVX2``, ``AVX512``, ...)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - an old torch without it: say so rather than fail
        return "unknown"


#: Overrides the CPU's bf16 detection: "0" (as a CPU without native bf16) or "1" (with it).
NATIVE_BF16_ENV = "FACTORDIFF_NATIVE_BF16"
#: Set to "1", ``precision = auto`` raises instead of reading the machine (the test suite's guard).
REFUSE_AUTO_ENV = "FACTORDIFF_REFUSE_AUTO_PRECISION"


def native_bf16_override() -> bool | None:
    """The value of ``FACTORDIFF_NATIVE_BF16`` (None when unset or empty)."""
    value = os.environ.get(NATIVE_BF16_ENV, "").strip()
    if not value:
        return None
    if value not in ("0", "1"):
        raise ValueError(
            f"{NATIVE_BF16_ENV}={value!r} is invalid; allowed: 0 (run as a CPU without native "
            "bf16), 1 (as a CPU with it), or unset (detect)"
        )
    return value == "1"


def cpu_native_bf16() -> bool:
    """True where the CPU computes bf16 matrix products natively (AVX-512 BF16 or AMX), or
    as ``FACTORDIFF_NATIVE_BF16`` says."""
    override = native_bf16_override()
    if override is not None:
        return override
    return cpu_detected_native_bf16()


#: torch capabilities under which its own kernels have no bf16 path (ATEN_CPU_CAPABILITY lowers
#: the capability below the CPU's), and oneDNN ISA caps below AVX-512 BF16 (ONEDNN_MAX_CPU_ISA).
NO_BF16_CAPABILITIES = ("DEFAULT", "NO AVX", "AVX", "AVX2", "ZVECTOR", "VSX")
NO_BF16_ONEDNN_ISAS = (
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
)


def cpu_detected_native_bf16() -> bool:
    """What the CPU reports (AVX-512 BF16 or AMX tiles; no override), as torch runs on it: a
    capability lowered by ``ATEN_CPU_CAPABILITY`` (e.g. ``avx2``) or a oneDNN ISA capped by
    ``ONEDNN_MAX_CPU_ISA`` below AVX-512 BF16 emulates bf16, so it counts as no native bf16."""
    if cpu_capability().upper() in NO_BF16_CAPABILITIES:
        return False
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper() in NO_BF16_ONEDNN_ISAS:
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    for name in checks:
        fn = getattr(torch.cpu, name, None)
        if fn is not None:
            with contextlib.suppress(Exception):
                if fn():
                    return True
    return False


def cpu_description() -> str:
    """One line naming the CPU as every figure in the docs does: model, capability, bf16."""
    native = "native bf16" if cpu_native_bf16() else "no native bf16"
    if native_bf16_override() is not None:
        native += f" as {NATIVE_BF16_ENV} says"
    return f"{cpu_model_name()} ({cpu_capability()}, {native})"


def other_kind_env() -> dict[str, str]:
    """Environment settings under which this machine runs as the other CPU kind: on a CPU with
    native bf16, torch's kernels lowered to AVX2 and ``auto`` choosing fp32; on one without,
    ``auto`` choosing bf16 (emulated there: slow, so only tiny runs should use it)."""
    if cpu_detected_native_bf16():
        env = {NATIVE_BF16_ENV: "0"}
        if cpu_capability().upper().startswith("AVX512"):
            env.update({"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"})
        return env
    return {NATIVE_BF16_ENV: "1"}


def machine_description(device: torch.device | str) -> str:
    """The machine a result came from, for reports: the CPU as :func:`cpu_description` words
    it, and the GPU's name first when ``device`` is one."""
    device = torch.device(device)
    cpu = f"CPU {cpu_description()}"
    if device.type == "cuda":
        with contextlib.suppress(Exception):
            return f"GPU {torch.cuda.get_device_name(device)}, {cpu}"
    return cpu


def device_native_bf16(device: torch.device) -> bool:
    if device.type == "cpu":
        return cpu_native_bf16()
    if device.type == "cuda":
        with contextlib.suppress(Exception):
            return bool(torch.cuda.is_bf16_supported())
        return False
    return False


def resolve_precision(requested: str, device: torch.device | str) -> PrecisionChoice:
    """``auto`` -> bf16 where ``device`` computes it natively, else fp32; explicit values are
    honoured (with a warning when bf16 would be emulated)."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision = {requested!r} is invalid; allowed: {list(PRECISIONS)}")
    if requested == "auto" and os.environ.get(REFUSE_AUTO_ENV) == "1":
        raise ValueError(
            f"precision = 'auto' is refused here ({REFUSE_AUTO_ENV}=1): its choice depends on "
            "the machine; allowed: 'fp32' or 'bf16' (set train.precision)"
        )
    device = torch.device(device)
    native = device_native_bf16(device)
    where = _device_words(device)
    if device.type == "cpu" and native_bf16_override() is not None:
        where += f" ({NATIVE_BF16_ENV}={os.environ[NATIVE_BF16_ENV].strip()})"
    if requested == "fp32":
        return PrecisionChoice(requested, "fp32", native, "fp32 requested")
    if requested == "bf16":
        if not native:
            log.warning(
                "bf16 requested on %s, which has no native bf16: it is emulated there and "
                "many times slower than fp32 (train.precision=auto or fp32 avoids this)",
                where,
            )
            return PrecisionChoice(
                requested, "bf16", native, f"bf16 requested; emulated on {where}"
            )
        return PrecisionChoice(requested, "bf16", native, f"bf16 requested; native on {where}")
    if native:
        return PrecisionChoice(requested, "bf16", native, f"auto: {where} computes bf16 natively")
    return PrecisionChoice(
        requested, "fp32", native, f"auto: {where} has no native bf16 (it would be emulated)"
    )


def auto_precision_line() -> str:
    """One line for ``factordiff machine``: the CPU as :func:`cpu_description` words it and
    the precision ``auto`` picks there, with the reason."""
    choice = resolve_precision("auto", "cpu")
    return f"CPU {cpu_description()}; precision auto -> {choice.used} ({choice.reason})"


def _device_words(device: torch.device) -> str:
    if device.type == "cpu":
        return f"CPU {cpu_model_name()} ({cpu_capability()})"
    if device.type == "cuda":
        with contextlib.suppress(Exception):
            return f"GPU {torch.cuda.get_device_name(device)}"
    return str(device)


def autocast(device: torch.device, precision: PrecisionChoice | bool):
    """bf16 autocast on ``device`` when the precision in use is bf16, else a no-op context."""
    enabled = precision.bf16 if isinstance(precision, PrecisionChoice) else bool(precision)
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Threads a caller (a sweep worker) gave this process; None = no limit but the cores.
_THREAD_BUDGET: int | None = None


def set_thread_budget(threads: int | None) -> None:
    """Limit the threads of ``train.num_threads = 0`` runs in this process (a sweep worker's
    share of the cores); ``None`` lifts the limit. Also sets torch's thread count."""
    global _THREAD_BUDGET
    if threads is not None and threads < 1:
        raise ValueError(f"threads = {threads!r} is invalid; allowed: an integer >= 1 or None")
    _THREAD_BUDGET = threads
    torch.set_num_threads(threads or _TORCH_DEFAULT_THREADS)


def default_num_threads() -> int:
    """Intra-op threads for ``train.num_threads = 0``: the usable cores, capped at torch's own
    default (its count of physical cores) and at the process's thread budget, if any.

    Rule (see docs/performance.md): torch's OpenMP threads wait for one another at the end of
    every operation, so a thread sharing its core with a busy process holds the others back;
    one thread per usable core, never more, plus ``OMP_WAIT_POLICY=PASSIVE`` set by the
    command line before torch starts, is what we measured to degrade gracefully."""
    return max(1, min(usable_cores(), _THREAD_BUDGET or _TORCH_DEFAULT_THREADS))


def environment_record(device: torch.device, precision: PrecisionChoice) -> dict:
    """What a run records about where it ran (``RUN/environment.json``)."""
    return {
        "device": str(device),
        "cpu": cpu_description(),
        "cpu_capability": cpu_capability(),
        "cpu_model": cpu_model_name(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": str(torch.__version__),
        "num_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "native_bf16_override": native_bf16_override(),
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY"),
        "precision": precision.to_dict(),
    }


class ThreadGovernor:
    """Chooses torch's intra-op thread count while a CPU run trains, from measured step times.

    torch's OpenMP threads spin while they wait for one another, so when another process
    takes one of the cores a 2-thread step slowed down ~4x on a 2-core CPU, while one thread
    fewer slowed down ~1.2x (docs/performance.md). The governor keeps two candidates, all
    usable cores (``max_threads``) and one fewer, and uses the one whose recent steps were
    faster. It compares them over ``probe_steps`` steps each at the start of the run, again
    every ``probe_every`` steps, and at once when the steps of the chosen count become
    ``slow_factor`` times slower than when it was chosen (another process started).

    Used for ``train.num_threads = 0`` (the default) on CPU; a fixed ``train.num_threads``
    turns it off. Changing the thread count changes the order of some floating-point sums,
    so two runs of the same config agree bit for bit only when they used the same thread
    counts: the run records each change (``metrics.jsonl``, ``train.log``); set
    ``train.num_threads`` for runs that must be bit-reproducible whatever the load."""

    def __init__(
        self,
        max_threads: int,
        *,
        probe_steps: int = 4,
        probe_every: int = 200,
        slow_factor: float = 1.5,
        warmup_steps: int = 3,
        set_threads=None,
    ) -> None:
        self.max_threads = max_threads
        self.candidates = [max_threads, max_threads - 1] if max_threads > 1 else [max_threads]
        self.probe_steps = probe_steps
        self.probe_every = probe_every
        self.slow_factor = slow_factor
        self.warmup_steps = warmup_steps
        self._set = set_threads or torch.set_num_threads
        self.threads = max_threads
        self._queue: list[int] = []  # thread counts still to measure in the current probe
        self._times: dict[int, list[float]] = {}
        self._chosen_median: float | None = None
        self._recent: list[float] = []
        self._steps = 0
        self._since_probe = 0
        self.changes: list[tuple[int, int, str]] = []  # (step, threads chosen, why)
        self._set(self.threads)

    @property
    def active(self) -> bool:
        return len(self.candidates) > 1

    def _start_probe(self) -> None:
        self._queue = [c for c in self.candidates for _ in range(self.probe_steps)]
        self._times = {c: [] for c in self.candidates}
        self._switch(self._queue[0], None)

    def _switch(self, threads: int, why: str | None) -> None:
        if threads != self.threads:
            self.threads = threads
            self._set(threads)
        if why is not None:
            self.changes.append((self._steps, threads, why))

    def step_done(self, seconds: float) -> tuple[int, str] | None:
        """Record one step's time; returns ``(threads, why)`` when a comparison has just chosen
        the thread count (at the start, every ``probe_every`` steps, after a slowdown)."""
        if not self.active:
            return None
        self._steps += 1
        if self._steps <= self.warmup_steps:
            return None
        if self._steps == self.warmup_steps + 1 and not self._queue:
            self._start_probe()
            return None
        if self._queue:  # measuring
            self._times[self._queue.pop(0)].append(seconds)
            if self._queue:
                if self._queue[0] != self.threads:
                    self._switch(self._queue[0], None)
                return None
            medians = {c: float(np.median(t)) for c, t in self._times.items()}
            best = min(medians, key=medians.get)
            self._chosen_median = medians[best]
            self._since_probe, self._recent = 0, []
            why = "step medians " + ", ".join(
                f"{c} threads {m * 1000:.0f} ms" for c, m in medians.items()
            )
            self._switch(best, why)
            return best, why
        self._since_probe += 1
        self._recent = (self._recent + [seconds])[-self.probe_steps :]
        slow = len(self._recent) == self.probe_steps and float(
            np.median(self._recent)
        ) > self.slow_factor * (self._chosen_median or 0)
        if slow or self._since_probe >= self.probe_every:
            self._start_probe()
        return None
