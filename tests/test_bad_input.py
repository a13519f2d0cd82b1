"""Bad input stops with one line naming the value and what is allowed, exits non-zero and
leaves nothing behind: CLI cases through ``main([...])`` in a temp folder, API cases direct."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
import torch

import factordiff as fd
from factordiff.cli import main
from factordiff.config import DataConfig, DiffusionConfig, RunConfig, apply_overrides
from factordiff.diffusion import GaussianDiffusion
from factordiff.model.unet import build_model
from factordiff.paths import check_writable_folder
from factordiff.presets import TINY_MODEL, preset_config
from refusal import files_under, refused


# ----------------------------------------------------------------------------- sample
@pytest.mark.parametrize(
    ("labels", "needles"),
    [
        ("nan,3", ("'nan,3'", "finite")),
        ("inf,3", ("'inf,3'", "finite")),
        ("100,3", ("(100, 3)", "[0, 16]")),
        ("3,-0.5", ("(3, -0.5)", "[0, 16]")),
    ],
)
def test_sample_refuses_bad_labels_and_writes_nothing(run, tmp_path, capsys, labels, needles):
    before = files_under(run)
    out = tmp_path / "s"
    refused(capsys, ["sample", str(run), "--labels", labels, "--out", str(out)], *needles)
    assert not out.exists() and files_under(run) == before


def test_sample_reads_a_negative_label_as_a_value_in_both_spellings(run, tmp_path, capsys):
    out = tmp_path / "s"
    for argv in (["--labels=-5,3"], ["--labels", "-5,3"], ["--labels", "-5,3;2,2"]):
        refused(capsys, ["sample", str(run), *argv, "--out", str(out)], "(-5, 3)", "[0, 16]")
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "needles"),
    [
        (["--steps", "0"], ("num_steps = 0", "1..100")),
        (["--steps", "101"], ("num_steps = 101", "1..100")),
        (["--seed", "-1"], ("seed = -1", ">= 0")),
    ],
)
def test_sample_refuses_bad_steps_and_seed(run, tmp_path, capsys, option, needles):
    out = tmp_path / "s"
    refused(capsys, ["sample", str(run), "--labels", "3,4", "--out", str(out), *option], *needles)
    assert not out.exists()


def test_sample_says_which_epoch_it_used(run, tmp_path, capsys):
    assert main(["sample", str(run), "--labels", "3,4", "--out", str(tmp_path / "s")]) == 0
    assert "from epoch 4, " in capsys.readouterr().out


def test_analyze_says_which_checkpoint_it_used(run, capsys):
    assert main(["analyze", str(run), "--grid", "8", "--no-topology"]) == 0
    assert "epoch 4 (epoch-00004.pt): effective dimension" in capsys.readouterr().out


def test_analyze_figures_of_the_last_checkpoint_or_none(run, capsys):
    base = ["analyze", str(run), "--checkpoints", "all", "--grid", "8", "--no-topology"]
    for choice, drawn in (("last", 1), ("none", 0)):
        out = run / "analysis" / choice
        assert main([*base, "--figures", choice, "--out", str(out)]) == 0
        folders = sorted(out.glob("epoch-*"))
        assert len(folders) > 1
        assert [f for f in folders if list(f.glob("*.png"))] == folders[len(folders) - drawn :]
    capsys.readouterr()  # the progress bars above
    # argparse's own refusal of a choice: its usage, the error, status 2
    assert main([*base, "--figures", "first", "--out", str(run / "analysis" / "first")]) == 2
    assert not (run / "analysis" / "first").exists()
    assert "--figures: invalid choice: 'first' (choose from 'every', 'last', 'none')" in (
        capsys.readouterr().err
    )


# ----------------------------------------------------------------------------- evaluate
def test_evaluate_refuses_zero_samples(run, capsys):
    refused(capsys, ["evaluate", str(run), "--num-samples", "0"], "num_samples = 0", ">= 1")
    assert not (run / "eval").exists()


# ----------------------------------------------------------------------------- train
@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ("data.sigma_x=Infinity", "data.sigma_x = inf"),
        ("data.sigma_y=-Infinity", "data.sigma_y = -inf"),
        ("train.lr=Infinity", "train.lr = inf"),
        ("train.lr=NaN", "train.lr = nan"),
    ],
)
def test_train_refuses_non_finite_numbers(tmp_path, capsys, setting, needle):
    out = tmp_path / "r"
    argv = ["train", "--preset", "tiny", "--out", str(out), "--set", setting]
    refused(capsys, argv, needle, "allowed: a finite number")
    assert not out.exists()


def test_train_refuses_a_file_as_run_folder(tmp_path, capsys):
    f = tmp_path / "f"
    f.write_text("mine")
    refused(capsys, ["train", "--preset", "tiny", "--out", str(f), "--no-progress"], str(f))
    assert f.read_text() == "mine" and files_under(tmp_path) == {"f"}


# ----------------------------------------------------------------------------- unwritable
def test_unwritable_outputs_fail_before_the_work_in_every_command(run, tmp_path, capsys):
    """A path under a regular file cannot be written, whoever runs (root included)."""
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    before = files_under(run)
    bad = blocker / "out"
    refused(capsys, ["train", "--preset", "tiny", "--out", str(bad), "--no-progress"], "blocker")
    refused(capsys, ["sample", str(run), "--labels", "3,4", "--out", str(bad)], "blocker")
    refused(capsys, ["data", "preview", "bump", "--out", str(bad / "g.png")], "blocker")
    refused(
        capsys, ["experiment", "exp1", "--quick", "--out", str(bad), "--no-progress"], "blocker"
    )
    assert files_under(run) == before
    # evaluate and analyze write inside the run: a file where their folder goes
    (run / "eval").write_text("x")
    refused(capsys, ["evaluate", str(run), "--num-samples", "2"], "eval")
    (run / "analysis").write_text("x")
    refused(capsys, ["analyze", str(run), "--grid", "8", "--no-topology"], "analysis")
    assert files_under(run) == before | {"eval", "analysis"}
    assert sorted(os.listdir(tmp_path)) == ["blocker", "run"]


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes into read-only folders; the PermissionError path is tested by mocking",
)
def test_read_only_folder_is_refused(tmp_path, capsys):  # pragma: no cover - not as root
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        refused(capsys, ["data", "preview", "bump", "--out", str(ro / "g.png")], str(ro))
    finally:
        ro.chmod(0o700)


def test_permission_errors_become_one_line(run, tmp_path, capsys, monkeypatch):
    import tempfile

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(kwargs.get("dir")))

    monkeypatch.setattr(tempfile, "TemporaryFile", deny)
    with pytest.raises(PermissionError, match="cannot be written"):
        check_writable_folder(tmp_path / "new" / "deeper")
    out = tmp_path / "s"
    refused(capsys, ["sample", str(run), "--labels", "3,4", "--out", str(out)], "cannot be written")
    assert not out.exists()
    monkeypatch.undo()

    # an OSError raised by the file system itself (no factordiff message) is one line too
    def fail(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/some/where")

    monkeypatch.setattr("factordiff.runs.sample_run", fail)
    refused(capsys, ["sample", str(run), "--labels", "3,4"], "/some/where", "Permission denied")


# ----------------------------------------------------------------------------- data
def test_preview_refuses_a_huge_lattice(tmp_path, capsys):
    out = tmp_path / "g.png"
    argv = ["data", "preview", "bump", "--out", str(out), "--set", "dx=0.001", "--set", "dy=0.001"]
    refused(capsys, argv, "data.dx, data.dy = (0.001, 0.001)", "1,048,576")
    assert not out.exists()


# ----------------------------------------------------------------------------- run files
def test_garbled_config_and_state_are_named(run, capsys):
    train = ["train", "--preset", "tiny", "--out", str(run), "--no-progress"]
    (run / "state.json").write_text('{"finished": tr')
    refused(capsys, train, str(run / "state.json"), "not valid JSON")
    (run / "config.json").write_text("{garbled")
    refused(capsys, train, str(run / "config.json"), "not valid JSON")
    refused(capsys, ["analyze", str(run)], str(run / "config.json"), "not valid JSON")


def test_analyze_reads_config_strictly(run, capsys):
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["image_size"] = "16x"
    (run / "config.json").write_text(json.dumps(cfg))
    refused(capsys, ["analyze", str(run)], str(run / "config.json"), "data.image_size", "'16x'")
    assert not (run / "analysis").exists()


# ----------------------------------------------------------------------------- Python API
@pytest.mark.parametrize(
    ("section", "key", "value", "needle"),
    [
        ("train", "batch_size", 0, "train.batch_size = 0"),
        ("train", "lr", "abc", "train.lr: expected a number, got 'abc'"),
        ("train", "epochs", -3, "train.epochs = -3"),
        ("train", "checkpoint_epochs", (0, 9), "epochs in [0, 4]"),
        ("eval", "num_samples", 0, "eval.num_samples = 0"),
        ("data", "sigma_x", float("nan"), "data.sigma_x = nan"),
        ("model", "dropout", 1.5, "model.dropout = 1.5"),
        ("diffusion", "num_train_timesteps", 1, "diffusion.num_train_timesteps = 1"),
    ],
)
def test_api_train_validates_every_section_before_writing(tmp_path, section, key, value, needle):
    cfg = preset_config("tiny")
    setattr(getattr(cfg, section), key, value)  # mutated after construction
    with pytest.raises(ValueError) as info:
        fd.train(cfg, tmp_path / "r", progress=False)
    assert needle in str(info.value)
    assert not (tmp_path / "r").exists()


def test_run_config_validate_refuses_a_wrong_section_type():
    cfg = dataclasses.replace(preset_config("tiny"), train=None)
    with pytest.raises(ValueError, match="train: expected a mapping for TrainConfig, got None"):
        cfg.validate()
    with pytest.raises(ValueError, match="a finite number"):
        RunConfig.from_json(preset_config("tiny").to_json().replace('"lr": 0.001', '"lr": NaN'))
    with pytest.raises(ValueError, match="sigma_x = inf is invalid"):
        apply_overrides(DataConfig(), ["sigma_x=Infinity"])


def test_diffusion_sample_refuses_bad_labels_and_steps():
    d = GaussianDiffusion(DiffusionConfig(num_train_timesteps=20))
    torch.manual_seed(0)
    model = build_model(TINY_MODEL, DataConfig(image_size=16))
    cases = [
        (torch.zeros(0, 2), {}, r"labels shape \(0, 2\) is invalid; allowed: \(M, 2\)"),
        (torch.zeros(1, 3), {}, r"labels shape \(1, 3\) is invalid"),
        (torch.zeros(4), {}, r"labels shape \(4,\) is invalid"),
        (torch.tensor([[1.0, float("nan")]]), {}, r"labels\[0\] = \[1.0, nan\].*finite"),
        (torch.ones(1, 2), {"num_steps": 5.0}, r"num_steps = 5.0 is invalid; allowed: an integer"),
        (torch.ones(1, 2), {"num_steps": 0}, r"num_steps = 0 .*1..20"),
        (torch.ones(1, 2), {"seed": -1}, r"seed = -1 .*>= 0"),
    ]
    for labels, kwargs, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            d.sample(model, labels, **{"num_steps": 2, **kwargs})
