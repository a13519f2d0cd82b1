"""Precision and thread choices per machine (factordiff.hardware), on mocked CPUs."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from factordiff import hardware
from factordiff.config import RunConfig, TrainConfig, from_dict, to_dict
from factordiff.hardware import ThreadGovernor, autocast, resolve_precision

CPU = torch.device("cpu")


def _mock_cpu(monkeypatch, *, avx512_bf16: bool, amx: bool) -> None:
    monkeypatch.delenv(hardware.NATIVE_BF16_ENV, raising=False)  # the mock, not an override
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(hardware, "cpu_capability", lambda: "AVX512")  # torch not lowered
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)


@pytest.mark.defaults
@pytest.mark.parametrize(
    "avx512_bf16, amx, expected",
    [(False, False, "fp32"), (True, False, "bf16"), (False, True, "bf16"), (True, True, "bf16")],
)
def test_auto_uses_bf16_only_where_the_cpu_computes_it_natively(
    monkeypatch, avx512_bf16, amx, expected
):
    _mock_cpu(monkeypatch, avx512_bf16=avx512_bf16, amx=amx)
    choice = resolve_precision("auto", CPU)
    assert choice.used == expected
    assert choice.requested == "auto"
    assert choice.native_bf16 is (expected == "bf16")
    assert ("no native bf16" in choice.reason) is (expected == "fp32")


@pytest.mark.defaults
@pytest.mark.parametrize(
    "capability, onednn_isa, expected",
    [
        ("AVX512", "", "bf16"),
        ("AVX2", "", "fp32"),  # ATEN_CPU_CAPABILITY=avx2 on an AMX machine
        ("AVX512", "AVX2", "fp32"),  # ONEDNN_MAX_CPU_ISA caps the matrix products
        ("AVX512", "avx512_core_vnni", "fp32"),
        ("AVX512", "AVX512_CORE_AMX", "bf16"),
    ],
)
def test_a_lowered_torch_counts_as_no_native_bf16(monkeypatch, capability, onednn_isa, expected):
    _mock_cpu(monkeypatch, avx512_bf16=True, amx=True)
    monkeypatch.setattr(hardware, "cpu_capability", lambda: capability)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", onednn_isa)
    assert resolve_precision("auto", CPU).used == expected
    assert hardware.cpu_detected_native_bf16() is (expected == "bf16")


def test_explicit_choices_are_honoured_and_emulated_bf16_warns(monkeypatch, caplog):
    _mock_cpu(monkeypatch, avx512_bf16=False, amx=False)  # an AVX2-only CPU
    with caplog.at_level(logging.WARNING, logger="factordiff.hardware"):
        bf16 = resolve_precision("bf16", CPU)
    assert bf16.used == "bf16" and "emulated" in bf16.reason
    assert any("emulated" in r.message for r in caplog.records)
    caplog.clear()
    _mock_cpu(monkeypatch, avx512_bf16=True, amx=True)
    with caplog.at_level(logging.WARNING, logger="factordiff.hardware"):
        assert resolve_precision("fp32", CPU).used == "fp32"
        assert resolve_precision("bf16", CPU).used == "bf16"
    assert not caplog.records


def test_bad_precision_names_the_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"'half'.*auto \| bf16 \| fp32"):
        from_dict(RunConfig, {"train": {"precision": "half"}})
    with pytest.raises(ValueError, match="'half'.*allowed"):
        resolve_precision("half", CPU)


@pytest.mark.defaults
def test_autocast_follows_the_resolved_precision(monkeypatch):
    x = torch.randn(4, 4)
    _mock_cpu(monkeypatch, avx512_bf16=False, amx=False)
    with autocast(CPU, resolve_precision("auto", CPU)):
        assert (x @ x).dtype == torch.float32
    with autocast(CPU, resolve_precision("bf16", CPU)):
        assert (x @ x).dtype == torch.bfloat16


def test_configs_written_with_the_old_bf16_flag_still_load():
    old = to_dict(RunConfig())
    del old["train"]["precision"]
    old["train"]["bf16"] = True
    assert from_dict(RunConfig, old).train.precision == "bf16"
    old["train"]["bf16"] = False
    assert from_dict(RunConfig, old).train.precision == "fp32"
    old["train"]["bf16"] = "yes"  # not a bool: the strict loader names the key
    with pytest.raises(ValueError, match="bf16"):
        from_dict(RunConfig, old)
    assert TrainConfig().precision == "auto"


def test_default_threads_never_exceed_the_usable_cores(monkeypatch):
    monkeypatch.setattr(hardware, "usable_cores", lambda: 1)
    assert hardware.default_num_threads() == 1
    monkeypatch.setattr(hardware, "usable_cores", lambda: 64)
    assert 1 <= hardware.default_num_threads() <= 64


@pytest.mark.defaults
def test_a_run_records_the_precision_it_used_and_why(tmp_path, monkeypatch):
    from factordiff.presets import preset_config
    from factordiff.training import load_checkpoint, train

    _mock_cpu(monkeypatch, avx512_bf16=False, amx=False)
    cfg = preset_config("tiny")
    cfg.train.precision = "auto"  # the default of every preset but tiny
    cfg.train.epochs = 1
    cfg.train.checkpoint_epochs = (0, 1)
    cfg.train.eval_every_epochs = 0
    cfg.train.num_threads = 1
    train(cfg, tmp_path / "run", progress=False)
    env = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert env["precision"]["used"] == "fp32" and env["precision"]["requested"] == "auto"
    assert "no native bf16" in env["precision"]["reason"]
    assert env["cpu_capability"] == hardware.cpu_capability()
    assert env["num_threads"] == 1
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "epoch-00001.pt")
    assert ckpt["precision"]["used"] == "fp32"
    assert "precision fp32" in (tmp_path / "run" / "train.log").read_text()


def test_the_override_runs_this_machine_as_the_other_kind(monkeypatch):
    monkeypatch.setenv(hardware.NATIVE_BF16_ENV, "0")
    assert not hardware.cpu_native_bf16()
    assert f"no native bf16 as {hardware.NATIVE_BF16_ENV} says" in hardware.cpu_description()
    assert resolve_precision("fp32", CPU).native_bf16 is False
    monkeypatch.setenv(hardware.NATIVE_BF16_ENV, "1")
    assert hardware.cpu_native_bf16()
    monkeypatch.setenv(hardware.NATIVE_BF16_ENV, "yes")
    with pytest.raises(ValueError, match=r"FACTORDIFF_NATIVE_BF16='yes' is invalid; allowed: 0"):
        hardware.cpu_native_bf16()


@pytest.mark.parametrize(
    "native, capability, expected",
    [
        (True, "AVX512", {"FACTORDIFF_NATIVE_BF16": "0", "ATEN_CPU_CAPABILITY": "avx2"}),
        (False, "AVX2", {"FACTORDIFF_NATIVE_BF16": "1"}),
    ],
)
def test_other_kind_env_flips_the_bf16_detection(monkeypatch, native, capability, expected):
    monkeypatch.setattr(hardware, "cpu_detected_native_bf16", lambda: native)
    monkeypatch.setattr(hardware, "cpu_capability", lambda: capability)
    env = hardware.other_kind_env()
    assert expected.items() <= env.items()
    assert ("ONEDNN_MAX_CPU_ISA" in env) is native


def test_the_guard_refuses_auto_outside_tests_of_the_defaults():
    """tests/conftest.py: a test that is not marked ``defaults`` cannot train with ``auto``, in
    this process or in a process it starts (sweep workers inherit the environment)."""
    import subprocess
    import sys

    with pytest.raises(ValueError, match=r"precision = 'auto' is refused.*allowed: 'fp32'"):
        resolve_precision("auto", CPU)
    assert resolve_precision("fp32", CPU).used == "fp32"
    code = "from factordiff.hardware import resolve_precision; resolve_precision('auto', 'cpu')"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert child.returncode != 0 and "is refused" in child.stderr


@pytest.mark.defaults
def test_auto_follows_this_machine_or_its_override():
    """Unmocked: what ``auto`` picks here; in CI's second pass, what the other CPU kind picks."""
    choice = resolve_precision("auto", CPU)
    assert choice.used == ("bf16" if hardware.cpu_native_bf16() else "fp32")
    override = hardware.native_bf16_override()
    if override is not None:
        assert hardware.cpu_native_bf16() is override
        assert hardware.NATIVE_BF16_ENV in choice.reason


@pytest.mark.defaults
def test_the_default_precision_trains_samples_and_evaluates(tmp_path, capsys):
    """The tiny run with ``auto`` end to end: bf16 where native (or forced), fp32 elsewhere."""
    from factordiff.cli import main

    run = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--set", "train.precision=auto", "--out", str(run)]
    assert main(argv + ["--set", "train.epochs=2", "--no-progress", "--evaluate"]) == 0
    env = json.loads((run / "environment.json").read_text())
    assert env["precision"]["used"] == resolve_precision("auto", CPU).used
    assert env["native_bf16_override"] == hardware.native_bf16_override()
    assert "accuracy" in capsys.readouterr().out


def test_machine_command_names_the_cpu_and_the_other_kind(capsys):
    from factordiff.cli import main

    assert main(["machine", "--other-kind-env"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines and all("=" in line for line in lines)
    assert any(line.startswith(hardware.NATIVE_BF16_ENV + "=") for line in lines)


@pytest.mark.defaults
def test_machine_command_says_what_auto_picks(capsys):
    from factordiff.cli import main

    assert main(["machine"]) == 0
    out = capsys.readouterr().out
    assert hardware.cpu_model_name() in out and "precision auto -> " in out


def _drive(governor, step_time, steps):
    """Feed ``steps`` steps whose time depends on the governor's thread count and the step."""
    chosen = []
    for s in range(steps):
        out = governor.step_done(step_time(governor.threads, s))
        if out is not None:
            chosen.append((s, out[0]))
    return chosen


def test_governor_keeps_all_cores_when_they_are_fastest():
    seen = []
    gov = ThreadGovernor(2, probe_every=50, set_threads=seen.append)
    chosen = _drive(gov, lambda n, s: {2: 0.5, 1: 0.9}[n], 150)
    assert [c for _, c in chosen] == [2, 2, 2]  # at the start, then every 50 steps
    assert gov.threads == 2 and set(seen) == {1, 2}  # 1 thread was tried, 2 kept
    assert all(why.startswith("step medians 2 threads 500 ms") for _, _, why in gov.changes)


def test_governor_drops_a_thread_when_another_process_takes_a_core_and_comes_back():
    # alone: 2 threads 0.5 s, 1 thread 0.9 s; from step 40 to 150 a busy process shares a
    # core: 2 threads 2.0 s (they wait for each other), 1 thread 1.0 s
    def step_time(n, s):
        busy = 40 <= s < 150
        return {2: 2.0 if busy else 0.5, 1: 1.0 if busy else 0.9}[n]

    gov = ThreadGovernor(2, probe_every=100, set_threads=lambda n: None)
    chosen = _drive(gov, step_time, 300)
    assert chosen[0][1] == 2  # alone at the start
    # the slowdown is noticed within a few steps of step 40 and one thread is chosen
    drop = next((s, c) for s, c in chosen if c == 1)
    assert 40 < drop[0] <= 40 + 3 * gov.probe_steps
    # after the busy process ends, the periodic comparison goes back to 2 threads
    assert chosen[-1][1] == 2 and gov.threads == 2
    # overall, the steps were never left on the slow choice for long
    slow_steps = sum(1 for s in range(300) if 40 <= s < 150) - (150 - drop[0])
    assert slow_steps <= 3 * gov.probe_steps


def test_governor_is_off_with_one_core_and_for_fixed_thread_counts(tmp_path, monkeypatch):
    gov = ThreadGovernor(1, set_threads=lambda n: None)
    assert not gov.active and gov.step_done(1.0) is None and gov.threads == 1
    from factordiff.presets import preset_config
    from factordiff.training import Trainer

    cfg = preset_config("tiny")
    cfg.train.num_threads = 1
    assert Trainer(cfg, tmp_path / "a", progress=False).governor is None
    cfg.train.num_threads = 0
    monkeypatch.setattr("factordiff.training.default_num_threads", lambda: 2)
    trainer = Trainer(cfg, tmp_path / "b", progress=False)
    assert trainer.governor is not None and trainer.governor.candidates == [2, 1]
    torch.set_num_threads(1)  # the suite runs single-threaded (conftest)


def test_a_sweep_workers_thread_budget_caps_the_default(monkeypatch):
    monkeypatch.setattr(hardware, "usable_cores", lambda: 8)
    monkeypatch.setattr(hardware, "_TORCH_DEFAULT_THREADS", 8)
    try:
        hardware.set_thread_budget(1)
        assert hardware.default_num_threads() == 1 and torch.get_num_threads() == 1
        hardware.set_thread_budget(3)
        assert hardware.default_num_threads() == 3
        with pytest.raises(ValueError, match="threads = 0 is invalid"):
            hardware.set_thread_budget(0)
        hardware.set_thread_budget(None)
        assert hardware.default_num_threads() == 8
    finally:
        hardware.set_thread_budget(None)
        torch.set_num_threads(1)  # the suite runs single-threaded (conftest)
