"""`factordiff data list` and `factordiff data preview`, run end to end in a temp folder."""

from __future__ import annotations

import subprocess
import sys

import pytest

from factordiff.cli import main
from factordiff.data import DATASET_PRESETS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_data_list_prints_every_preset_with_its_size(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in DATASET_PRESETS:
        assert f"\n{name} " in out
    assert "102400" in out and "1444" in out


@pytest.mark.parametrize("dataset", ["sos-plus-hole+stripes", "bump-periodic"])
def test_preview_writes_a_png(tmp_path, capsys, dataset):
    out = tmp_path / "sub" / "grid.png"
    assert main(["data", "preview", dataset, "--out", str(out), "--n", "4", "--seed", "1"]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert str(out) in capsys.readouterr().out


def test_preview_accepts_overrides(tmp_path, capsys):
    out = tmp_path / "grid.png"
    argv = ["data", "preview", "sos", "--out", str(out), "--n", "2"]
    argv += ["--set", "data.dx=2", "--set", "dy=2"]  # the "data." prefix is optional
    assert main(argv) == 0
    assert "256 images" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(DATASET_PRESETS))
def test_preview_every_preset(tmp_path, dataset):
    out = tmp_path / f"{dataset}.png"
    assert main(["data", "preview", dataset, "--out", str(out), "--n", "9"]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "preview", "nope", "--out", "x.png"], "'nope' is not a preset; allowed"),
        (["data", "preview", "bump", "--out", "x.png", "--set", "sigma_x=0"], "data.sigma_x = 0"),
        (["data", "preview", "bump", "--out", "x.png", "--set", "sigma=1"], "unknown config key"),
        (["data", "preview", "bump", "--out", "x.png", "--n", "0"], "--n = 0 is invalid"),
        (["data", "preview", "bump"], "--out"),  # argparse: required option
        (["data"], "ACTION"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_console_entry_point_exit_status(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "factordiff.cli",
            "data",
            "preview",
            "stripes",
            "--out",
            str(tmp_path / "g.png"),
            "--set",
            "rim_width=-1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: data.rim_width = -1")
    assert "Traceback" not in proc.stderr
