"""`factordiff analyze RUN --layers ... --ts ...`: the sensitivity map of a tiny trained run."""

import csv
import json
import shutil

import pytest

from factordiff.analysis.nulls import raw_images_summary
from factordiff.analysis.run import analyze_map
from factordiff.cli import main
from factordiff.training import read_run_config


def data_of(run):
    return read_run_config(run).data


TINY_BLOCKS = [
    "unet.down_blocks.0",
    "unet.down_blocks.1",
    "unet.mid_block",
    "unet.up_blocks.0",
    "unet.up_blocks.1",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The `tiny` preset trained for 2 epochs, keeping epochs 0 (the control), 1 and 2."""
    run = tmp_path_factory.mktemp("map") / "run"
    args = ["train", "--preset", "tiny", "--out", str(run), "--no-progress"]
    args += ["--set", "train.epochs=2", "--set", "train.checkpoint_epochs=[0,1]"]
    assert main(args) == 0
    return run


def test_map_over_every_block_writes_one_row_per_setting_and_rule(run, capsys):
    args = ["analyze", str(run), "--layers", "all", "--ts", "99,10", "--pooling", "flatten,mean"]
    args += ["--noise", "1,2", "--grid", "8", "--no-topology"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "epoch 2 (epoch-00002.pt): settings where each rule holds" in out
    with open(run / "analysis" / "map" / "map.csv") as f:
        table = list(csv.DictReader(f))
    settings = 5 * 2 * 2 * 2  # blocks x t x poolings x noise counts
    assert len(table) == settings * 3  # orthogonal, parallel, superfactored
    assert {r["layer"] for r in table} == set(TINY_BLOCKS)
    assert {r["t"] for r in table} == {"99", "10"} and {r["n_noise"] for r in table} == {"1", "2"}
    for r in table:
        assert r["reproduced"] == str(r["passes"] == "True" and r["control_passes"] == "False")
    # the second null, the raw images of the same 8 x 8 grid: columns per setting and rule
    assert "... and the trained model is nearer the claim than the raw images" in out
    raw = raw_images_summary(data_of(run), 8, topology=False)
    for r in table:
        if r["rule"] == "parallel":  # not a claim of the paper: the null does not apply
            assert r["beyond_raw"] == r["holds_both"] == ""
            continue
        raw_value = json.loads(r["raw_value"])
        value = json.loads(r["value"])
        expected = (
            value < raw_value
            if r["rule"] == "orthogonal"
            else all(a < b for a, b in zip(value, raw_value, strict=True))
        )
        assert r["beyond_raw"] == str(expected), r
        assert r["holds_both"] == str(expected and r["reproduced"] == "True")
    ortho = {r["raw_value"] for r in table if r["rule"] == "orthogonal"}
    assert len(ortho) == 1  # one raw-images value for every setting
    assert json.loads(ortho.pop()) == pytest.approx(raw["factorization"]["orthogonality_xy"])
    m = json.loads((run / "analysis" / "map" / "map.json").read_text())
    counts = m["checkpoints"][-1]["raw"]["orthogonal"]
    assert counts["applies"] and counts["holds_both"] == sum(
        r["holds_both"] == "True" for r in table if r["rule"] == "orthogonal" and r["epoch"] == "2"
    )
    assert not m["checkpoints"][-1]["raw"]["parallel"]["applies"]
    assert m["settings"]["layers"] == TINY_BLOCKS and m["settings"]["control"] == "epoch-00000.pt"
    ck = m["checkpoints"][-1]
    assert len(ck["rows"]) == settings and ck["counts"]["orthogonal"]["settings"] == settings
    # two layers, persistent homology on every other condition: b1_is_2 joins the rules
    args = ["analyze", str(run), "--layers", "unet.mid_block,unet.up_blocks.1", "--ts", "50"]
    args += ["--grid", "8", "--homology-step", "2", "--checkpoints", "1,2"]
    assert main(args) == 0
    m = json.loads((run / "analysis" / "map" / "map.json").read_text())
    assert [c["epoch"] for c in m["checkpoints"]] == [1, 2]
    assert m["settings"]["homology_points"] == 16
    assert set(m["checkpoints"][0]["counts"]) == {
        "orthogonal",
        "parallel",
        "superfactored",
        "b1_is_2",
    }
    rows = m["checkpoints"][0]["rows"]
    assert len(rows) == 2 and all(len(r["betti"]) == 2 for r in rows)  # H0 and H1


def test_map_errors_name_the_value_and_write_nothing(run, capsys):
    base = ["analyze", str(run), "--grid", "8", "--no-topology", "--out"]
    for extra, message in (
        (["--layers", "unet.mid_block,unet.nope"], "layer 'unet.nope' is not a submodule"),
        (["--ts", "99,100"], "t = 100 is invalid for a model trained with T = 100"),
        (["--ts", "99,x"], "ts = '99,x' is invalid"),
        (["--pooling", "flatten,sum"], "pooling = 'sum' is invalid"),
        (["--noise", "1,0"], "n_noise"),
        (["--layers", "all", "--layer", "unet.mid_block"], "--layer and --layers are exclusive"),
        (["--ts", "99,10", "--figures", "last"], "--figures applies to the single analysis"),
    ):
        target = run / "analysis" / "bad"
        assert main(base[:-1] + extra + ["--out", str(target)]) == 2, extra
        err = capsys.readouterr().err
        assert message in err, (extra, err)
        assert not target.exists()
    # a run without its epoch-0 checkpoint has no control
    other = run.parent / "no-control"
    shutil.copytree(run, other)
    (other / "checkpoints" / "epoch-00000.pt").unlink()
    shutil.rmtree(other / "analysis", ignore_errors=True)
    assert main(["analyze", str(other), "--ts", "99,10", "--grid", "8", "--no-topology"]) == 2
    err = capsys.readouterr().err
    assert "no epoch-0 checkpoint" in err and "available epochs: [1, 2]" in err
    assert not (other / "analysis").exists()
    args = ["analyze", str(other), "--ts", "99,10", "--grid", "8", "--no-topology", "--no-control"]
    assert main(args) == 0
    with open(other / "analysis" / "map" / "map.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 2 * 3 and all(r["control_passes"] == "" for r in table)
    # without the second null: its columns stay empty; a non-square grid needs it off
    args += ["--no-raw-null", "--out", str(run.parent / "no-raw")]
    assert main(args) == 0
    with open(run.parent / "no-raw" / "map.csv") as f:
        assert all(r["holds_both"] == "" for r in csv.DictReader(f))
    with pytest.raises(ValueError, match="invalid with the raw-images null"):
        analyze_map(run, ts=[99], grid=(8, 10), out=target)
    assert not target.exists()
