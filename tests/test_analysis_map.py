"""`factordiff analyze RUN --layers ... --ts ...`: the sensitivity map of a tiny trained run."""

import csv
import json
import shutil

import pytest

from factordiff.cli import main

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
    m = json.loads((run / "analysis" / "map" / "map.json").read_text())
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
