"""The notebook API (``fd.load_run``, ``fd.open_experiment``) and ``--config FILE`` (TOML)
beside ``--set``: a loaded run samples what ``factordiff sample`` samples, an experiment
folder reads as tables (the committed ``docs/results/exp1-5seeds`` and a tiny experiment run
here through ``--config``), and a bad config file is one ``error:`` line naming the file and
the key, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import factordiff as fd
from factordiff.cli import main
from factordiff.config import RunConfig
from factordiff.diffusion import GaussianDiffusion
from factordiff.runs import final_checkpoint, sample_run
from refusal import refused, snapshot

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "docs" / "results" / "exp1-5seeds"
LABELS = [[3.5, 4.5], [10.0, 12.0], [0.0, 16.0]]  # inside the tiny run's label range [0, 16]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- load_run
def test_load_run_samples_what_sample_run_samples(trained_run, tmp_path):
    run = fd.load_run(trained_run)
    assert run.checkpoint == final_checkpoint(trained_run) and run.epoch == 4 and run.step > 0
    assert run.config == RunConfig.from_json((trained_run / "config.json").read_text())
    assert run.config.train.precision == "fp32" and run.ema and not run.model.training
    assert isinstance(run.diffusion, GaussianDiffusion)
    assert next(run.model.parameters()).device == run.device
    images = run.sample(LABELS, seed=7)
    assert images.shape == (3, 1, 16, 16) and images.device.type == "cpu"
    out = sample_run(trained_run, torch.tensor(LABELS), out=tmp_path / "s", seed=7)
    expected = np.load(out["npz"])["images"]
    np.testing.assert_array_equal(images[:, 0].numpy(), expected)
    # per-label seeds: label k's image does not depend on the batch around it
    np.testing.assert_array_equal(run.sample(LABELS[1:], seed=8)[:, 0].numpy(), expected[1:])
    scores = run.score(images, LABELS).summary()
    assert scores["n"] == 3 and 0.0 <= scores["accuracy"] <= 1.0


def test_load_run_picks_a_checkpoint_and_the_raw_weights(trained_run):
    by_epoch = fd.load_run(trained_run, checkpoint=2, ema=False, device="cpu")
    by_name = fd.load_run(trained_run, checkpoint="epoch-00002.pt", ema=False, device="cpu")
    assert by_epoch.epoch == by_name.epoch == 2 and by_epoch.checkpoint == by_name.checkpoint
    ema = fd.load_run(trained_run, checkpoint=2)
    raw, avg = by_epoch.model.state_dict(), ema.model.state_dict()
    assert any(not torch.equal(raw[k], avg[k]) for k in raw)


def test_load_run_refuses_bad_input_by_name(trained_run, tmp_path):
    missing = tmp_path / "no-such-run"
    with pytest.raises(FileNotFoundError, match="run folder .*no-such-run does not exist"):
        fd.load_run(missing)
    with pytest.raises(ValueError, match=r"checkpoint = 3 is invalid.*\[0, 2, 4\]"):
        fd.load_run(trained_run, checkpoint=3)
    run = fd.load_run(trained_run)
    with pytest.raises(ValueError, match="num_steps = 0 is invalid"):
        run.sample(LABELS, num_steps=0)
    with pytest.raises(ValueError, match="seed = -1 is invalid"):
        run.sample(LABELS, seed=-1)
    with pytest.raises(ValueError, match=r"label \(40, 1\) is outside the run's label range"):
        run.sample([[40.0, 1.0]])


# ----------------------------------------------------------------------------- open_experiment
def test_open_experiment_reads_the_committed_folder():
    exp = fd.open_experiment(COMMITTED)
    summary = json.loads((COMMITTED / "summary.json").read_text())
    assert exp.name == "exp1-quick" and exp.summary == summary
    assert exp.config == json.loads((COMMITTED / "experiment.json").read_text())
    assert list(exp.verdicts.columns)[:5] == ["claim", "verdict", "value", "rule", "paper"]
    assert list(exp.verdicts["claim"]) == [v["claim"] for v in summary["verdicts"]]
    assert list(exp.verdicts["verdict"]) == [v["verdict"] for v in summary["verdicts"]]
    assert exp.verdicts["seeds"].iloc[0] == [0, 1, 2, 3, 4]
    first = summary["verdicts"][0]["judgements"]
    assert exp.verdicts["intervals"].iloc[0] == [j["interval"] for j in first]
    assert isinstance(exp.results, pd.DataFrame) and len(exp.results) == 5
    assert set(exp.tables) == {"map"} and len(exp.tables["map"]) > 100
    assert [r.key for r in exp.runs] == list(exp.results["key"])
    assert [r.params for r in exp.runs] == [{"seed": s} for s in range(5)]
    assert {"pca_3d", "map_orthogonal"} <= set(exp.figures)
    assert all(p.is_file() for p in exp.figures.values())
    assert exp.report == COMMITTED / "report.md"
    assert "4 not reproduced, 1 inconclusive" in repr(exp) and "0 on disk" in repr(exp)
    # the committed copy keeps no run folders: loading one names the missing folder
    assert not any(r.exists for r in exp.runs)
    missing = str(COMMITTED / "runs" / exp.runs[0].key)
    with pytest.raises(FileNotFoundError, match=f"run folder {missing} does not exist"):
        exp.runs[0].load()
    with pytest.raises(FileNotFoundError, match=f"run folder {missing} does not exist"):
        fd.load_run(exp.runs[0])


def test_open_experiment_refuses_a_folder_that_is_not_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="experiment folder .*nowhere does not exist"):
        fd.open_experiment(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="holds no summary.json"):
        fd.open_experiment(tmp_path)
    write(tmp_path / "summary.json", '{"experiment": "exp1"}')
    with pytest.raises(ValueError, match="summary.json holds no list of verdicts"):
        fd.open_experiment(tmp_path)


def test_open_experiment_on_a_tiny_experiment_loads_its_runs(exp1_tiny_finished):
    folder = exp1_tiny_finished
    exp = fd.open_experiment(folder)
    assert exp.name == "exp1-tiny" and exp.report == folder / "report.md"
    assert exp.config["run"]["train"]["precision"] == "fp32"
    assert list(exp.verdicts["verdict"]) == ["inconclusive"] * 5  # one seed of the five
    assert len(exp.runs) == 1 and exp.runs[0].params == {"seed": 0} and exp.runs[0].exists
    assert exp.runs[0].dir == folder / "runs" / exp.runs[0].key
    assert list(exp.results["key"]) == [exp.runs[0].key]
    assert set(exp.tables) == {"map"} and len(exp.tables["map"]) > 0  # the sensitivity map
    assert {"pca_3d", "factorization"} <= set(exp.figures)
    run = exp.runs[0].load(device="cpu")
    assert run.config.seed == 0 and run.epoch == 3
    images = run.sample(LABELS[:2], num_steps=5)  # periodic data: labels in [0, 16)
    assert images.shape == (2, 1, 16, 16) and torch.isfinite(images).all()
    assert fd.load_run(exp.runs[0]).checkpoint == run.checkpoint


# ----------------------------------------------------------------------------- --config
def test_train_config_file_is_applied_and_set_wins(tmp_path, capsys):
    config = write(
        tmp_path / "run.toml",
        "seed = 3\n[train]\nlr = 1e-3\nepochs = 5\ncheckpoint_epochs = [0, 2]\n"
        "[model]\nblock_out_channels = [8, 16]\n",
    )
    argv = ["train", "--preset", "tiny", "--config", str(config), "--dry-run"]
    assert main([*argv, "--set", "train.epochs=7", "--seed", "4"]) == 0
    cfg = json.loads(capsys.readouterr().out.split("\n(dry run")[0])
    assert cfg["train"]["lr"] == 1e-3 and cfg["train"]["checkpoint_epochs"] == [0, 2]
    assert cfg["model"]["block_out_channels"] == [8, 16]
    assert cfg["train"]["epochs"] == 7 and cfg["seed"] == 4  # the command line wins
    # a check across fields that --set settles: checkpoints past the preset's 4 epochs
    late = write(tmp_path / "late.toml", "[train]\ncheckpoint_epochs = [0, 6]\n")
    argv = ["train", "--preset", "tiny", "--config", str(late), "--dry-run"]
    assert main([*argv, "--set", "train.epochs=8"]) == 0
    assert '"checkpoint_epochs": [\n      0,\n      6\n    ]' in capsys.readouterr().out


def test_experiment_config_file_is_applied_and_the_command_line_wins(tmp_path, capsys):
    config = write(
        tmp_path / "exp.toml", "seeds = [0, 1]\ngrid = 12\n[run.train]\nepochs = 4\nlr = 3e-3\n"
    )
    argv = ["experiment", "exp1-tiny", "--config", str(config), "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    cfg = json.loads(out[: out.rindex("}") + 1])
    assert cfg["seeds"] == [0, 1] and cfg["grid"] == 12
    assert cfg["run"]["train"]["epochs"] == 4 and cfg["run"]["train"]["lr"] == 3e-3
    assert main([*argv, "--seeds", "5", "--set", "grid=14"]) == 0
    out = capsys.readouterr().out
    cfg = json.loads(out[: out.rindex("}") + 1])
    assert cfg["seeds"] == [5] and cfg["grid"] == 14 and cfg["run"]["train"]["lr"] == 3e-3


BAD_FILES = [
    ("missing.toml", None, ("missing.toml: no such file",)),
    ("garbled.toml", "[train\nlr = 1\n", ("garbled.toml: not valid TOML", "line 1")),
    ("unknown.toml", "[train]\nlrr = 1e-3\n", ("unknown.toml", "'train.lrr'", "'lr'")),
    ("section.toml", "[trian]\nlr = 1e-3\n", ("section.toml", "'trian'")),
    ("type.toml", "[train]\nlr = 'fast'\n", ("type.toml", "train.lr", "expected a number")),
    ("date.toml", "[train]\nlr = 2024-01-01\n", ("date.toml", "train.lr = 2024-01-01")),
    ("range.toml", "[train]\nepochs = 0\n", ("range.toml", "train.epochs", ">= 1")),
]


@pytest.mark.parametrize(("name", "text", "needles"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_train_config_file_is_refused_before_anything_is_written(
    tmp_path, capsys, monkeypatch, name, text, needles
):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / name if text is None else write(tmp_path / name, text)
    before = snapshot(tmp_path)
    argv = ["train", "--preset", "tiny", "--config", str(config), "--out", str(tmp_path / "r")]
    refused(capsys, argv, "--config", *needles)
    assert main(argv) == 2
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[run.train]\nlrr = 1\n", ("'run.train.lrr'",)),
        ("seeds = 'all'\n", ("seeds", "expected a list")),
        ("grid = 0\n", ("grid",)),
    ],
)
def test_a_bad_experiment_config_file_is_refused_before_anything_is_written(
    tmp_path, capsys, monkeypatch, text, needles
):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path / "exp.toml", text)
    before = snapshot(tmp_path)
    argv = ["experiment", "exp1-tiny", "--config", str(config), "--out", str(tmp_path / "e")]
    refused(capsys, argv, "--config", "exp.toml", *needles)
    assert main([*argv, "--variant", "k1"]) == 2  # variants read the file the same way
    assert snapshot(tmp_path) == before
