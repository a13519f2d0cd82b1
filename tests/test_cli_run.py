import json

import numpy as np
import pytest

from factordiff.cli import main
from factordiff.data import build_regions
from factordiff.evaluation import per_region, score
from factordiff.training import read_run_config


def test_train_sample_evaluate_end_to_end(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(["train", "--preset", "tiny", "--out", str(run), "--no-progress", "--evaluate"]) == 0
    )
    for name in ("config.json", "metrics.jsonl", "train.log", "state.json"):
        assert (run / name).is_file(), name
    assert (run / "checkpoints" / "epoch-00004.pt").is_file()
    ev = json.loads((run / "eval" / "evaluation.json").read_text())
    assert {"overall", "regions", "num_samples"} <= set(ev)
    assert ev["epoch"] == 4 and ev["checkpoint"].endswith("epoch-00004.pt")
    assert "evaluated epoch 4 (" in capsys.readouterr().out
    # the reported numbers are those of the saved samples, rescored independently
    z = np.load(run / "eval" / "samples.npz")
    cfg = read_run_config(run)
    assert z["images"].shape == (16, 16, 16) and ev["num_samples"] == 16
    rescored = score(z["images"], z["labels"], cfg.data, tolerance_px=cfg.eval.tolerance_px)
    for key, value in rescored.summary().items():
        assert ev["overall"][key] == pytest.approx(value), key
    regions = per_region(rescored, z["labels"], build_regions(cfg.data))
    assert {k: r["n"] for k, r in ev["regions"].items()} == {k: r["n"] for k, r in regions.items()}
    assert (run / "eval" / "samples.png").stat().st_size > 1000

    assert (
        main(["sample", str(run), "--labels", "3.5,4.5;10,12", "--out", str(tmp_path / "s")]) == 0
    )
    z = np.load(tmp_path / "s" / "samples.npz")
    assert z["images"].shape == (2, 16, 16)
    np.testing.assert_allclose(z["labels"], [[3.5, 4.5], [10, 12]])
    assert (tmp_path / "s" / "samples.png").is_file()

    # the same command again: the run is finished, so it refuses without --force
    assert main(["train", "--preset", "tiny", "--out", str(run), "--no-progress"]) == 2
    assert "finished" in capsys.readouterr().err

    assert main(["evaluate", str(run), "--num-samples", "8"]) == 0


def test_bad_input_leaves_no_run_folder(tmp_path, capsys):
    run = tmp_path / "bad"
    assert main(["train", "--preset", "nope", "--out", str(run)]) == 2
    assert "valid presets" in capsys.readouterr().err
    assert main(["train", "--preset", "tiny", "--out", str(run), "--set", "train.nope=1"]) == 2
    assert "valid keys of train" in capsys.readouterr().err
    assert main(["train", "--preset", "tiny", "--out", str(run), "--set", "train.lr=fast"]) == 2
    assert "train.lr" in capsys.readouterr().err
    assert main(["train", "--preset", "tiny", "--out", str(run), "--set", "data.sigma_x=-1"]) == 2
    assert "sigma_x" in capsys.readouterr().err
    assert not run.exists()
    assert main(["sample", str(tmp_path / "missing"), "--labels", "1,2"]) == 2
    assert main(["sample", str(tmp_path / "missing"), "--labels", "1;2"]) == 2


def test_dry_run_prints_config(tmp_path, capsys):
    assert main(["train", "--preset", "small", "--dry-run", "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    cfg = json.loads(out[: out.rindex("}") + 1])
    assert cfg["name"] == "small" and cfg["data"]["image_size"] == 32
    assert not (tmp_path / "d").exists()


def test_list_shows_presets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "small" in out and "paper" in out and "expected:" in out
    for name in ("exp1-quick", "exp2-quick", "exp3-quick", "percolation-quick", "exp3"):
        assert f"  {name} " in out  # the experiment presets too


def test_console_output_is_line_buffered_into_a_file(tmp_path):
    """Progress lines of a long run reach `nohup factordiff ... > log` as they are printed."""
    import subprocess
    import sys

    code = (
        "import sys; from factordiff.cli import main; main(['list']); "
        "sys.stderr.write(str(sys.stdout.line_buffering))"
    )
    with open(tmp_path / "out.txt", "w") as f:
        done = subprocess.run([sys.executable, "-c", code], stdout=f, stderr=subprocess.PIPE)
    assert done.returncode == 0 and done.stderr.decode().strip() == "True"
    assert "exp1-quick" in (tmp_path / "out.txt").read_text()
