"""Bad input to the analysis (issue 25): grid sizes, the map's homology step, a bad checkpoint
among those selected, `--set variant=` on exp1-tiny and labels outside the run's range through
the API. Each is refused with one line naming the value and what is allowed, exits non-zero
and leaves nothing behind (the files under the run / output folder are compared)."""

from __future__ import annotations

from pathlib import Path

import pytest

import factordiff as fd
from factordiff.analysis import ActivationExtractor, analyze_map, analyze_run, condition_grid
from factordiff.analysis import run as analysis_run
from refusal import files_under, refused

MAP = ["--noise", "1", "--no-topology"]  # any of --layers/--ts/--noise makes it a map


# ----------------------------------------------------------------------------- grid
@pytest.mark.parametrize("grid", ["100000", "65", "3", "-1"])
@pytest.mark.parametrize("extra", [[], MAP], ids=["single", "map"])
def test_analyze_refuses_a_grid_outside_its_bounds_and_leaves_nothing(run, capsys, grid, extra):
    before = files_under(run)
    refused(capsys, ["analyze", str(run), "--grid", grid, *extra], f"--grid {grid}", "[4, 64]")
    assert files_under(run) == before  # no analysis/ folder, no .tmp-* folder


def test_api_refuses_a_huge_grid_before_anything(run):
    before = files_under(run)
    for call in (analyze_run, analyze_map):
        with pytest.raises(ValueError, match=r"grid = 100000 is invalid.*\[4, 64\]"):
            call(run, grid=100000)
        with pytest.raises(ValueError, match=r"grid side = 100000 is invalid"):
            call(run, grid=(8, 100000))
    assert files_under(run) == before


@pytest.mark.parametrize(
    ("setting", "needles"),
    [
        ("grid=100000", ("grid = 100000", "[8, 64]")),
        ("grid=65", ("grid = 65", "[8, 64]")),
        ("map_grid=100000", ("map_grid = 100000", "[8, 64]")),
        ("variant=k1", ("--set variant=k1", "--variant NAME", "'k1'")),
    ],
)
def test_experiment_exp1_tiny_refuses_before_any_training(tmp_path, capsys, setting, needles):
    out = tmp_path / "exp"
    argv = ["experiment", "exp1-tiny", "--out", str(out), "--set", setting]
    refused(capsys, [*argv, "--set", "run.train.precision=fp32"], *needles)
    assert files_under(tmp_path) == set()


# ----------------------------------------------------------------------------- homology step
@pytest.mark.parametrize("step", ["0", "-1"])
@pytest.mark.parametrize("extra", [[], ["--noise", "1"]], ids=["single", "map"])
def test_analyze_refuses_a_homology_step_below_1_and_leaves_nothing(run, capsys, step, extra):
    before = files_under(run)
    argv = ["analyze", str(run), "--grid", "8", "--homology-step", step, *extra]
    refused(capsys, argv, f"--homology-step {step}", ">= 1")
    assert files_under(run) == before


def test_api_map_refuses_homology_step_0_before_anything(run):
    before = files_under(run)
    with pytest.raises(ValueError, match=r"homology_step = 0 is invalid; allowed: an integer >= 1"):
        analyze_map(run, grid=8, topology=True, homology_step=0, n_noises=1, ts=[99])
    assert files_under(run) == before


# ----------------------------------------------------------------------------- checkpoints
def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("extra", [[], ["--noise", "1", "--no-control"]], ids=["single", "map"])
def test_analyze_all_checks_every_checkpoint_before_analysing_any(run, capsys, monkeypatch, extra):
    bad = run / "checkpoints" / "epoch-00004.pt"  # the newest
    truncate(bad)
    before = files_under(run)

    def no_analysis(*args, **kwargs):  # nothing may be extracted before the check
        raise AssertionError("a checkpoint was analysed before every one was checked")

    monkeypatch.setattr(ActivationExtractor, "extract_many", no_analysis)
    argv = ["analyze", str(run), "--checkpoints", "all", "--grid", "8", "--no-topology", *extra]
    refused(capsys, argv, str(bad), "truncated or corrupt")
    assert files_under(run) == before


def test_analyze_all_names_a_garbled_checkpoint(run, capsys):
    bad = run / "checkpoints" / "epoch-00002.pt"  # not the newest: "all" reads it too
    bad.write_text("not a checkpoint\n")
    before = files_under(run)
    argv = ["analyze", str(run), "--checkpoints", "all", "--grid", "8", "--no-topology"]
    refused(capsys, argv, str(bad))
    assert files_under(run) == before


def test_a_failure_inside_the_analysis_removes_its_temporary_folder(run, monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("boom")

    before = files_under(run)
    monkeypatch.setattr(analysis_run, "reference_representations", fail)
    with pytest.raises(ValueError, match="boom"):
        analyze_run(run, grid=8, topology=False, umap_dims=(), figures=False)
    assert files_under(run) == before  # neither analysis/ nor a .tmp-* folder


# ----------------------------------------------------------------------------- API labels
def test_extract_refuses_labels_outside_the_run_range_as_sample_does(run, capsys):
    model, cfg, _ = fd.load_model(fd.list_checkpoints(run)[-1])
    assert cfg.data.image_size == 16
    labels, shape = condition_grid(32, 4, 4)  # the README's old snippet, on a 16-px run
    with pytest.raises(ValueError, match=r"outside the run's label range.*\[0, 16\]") as api:
        ActivationExtractor().extract(model, labels, shape)
    # the same check, the same message as `factordiff sample`
    cli = refused(capsys, ["sample", str(run), "--labels", "28,4", "--out", str(run / "s")])
    assert cli.split("allowed:")[1] == str(api.value).split("allowed:")[1]
    assert not (run / "s").exists()


def test_readme_snippet_reads_the_grid_from_the_run(run):
    model, cfg, _ = fd.load_model(fd.list_checkpoints(run)[-1])
    labels, shape = condition_grid(cfg.data.image_size, 4, 4)  # README: 32, 32
    rep = ActivationExtractor().extract(model, labels, shape)
    assert rep.X.shape[0] == 16 and rep.metadata["t"] == cfg.diffusion.num_train_timesteps - 1
