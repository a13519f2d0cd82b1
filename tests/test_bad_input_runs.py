"""Bad input to the commands that train (experiment, reproduce, variants, train) stops with one
line naming the value and what is allowed, exits non-zero and writes or changes nothing; the
traps of issue 25 (the default reproduce scale, the default train folder, progress bars in a
log file) are gone. CLI cases through ``main([...])`` in a temp folder, API cases direct."""

from __future__ import annotations

import io
import shutil
import socket
import sys
from pathlib import Path

import pytest

from factordiff.cli import main
from factordiff.experiments import EXPERIMENTS
from factordiff.experiments.reproduce import plan_reproduce
from factordiff.experiments.sweep import (
    LocalExecutor,
    RayExecutor,
    check_ray_address,
    make_executor,
    plan_sweep,
)
from factordiff.experiments.variants import variant_configs
from factordiff.progress import LineProgress, progress_bar
from refusal import refused
from refusal import snapshot as files_under

FP32 = ["--set", "run.train.precision=fp32"]  # tests that train pin precision (conftest's guard)


def unused_port() -> int:
    """A local TCP port nothing listens on (connections to it are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def finished(exp1_tiny_finished) -> Path:
    """A finished ``exp1-tiny`` experiment (fp32; conftest's, run once per session); tests
    copy it before touching it."""
    return exp1_tiny_finished


@pytest.fixture
def experiment(finished, tmp_path) -> Path:
    copy = tmp_path / "exp1"
    shutil.copytree(finished, copy)
    return copy


# ----------------------------------------------------------------------------- executor options
@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (["--executor", "ray", "--threads", "0"], ("--threads 0 is invalid", ">= 1")),
        (["--threads", "0"], ("--threads 0 is invalid", ">= 1")),
        (["--workers", "0"], ("workers = 0 is invalid", ">= 1")),
        (["--max-retries=-1"], ("--max-retries -1 is invalid", ">= 0")),
        (["--executor", "ray", "--max-retries=-1"], ("--max-retries -1 is invalid", ">= 0")),
        (["--max-retries", "2"], ("--max-retries 2 is for --executor ray", "does not retry")),
        (["--executor", "ray", "--workers", "2"], ("--workers is for --executor local",)),
        (["--address", "auto"], ("--address is for --executor ray",)),
    ],
)
@pytest.mark.parametrize("command", ["experiment", "reproduce"])
def test_executor_options_are_refused_before_anything_is_written(
    tmp_path, capsys, options, needles, command
):
    out = tmp_path / "out"
    head = (
        ["experiment", "exp1-tiny", *FP32] if command == "experiment" else ["reproduce", "--scale"]
    )
    if command == "reproduce":
        head += ["tiny", "--only", "exp1"]
    refused(capsys, [*head, "--out", str(out), *options], *needles)
    assert not out.exists()


def test_make_executor_defaults_and_refusals():
    assert make_executor("ray").max_retries == 3 and make_executor("ray").threads == 1
    assert make_executor("ray", max_retries=0).max_retries == 0
    local = make_executor("local")
    assert isinstance(local, LocalExecutor) and (local.workers, local.threads) == (2, 1)
    with pytest.raises(ValueError, match="--threads 0 is invalid"):
        make_executor("ray", threads=0)
    with pytest.raises(ValueError, match="--max-retries 3 is for --executor ray"):
        make_executor("local", max_retries=3)


# ----------------------------------------------------------------------------- Ray address
def test_ray_address_that_does_not_answer_leaves_the_experiment_unchanged(experiment, capsys):
    before = files_under(experiment)
    address = f"127.0.0.1:{unused_port()}"
    argv = ["experiment", "exp1-tiny", *FP32, "--out", str(experiment), "--no-progress"]
    refused(
        capsys,
        [*argv, "--executor", "ray", "--address", address],
        f"--address '{address}'",
        "no Ray cluster answers there",
        "allowed: the address of a running Ray cluster",
    )
    assert files_under(experiment) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["experiment", "exp1-tiny", *FP32],
        ["experiment", "exp1-quick", "--variant", "k1", *FP32],
        ["reproduce", "--scale", "tiny"],
        ["reproduce", "--scale", "tiny", "--only", "exp1", "--no-pool"],
    ],
)
def test_ray_address_is_reached_before_anything_is_written(tmp_path, capsys, argv):
    out = tmp_path / "out"
    address = f"127.0.0.1:{unused_port()}"
    refused(
        capsys,
        [*argv, "--out", str(out), "--executor", "ray", "--address", address],
        f"--address '{address}'",
        "no Ray cluster answers there",
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("address", "needles"),
    [
        ("nohost", ("--address 'nohost' is invalid", "HOST:PORT")),
        ("127.0.0.1:http", ("--address '127.0.0.1:http' is invalid",)),
        ("ray://127.0.0.1:{port}", ("--address 'ray://127.0.0.1:", "no Ray cluster answers")),
    ],
)
def test_ray_address_forms(address, needles):
    with pytest.raises(ValueError) as err:
        check_ray_address(address.format(port=unused_port()), timeout=2)
    for needle in needles:
        assert needle in str(err.value)


def test_ray_not_installed_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    out = tmp_path / "out"
    argv = ["experiment", "exp1-tiny", *FP32, "--out", str(out), "--executor", "ray"]
    refused(capsys, argv, 'executor = "ray" needs Ray', "not installed", "--executor local")
    assert not out.exists()
    with pytest.raises(ValueError, match="needs Ray"):
        RayExecutor().check()


# ----------------------------------------------------------------------------- reproduce
def test_reproduce_names_each_failed_experiments_error(tmp_path, capsys, monkeypatch):
    import factordiff.experiments.reproduce as rep

    def broken(exp, cfg, out, **kwargs):
        raise RuntimeError("the analysis fell over\nsecond line")

    monkeypatch.setattr(rep, "run_experiment", broken)
    out = tmp_path / "r"
    argv = ["reproduce", "--scale", "tiny", "--only", "exp1", "--out", str(out), "--no-progress"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert "exp1: RuntimeError: the analysis fell over second line" in err
    assert str(out.resolve() / "reproduce.json") in err


def test_reproduce_defaults_to_the_quick_scale(tmp_path, capsys, monkeypatch):
    import factordiff.experiments.reproduce as rep

    calls = []

    def fake(out, **kwargs):
        calls.append((Path(out), kwargs["scale"]))
        return {"page": str(Path(out) / "report.html"), "failed": []}

    monkeypatch.setattr(rep, "reproduce", fake)
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce"]) == 0
    assert main(["reproduce", "--scale", "paper"]) == 0
    assert calls == [
        (Path("runs/reproduce-quick"), "quick"),
        (Path("runs/reproduce"), "paper"),
    ]
    capsys.readouterr()
    assert main(["reproduce", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "quick (the default" in text and "paper (presets NAME, meant for a GPU" in text


# ----------------------------------------------------------------------------- default folders
def test_train_and_experiment_default_to_different_folders(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--preset", "exp1", "--dry-run"]) == 0
    train_out = capsys.readouterr().out
    assert f"would train into {tmp_path / 'runs' / 'train' / 'exp1'})" in train_out
    assert main(["experiment", "exp1", "--dry-run", *FP32]) == 0
    assert f"would write {tmp_path / 'runs' / 'exp1'} " in capsys.readouterr().out
    assert main(["experiment", "exp1-tiny", "--dry-run", *FP32]) == 0
    assert f"would write {tmp_path / 'runs' / 'exp1-tiny'} " in capsys.readouterr().out
    assert not (tmp_path / "runs").exists()


# ----------------------------------------------------------------------------- garbled inputs
def _garble_middle_line(path: Path) -> int:
    """Join line 2 of a metrics.jsonl to line 3 (a lost newline); returns the line number."""
    lines = path.read_text().split("\n")
    assert len(lines) > 4
    lines[1] += lines.pop(2)
    path.write_text("\n".join(lines))
    return 2


def test_rerun_over_a_garbled_metrics_line_changes_nothing(experiment, capsys):
    (metrics,) = sorted((experiment / "runs").glob("*/metrics.jsonl"))
    line = _garble_middle_line(metrics)
    before = files_under(experiment)
    assert any("analysis/" in name for name in before) and "summary.json" in before
    argv = ["experiment", "exp1-tiny", *FP32, "--out", str(experiment), "--no-progress"]
    refused(capsys, argv, f"{metrics}, line {line}: not a JSON record", "allowed:")
    assert files_under(experiment) == before


def test_a_garbled_checkpoint_of_a_finished_run_changes_nothing(experiment, capsys):
    ckpt = sorted((experiment / "runs").glob("*/checkpoints/epoch-*.pt"))[0]
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    before = files_under(experiment)
    argv = ["experiment", "exp1-tiny", *FP32, "--out", str(experiment), "--no-progress"]
    refused(capsys, argv, str(ckpt), "not a readable factordiff checkpoint")
    assert files_under(experiment) == before


def _unfinished_run_with_a_garbled_line(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "state.json").write_text('{"finished": false, "epoch": 1, "step": 4}\n')
    metrics = run_dir / "metrics.jsonl"
    metrics.write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "loss": 0.9}{"step": 3}\n')
    return metrics


def test_reproduce_refuses_a_garbled_run_before_writing(tmp_path, capsys):
    out = tmp_path / "r"
    ((run,),) = [p.runs for p in plan_reproduce("tiny", out, ["exp1"])]
    metrics = _unfinished_run_with_a_garbled_line(run.dir)
    before = files_under(out)
    argv = ["reproduce", "--scale", "tiny", "--only", "exp1", "--out", str(out), "--no-progress"]
    refused(capsys, argv, f"{metrics}, line 2: not a JSON record")
    assert files_under(out) == before and not (out / "reproduce.json").exists()


def test_variants_refuse_a_garbled_run_before_writing(tmp_path, capsys):
    out = tmp_path / "v"
    exp = EXPERIMENTS["exp1"]
    cfg = variant_configs(exp, "exp1-quick", ["k1"], overrides=FP32[1:])["k1"]
    run = plan_sweep(out / "k1", exp.runs(cfg))[0]  # the first of the preset's seeds
    metrics = _unfinished_run_with_a_garbled_line(run.dir)
    before = files_under(out)
    argv = ["experiment", "exp1-quick", "--variant", "k1", *FP32, "--out", str(out)]
    refused(capsys, argv, f"{metrics}, line 2: not a JSON record")
    assert files_under(out) == before


# ----------------------------------------------------------------------------- progress
class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_line_progress_into_a_file_is_a_few_plain_lines():
    stream, clock = io.StringIO(), Clock()
    bar = LineProgress(total=1500, desc="quick", unit="steps", file=stream, clock=clock)
    for _ in range(1500):
        clock.t += 0.01  # 15 s in all: only the 10% steps print
        bar.update(1)
        bar.set_postfix(loss="0.1234")
    bar.close()
    text = stream.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and len(lines) == 10
    assert lines[0].startswith("quick: 150/1,500 steps (10%), 2 s elapsed, about 14 s left")
    assert lines[0].endswith("; loss=0.1234")
    assert lines[-1].startswith("quick: 1,500/1,500 steps (100%), 15 s elapsed")


def test_line_progress_prints_once_a_minute_between_tenths():
    stream, clock = io.StringIO(), Clock()
    bar = LineProgress(total=10_000, desc="slow", file=stream, clock=clock, every_seconds=60)
    for _ in range(500):  # 5% in 500 minutes: a line a minute, no tenth crossed
        clock.t += 60
        bar.update(1)
    bar.close()
    assert len(stream.getvalue().splitlines()) == 500  # the last one is not repeated


def test_progress_bar_over_an_iterable_and_a_resumed_total():
    stream = io.StringIO()
    assert list(progress_bar(range(7), desc="ckpts", file=stream)) == list(range(7))
    assert stream.getvalue().splitlines()[-1].startswith("ckpts: 7/7 it (100%)")
    stream = io.StringIO()
    bar = progress_bar(total=100, initial=90, desc="run", file=stream)
    bar.update(10)
    bar.close()
    assert stream.getvalue().count("\n") == 1  # the 100% line, not repeated by close()
    assert stream.getvalue().startswith("run: 100/100 it (100%)")


def test_progress_bar_on_a_terminal_is_tqdm():
    from tqdm.std import tqdm as std

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = progress_bar(total=5, desc="tty", file=stream)
    assert isinstance(bar, std)
    for _ in range(5):
        bar.update(1)
    bar.close()
    assert "\r" in stream.getvalue()
    assert progress_bar(total=5, disable=True).disable  # disabled: a silent tqdm


def test_training_progress_into_a_log_is_plain_lines(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--out", str(out), "--set", "train.precision=fp32"]
    assert main([*argv, "--set", "train.eval_every_epochs=0"]) == 0
    err = capsys.readouterr().err  # pytest's capture is not a terminal
    assert "\r" not in err
    steps = [line for line in err.splitlines() if line.startswith("tiny: ")]
    assert 1 <= len(steps) <= 11 and "(100%)" in steps[-1]
