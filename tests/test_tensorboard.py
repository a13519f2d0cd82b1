"""The optional TensorBoard sink (factordiff.sinks): event files that equal metrics.jsonl, a
sample grid per evaluation, the export of an existing run, and a clear error without the
package."""

import json
import sys

import pytest

from factordiff import cli
from factordiff.config import apply_overrides
from factordiff.presets import preset_config
from factordiff.sinks import (
    INSTALL_HINT,
    SAMPLES_TAG,
    TensorBoardMissing,
    export_tensorboard,
    record_scalars,
)
from factordiff.training import train

NEEDS_TB = "tensorboard is not installed (pip install -e '.[tensorboard]'; .ci/run installs it)"


def _require_tb():
    pytest.importorskip("tensorboard", reason=NEEDS_TB)


def tiny_cfg(**over):
    over = {"train.precision": "fp32", **over}
    return apply_overrides(preset_config("tiny"), [f"{k}={v}" for k, v in over.items()])


def _events(log_dir):
    """``(scalars {tag: [(step, value)]}, images {tag: [(step, width, height)]})`` read back
    with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in tags["scalars"]}
    images = {t: [(e.step, e.width, e.height) for e in acc.Images(t)] for t in tags["images"]}
    return scalars, images


def _expected(run):
    """``{tag: [(step, value)]}`` from the lines of the run's metrics.jsonl, in order."""
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        for tag, value in record_scalars(rec).items():
            out.setdefault(tag, []).append((rec["step"], value))
    return out


def _assert_same(scalars, expected):
    assert set(scalars) == set(expected)
    for tag, points in expected.items():
        got = scalars[tag]
        assert [s for s, _ in got] == [s for s, _ in points], tag
        # event files hold float32
        assert [v for _, v in got] == pytest.approx([v for _, v in points], rel=1e-6), tag


@pytest.fixture(scope="module")
def sink_run(tmp_path_factory):
    _require_tb()
    run = tmp_path_factory.mktemp("tb") / "run"
    train(tiny_cfg(), run, progress=False, tensorboard=True)
    return run


def test_events_equal_metrics_with_a_sample_grid_per_evaluation(sink_run):
    scalars, images = _events(sink_run / "tensorboard")
    expected = _expected(sink_run)
    _assert_same(scalars, expected)
    records = [json.loads(s) for s in (sink_run / "metrics.jsonl").read_text().splitlines()]
    train_recs = [r for r in records if "loss" in r]
    assert [s for s, _ in scalars["train/loss"]] == [r["step"] for r in train_recs]
    assert [v for _, v in scalars["train/lr"]] == pytest.approx([r["lr"] for r in train_recs])
    assert {"train/images_per_s", "eval/accuracy", "eval/x_accuracy"} <= set(scalars)
    eval_steps = [r["step"] for r in records if "eval/accuracy" in r]
    assert eval_steps == [0, 8, 16]  # epochs 0, 2, 4 of 4 steps each
    assert [s for s, _, _ in images[SAMPLES_TAG]] == eval_steps
    assert all(w > 100 and h > 100 for _, w, h in images[SAMPLES_TAG])


def test_resumed_run_hides_the_replayed_events(tmp_path):
    _require_tb()

    class Stop(Exception):
        pass

    def stop_at_epoch_2(rec):  # after epoch 2's records and grid, before its checkpoint
        if rec["epoch"] == 2:
            raise Stop

    run = tmp_path / "run"
    with pytest.raises(Stop):
        train(tiny_cfg(), run, progress=False, tensorboard=True, on_eval=stop_at_epoch_2)
    train(tiny_cfg(), run, progress=False, tensorboard=True)  # resumes from epoch 1, step 4
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 2
    scalars, images = _events(run / "tensorboard")
    # one point per step and tag (the first session's steps 5-8 hidden), each the value the
    # final metrics.jsonl holds (images/s and times differ between the two sessions)
    _assert_same(scalars, _expected(run))
    assert [s for s, _, _ in images[SAMPLES_TAG]] == [0, 8, 16]


def test_export_of_an_existing_run(sink_run, tmp_path):
    out = export_tensorboard(sink_run, tmp_path / "exported")
    scalars, images = _events(out)
    _assert_same(scalars, _expected(sink_run))
    assert images == {}  # a run keeps no samples of its evaluations
    # the run's own event folder holds the live sink's files: refused, then replaced on force
    with pytest.raises(ValueError, match=r"already holds 1 TensorBoard event file.*force"):
        export_tensorboard(sink_run)
    with pytest.raises(ValueError, match="already holds"):
        export_tensorboard(sink_run, out)
    assert export_tensorboard(sink_run, out, force=True) == out
    assert len(list(out.glob("events.out.tfevents.*"))) == 1
    with pytest.raises(FileNotFoundError, match="has no metrics.jsonl"):
        export_tensorboard(tmp_path)


def test_export_command(sink_run, tmp_path, capsys):
    from factordiff.sinks import main

    _require_tb()
    assert main([str(sink_run), "--out", str(tmp_path / "tb")]) == 0
    assert "wrote TensorBoard events to" in capsys.readouterr().out
    assert main([str(sink_run), "--out", str(tmp_path / "tb")]) == 2
    assert "--force" in capsys.readouterr().err


def test_missing_tensorboard_is_one_clear_error_before_anything_is_written(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` fails
    run = tmp_path / "run"
    with pytest.raises(TensorBoardMissing, match=r"pip install -e \"\.\[tensorboard\]\""):
        train(tiny_cfg(), run, progress=False, tensorboard=True)
    assert not run.exists()
    argv = ["train", "--preset", "tiny", "--out", str(run), "--no-progress", "--tensorboard"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and INSTALL_HINT in err and "Traceback" not in err
    assert not run.exists()
    with pytest.raises(ImportError, match="not installed"):  # an ImportError to Python callers
        export_tensorboard(tmp_path)


def test_force_clears_the_old_events_with_the_run(sink_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(sink_run, run)
    assert list((run / "tensorboard").glob("events.*"))
    train(
        tiny_cfg(**{"train.epochs": 2, "train.checkpoint_epochs": "[0,2]"}),
        run,
        force=True,
        progress=False,
    )
    assert not (run / "tensorboard").exists()  # retrained without the sink: no old events
