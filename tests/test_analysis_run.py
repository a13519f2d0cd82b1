"""analyze_run on a run folder, with the training module's two functions faked."""

import json
from pathlib import Path

import numpy as np
import pytest

from factordiff import training
from factordiff.analysis import analyze_run
from test_analysis_activations import TinyDenoiser

EPOCHS = (0, 5, 10)


@pytest.fixture
def architectures():
    """epoch -> model class, to plant a checkpoint of another architecture."""
    return {}


@pytest.fixture
def run(tmp_path, monkeypatch, architectures):
    """A run folder with three checkpoints of a tiny model (weights seeded by epoch)."""
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    cfg = {"data": {"image_size": 8, "periodic": True}, "diffusion": {"num_train_timesteps": 100}}
    (run_dir / "config.json").write_text(json.dumps(cfg))
    for e in EPOCHS:
        (run_dir / "checkpoints" / f"epoch-{e:05d}.pt").write_text("fake")

    def list_checkpoints(path):
        return sorted(Path(path, "checkpoints").glob("epoch-*.pt"))

    def load_model(path, ema=True, map_location="cpu"):
        epoch = int(Path(path).stem.split("-")[1])
        model = architectures.get(epoch, TinyDenoiser)(seed=epoch)
        meta = {"epoch": epoch, "step": 10 * epoch, "accuracy": None if epoch == 0 else epoch / 10}
        return model, None, meta

    monkeypatch.setattr(training, "list_checkpoints", list_checkpoints)
    monkeypatch.setattr(training, "load_model", load_model)
    return run_dir


FAST = {"grid": 8, "umap_dims": (), "n_landmarks": 64, "figures": False}


def test_all_checkpoints_write_arrays_figures_and_summaries(run):
    summary = analyze_run(run, "all", **(FAST | {"figures": True}))
    out = run / "analysis" / "encoder_t99_flatten"  # default layer, t = T - 1
    assert summary["out"] == str(out)
    assert sorted(p.name for p in out.iterdir()) == [
        "epoch-00000",
        "epoch-00005",
        "epoch-00010",
        "references.npz",
        "summary.json",
        "training_curve.png",
    ]
    assert [c["epoch"] for c in summary["checkpoints"]] == list(EPOCHS)
    assert [c["accuracy"] for c in summary["checkpoints"]] == [None, 0.5, 1.0]
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert (settings["layer"], settings["t"], settings["pooling"], settings["seed"]) == (
        "encoder",
        99,
        "flatten",
        0,
    )
    folder = out / "epoch-00005"
    assert sorted(p.name for p in folder.iterdir()) == [
        "arrays.npz",
        "factorization.png",
        "persistence.png",
        "spectrum.png",
        "summary.json",
    ]
    entry = json.loads((folder / "summary.json").read_text())
    model = entry["model"]
    assert model["metadata"]["layer"] == "encoder" and model["metadata"]["epoch"] == 5
    assert model["effective_dimension"] > 1 and len(model["betti"]) == 3
    assert {"orthogonality_xy", "parallelism_xx", "parallelism_yy"} <= set(model["factorization"])
    # the ideal tori go through the same pipeline, beside the model
    refs = entry["references"]
    assert refs["clifford_torus"]["factorization"]["orthogonal"] is True
    assert refs["ring_torus"]["factorization"]["orthogonal"] is False
    with np.load(folder / "arrays.npz") as f:
        assert f["X"].shape == (64, 8 * 4 * 4) and f["labels"].shape == (64, 2)
        assert {"similarity_xy", "dgm_h1", "explained_variance_ratio"} <= set(f.files)
    with np.load(out / "references.npz") as f:
        assert f["clifford_torus/X"].shape == (64, 4) and f["ring_torus/X"].shape == (64, 3)


def test_figures_of_the_last_checkpoint_only(run):
    analyze_run(run, "all", out=run / "a", **(FAST | {"figures": "last"}))
    out = run / "a"
    pngs = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert pngs == [
        "epoch-00010/factorization.png",
        "epoch-00010/persistence.png",
        "epoch-00010/spectrum.png",
        "training_curve.png",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["figures"] == "last"
    entries = [json.loads((out / f"epoch-{e:05d}" / "summary.json").read_text()) for e in EPOCHS]
    assert [len(e["figures"]) for e in entries] == [0, 0, 3]


def test_checkpoint_selection(run):
    s = analyze_run(run, "last", layer="block", t=3, out=run / "a", **FAST)
    assert [c["epoch"] for c in s["checkpoints"]] == [10]
    assert not (run / "a" / "training_curve.png").exists()
    s = analyze_run(run, "10,0", out=run / "b", **FAST)
    assert [c["epoch"] for c in s["checkpoints"]] == [0, 10]
    s = analyze_run(run, [5], out=run / "c", **FAST)
    assert [c["epoch"] for c in s["checkpoints"]] == [5]


def _leftovers(run):
    folder = run / "analysis"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_bad_input_is_a_clear_error_and_writes_nothing(run):
    with pytest.raises(
        ValueError, match=r"no checkpoint for epoch\(s\) \[7\]; available epochs: \[0, 5, 10\]"
    ):
        analyze_run(run, [7], **FAST)
    with pytest.raises(ValueError, match="available layers: embed, conv_in, encoder"):
        analyze_run(run, layer="decoder", **FAST)
    with pytest.raises(ValueError, match="grid 3 x 3 is too small"):
        analyze_run(run, grid=3, umap_dims=())
    with pytest.raises(ValueError, match="t = 100 is invalid"):
        analyze_run(run, t=100, **FAST)
    with pytest.raises(ValueError, match="checkpoints = 'first'"):
        analyze_run(run, "first", **FAST)
    with pytest.raises(ValueError, match="pooling = 'avg'"):
        analyze_run(run, pooling="avg", **FAST)
    with pytest.raises(ValueError, match=r"figures = 'first'; allowed: True, False or 'last'"):
        analyze_run(run, **(FAST | {"figures": "first"}))
    with pytest.raises(ValueError, match=r"figures = 1; allowed"):
        analyze_run(run, **(FAST | {"figures": 1}))
    assert not (run / "analysis").exists()


def test_failure_in_the_middle_removes_everything_it_wrote(run, architectures):
    class Broken(TinyDenoiser):
        def forward(self, x_t, t, labels):
            raise RuntimeError("boom")

    architectures[5] = Broken
    with pytest.raises(RuntimeError, match="boom"):
        analyze_run(run, "all", **FAST)
    assert not (run / "analysis").exists()


def test_other_architecture_midway_leaves_the_previous_result_intact(run, architectures):
    analyze_run(run, "all", **FAST)
    out = run / "analysis" / "encoder_t99_flatten"
    before = (out / "summary.json").read_text()

    class Wider(TinyDenoiser):
        def __init__(self, seed=0):
            super().__init__(channels=16, seed=seed)

    architectures[10] = Wider  # the last checkpoint has another architecture
    with pytest.raises(ValueError, match="epoch-00010.pt: layer 'encoder' gives 256 values"):
        analyze_run(run, "all", **FAST)
    assert _leftovers(run) == ["encoder_t99_flatten"]  # no temporary folder left behind
    assert (out / "summary.json").read_text() == before

    class Renamed(TinyDenoiser):
        def __init__(self, seed=0):
            super().__init__(seed=seed)
            self.trunk = self.encoder
            del self.encoder

        def forward(self, x_t, t, labels):
            raise AssertionError("not reached: the layer check comes first")

    architectures[10] = Renamed
    with pytest.raises(ValueError, match="layer 'encoder' is not a submodule.*trunk"):
        analyze_run(run, "all", **FAST)
    assert _leftovers(run) == ["encoder_t99_flatten"]


@pytest.mark.slow
def test_umap_figures(run):
    analyze_run(run, "last", grid=8, n_landmarks=64, out=run / "u")
    names = {p.name for p in (run / "u" / "epoch-00010").iterdir()}
    assert {"umap_2d.png", "umap_3d.png"} <= names
    with np.load(run / "u" / "epoch-00010" / "arrays.npz") as f:
        assert f["umap_2d"].shape == (64, 2) and f["umap_3d"].shape == (64, 3)


@pytest.mark.slow
def test_real_tiny_run_end_to_end(tmp_path):
    """Train the 'tiny' preset with the real training module, then analyse every checkpoint."""
    from factordiff.presets import preset_config

    run_dir = tmp_path / "run"
    training.train(preset_config("tiny"), run_dir, progress=False)
    summary = analyze_run(run_dir, "all", grid=8, umap_dims=(), device="cpu")
    epochs = [c["epoch"] for c in summary["checkpoints"]]
    assert epochs == [int(p.stem.split("-")[1]) for p in training.list_checkpoints(run_dir)]
    out = Path(summary["out"])
    assert out.parent == run_dir / "analysis" and (out / "training_curve.png").is_file()
    model = summary["checkpoints"][-1]["summary"]
    assert model["metadata"]["layer"].startswith("unet.down_blocks")  # the model's default
    assert model["effective_dimension"] > 0
