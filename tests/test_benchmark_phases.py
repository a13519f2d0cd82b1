"""benchmarks/phases.py: the phase breakdown read from a folder's own records."""

import importlib.util
import json
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "phases.py"


@pytest.fixture(scope="module")
def phases():
    spec = importlib.util.spec_from_file_location("phases", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fake_run(folder: Path, steps: int, wall: float, evals: list[float]) -> None:
    folder.mkdir(parents=True)
    lines = [{"step": 0, "eval_seconds": evals[0], "train_seconds": evals[0]}]
    lines += [{"step": steps // 2, "loss": 0.1, "train_seconds": wall / 2}]
    lines += [{"step": steps, "eval_seconds": e, "train_seconds": wall} for e in evals[1:]]
    (folder / "metrics.jsonl").write_text(
        "\n".join(map(json.dumps, lines)) + '\n{"step": 9'  # a line cut by a kill
    )
    env = {"cpu": "Test CPU (AVX2)", "num_threads": 1, "precision": {"used": "fp32"}}
    (folder / "environment.json").write_text(json.dumps(env))


def test_phases_of_a_reproduce_folder(phases, tmp_path, capsys):
    exp = tmp_path / "rep" / "exp1"
    fake_run(exp / "runs" / "a", 100, 60.0, [5.0, 5.0])  # 50 s of steps, 10 s of evals
    fake_run(exp / "runs" / "b", 100, 40.0, [2.0, 8.0])  # 30 s of steps
    summary = {"wall_seconds": 120.0, "analysis_seconds": 30.0, "sensitivity_map": {"seconds": 12}}
    (exp / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "rep" / "notes").mkdir()  # not an experiment folder: skipped
    assert phases.main([str(tmp_path / "rep"), "--json"]) == 0
    out = capsys.readouterr().out
    row = json.loads(out.strip().splitlines()[-1])
    assert row["runs"] == 2 and row["steps"] == 200 and row["evaluations"] == 4
    assert row["steps_seconds"] == pytest.approx(80.0)
    assert row["eval_seconds"] == pytest.approx(20.0)
    assert row["median_seconds_per_step"] == pytest.approx(0.4)  # of 0.5 and 0.3
    assert row["map_seconds"] == 12 and row["cpu"] == "Test CPU (AVX2)"
    assert "| exp1 | 2 | 2.0 | 200 | 1.3 | 0.3 (4) | 0.400 | 0.5 | 0.2 |" in out
    with pytest.raises(SystemExit, match="no experiment folder"):
        phases.main([str(tmp_path / "rep" / "notes")])
