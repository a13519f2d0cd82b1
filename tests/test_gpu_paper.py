"""`factordiff gpu-paper`: the paper-scale GPU script run end to end at the tiny scale on the CPU
(fp32: the tiny presets pin it), its archive, its refusals, and the device scripts."""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import torch

from factordiff.experiments.gpu_paper import plan_gpu_paper, run_gpu_paper, write_archive
from factordiff.experiments.sweep import run_budget
from refusal import refused

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One tiny-scale call (one worker: the analysis runs in this process, no spawned ones)."""
    root = tmp_path_factory.mktemp("gpu-paper")
    lines: list[str] = []
    record = run_gpu_paper(
        "tiny",
        root / "out",
        device="cpu",
        workers=1,
        archive=root / "back" / "gpu-paper.tar.gz",
        progress=False,
        log=lines.append,
    )
    return root, record, lines


def test_tiny_scale_end_to_end_archive(tiny):
    root, record, _ = tiny
    archive = Path(record["archive"]["path"])
    assert archive == root / "back" / "gpu-paper.tar.gz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert len(names) == record["archive"]["members"]
    assert all(n.startswith("gpu-paper/") for n in names)
    assert not [n for n in names if n.endswith((".pt", ".npz"))]
    for exp in ("exp1", "exp2"):
        for f in ("summary.json", "report.md", "results.csv", "experiment.json"):
            assert f"gpu-paper/{exp}/{f}" in names
        assert any(n.startswith(f"gpu-paper/{exp}/figures/") for n in names)
    assert any(n.endswith("/analysis/map/map.csv") for n in names)  # Exp 1's map, seed 0
    assert "gpu-paper/timings.json" in names
    # The heavy files exist, and stay behind.
    assert list((root / "out" / "exp1").rglob("*.pt"))
    assert list((root / "out" / "exp1").rglob("arrays.npz"))
    # What comes back: the archive and timings.json, within the 8 files and the size limit.
    assert sorted(p.name for p in (root / "back").iterdir()) == ["gpu-paper.tar.gz"]
    assert record["archive"]["bytes"] == archive.stat().st_size <= 16 * 2**20

    timings = json.loads((root / "out" / "timings.json").read_text())
    assert timings["status"] == "done" and timings["error"] is None
    assert set(timings["phases"]) == {"train", "exp1", "exp2", "archive"}
    assert timings["experiments"]["exp1"] == {"preset": "exp1-tiny", "runs": 3, "steps": 36}
    assert timings["experiments"]["exp2"]["runs"] == 3  # parts = [main]: 2d, 1d, 2d+1d
    assert timings["gpu"] is None and timings["torch"] == torch.__version__
    summary = json.loads((root / "out" / "exp1" / "summary.json").read_text())
    assert sorted(r["params"]["seed"] for r in summary["runs"]) == [0, 1, 2]
    exp2 = json.loads((root / "out" / "exp2" / "experiment.json").read_text())
    assert exp2["parts"] == ["main"]


def test_archive_over_the_limit_is_refused(tiny, tmp_path):
    root, _, _ = tiny
    target = tmp_path / "small.tar.gz"
    with pytest.raises(ValueError, match=r"over the limit of 1,000 bytes") as err:
        write_archive(root / "out", target, max_bytes=1000)
    assert "biggest members" in str(err.value) and ".png" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # neither the archive nor its .part


def test_paper_plan_runs_and_steps(tmp_path):
    """The paper scale as it would run: 3 Exp 1 seeds of 8,000 steps, Exp 2's 9 main runs of
    3,000 steps (docs/fidelity.md); resolving it writes nothing."""
    exp1, exp2 = plan_gpu_paper("paper", tmp_path / "out", device="cpu")
    assert [r.params["seed"] for r in exp1.runs] == [0, 1, 2]
    assert [run_budget(r)[1] for r in exp1.runs] == [8000] * 3
    assert exp2.cfg.parts == ("main",) and len(exp2.runs) == 9
    assert {run_budget(r)[1] for r in exp2.runs} == {3000}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--scale", "huge"], ["scale = 'huge' is invalid", "paper, tiny"]),
        (["--device", "gpu"], ["device = 'gpu' is invalid", "cuda"]),
        (["--archive", "back.zip"], ["back.zip", "ending in .tar.gz"]),
        (["--workers", "0"], ["workers = 0 is invalid", ">= 1"]),
        (["--scale", "paper", "--device", "cpu"], ["on device 'cpu' is refused", "--device cuda"]),
    ],
)
def test_bad_input_refused_and_nothing_written(capsys, tmp_path, monkeypatch, args, needles):
    monkeypatch.chdir(tmp_path)
    argv = ["gpu-paper", "--scale", "tiny", "--out", str(tmp_path / "out"), *args]
    refused(capsys, argv, *needles)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="refused only where there is no GPU")
def test_cuda_without_a_gpu_refused(capsys, tmp_path):
    argv = ["gpu-paper", "--scale", "tiny", "--device", "cuda", "--out", str(tmp_path / "o")]
    refused(capsys, argv, "device = 'cuda'", "CUDA is not available")
    assert list(tmp_path.iterdir()) == []


def _wheel_names(text: str) -> set[str]:
    return {re.sub(r"[-_.]+", "_", n).lower() for n in text.split()}


def test_device_scripts_parse_and_name_only_downloaded_wheels():
    paper, wheels = SCRIPTS / "device_paper.sh", SCRIPTS / "device_wheels.sh"
    for script in (paper, wheels):
        subprocess.run(["bash", "-n", str(script)], check=True)
    block = re.search(r"^WHEELS=\((.*?)^\)", wheels.read_text(), re.S | re.M).group(1)
    specs = [s for line in block.splitlines() for s in line.split("#")[0].split()]
    assert specs and all(re.fullmatch(r"[\w.-]+==[\w.]+", s) for s in specs), specs
    downloaded = _wheel_names(" ".join(s.split("==")[0] for s in specs))
    needed = _wheel_names(re.search(r'^WHEELS="([^"]*)"', paper.read_text(), re.M).group(1))
    assert needed and needed <= downloaded, needed - downloaded
    # At most 8 files come back from $OUT.
    assert len(set(re.findall(r"\$OUT/([\w.-]+)", paper.read_text()))) <= 8
