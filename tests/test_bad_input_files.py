"""Bad JSON files the package reads (sweep.json, failure.json, state.json, summary.json,
reproduce.json, experiment.json, an existing report page) and bad output paths: one
``error:`` line naming the file, the bad value and what is allowed, a non-zero exit, and
nothing written or changed. CLI cases through ``main([...])`` in a temp folder, API cases
direct; every fixture is built by hand, nothing trains."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from factordiff.cli import main
from factordiff.config import apply_overrides
from factordiff.experiments.html_report import MARKER_ID, page_experiments, write_report
from factordiff.experiments.sweep import (
    FAILURE_FILE,
    LOCK_FILE,
    plan_sweep,
    sweep_status,
    write_sweep,
)
from factordiff.jsonfiles import read_json, read_summary
from factordiff.presets import preset_config
from refusal import refused, snapshot

ROOT = Path(__file__).resolve().parents[1]


def refused_unchanged(capsys, tmp_path: Path, argv: list[str], *needles: str) -> str:
    before = snapshot(tmp_path)
    err = refused(capsys, argv, *needles)
    assert snapshot(tmp_path) == before
    return err


# ----------------------------------------------------------------------------- sweep.json
@pytest.fixture
def sweep(tmp_path) -> Path:
    """A sweep folder of one tiny run (planned, never trained)."""
    cfg = apply_overrides(preset_config("tiny"), ["train.precision=fp32"])
    root = tmp_path / "sweep"
    write_sweep(root, plan_sweep(root, [({"seed": 0}, cfg)]))
    return root


def _run_dir(sweep: Path) -> Path:
    doc = json.loads((sweep / "sweep.json").read_text())
    return sweep / "runs" / doc["runs"][0]["key"]


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("{}", ("holds {}", "without 'runs'", '"runs"')),
        ("[]", ("holds []", "a JSON object")),
        ('{"runs": [{"key": "x"}]}', ("runs[0] = {'key': 'x'}", "without 'params'")),
        ('{"runs": [1]}', ("runs[0] = 1 is invalid", '{"key", "params", "config"}')),
        ('{"runs": {}}', ("runs = {} is invalid", "allowed: a list")),
        ('{"runs": [{"params": 1, "config": {}}]}', ("runs[0].params = 1", "a JSON object")),
        ("{garbled", ("not valid JSON (line 1, column 2:", "allowed: a sweep")),
        ("", ("not valid JSON (line 1, column 1:",)),
    ],
)
def test_sweep_status_names_a_bad_sweep_json(sweep, tmp_path, capsys, text, needles):
    (sweep / "sweep.json").write_text(text)
    refused_unchanged(capsys, tmp_path, ["sweep", "status", str(sweep)], "sweep.json", *needles)


def test_a_bad_config_inside_sweep_json_says_it_came_from_there(sweep, tmp_path, capsys):
    doc = json.loads((sweep / "sweep.json").read_text())
    doc["runs"][0]["config"]["train"]["lr"] = "abc"
    (sweep / "sweep.json").write_text(json.dumps(doc))
    path = str(sweep / "sweep.json")
    refused_unchanged(
        capsys,
        tmp_path,
        ["sweep", "status", str(sweep)],
        f"{path}: runs[0].config: train.lr",
        "'abc'",
    )
    doc["runs"][0]["config"]["train"]["batch_size"] = 0
    doc["runs"][0]["config"]["train"]["lr"] = 0.001
    (sweep / "sweep.json").write_text(json.dumps(doc))
    refused(capsys, ["sweep", "status", str(sweep)], f"{path}: runs[0].config", "batch_size = 0")


def test_sweep_status_api_raises_a_value_error_naming_the_file(sweep):
    (sweep / "sweep.json").write_text('{"runs": [')
    with pytest.raises(ValueError) as info:
        sweep_status(sweep)
    assert not isinstance(info.value, json.JSONDecodeError)  # not the parser's bare message
    assert str(sweep / "sweep.json") in str(info.value) and "not valid JSON" in str(info.value)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("{garb", ("not valid JSON (line 1, column 2:", "failure record")),
        ("[1]", ("holds [1]", "failure record")),
        ('{"error": 3}', ("error = 3 is invalid", "a string")),
    ],
)
def test_sweep_status_names_a_bad_failure_json(sweep, tmp_path, capsys, text, needles):
    run = _run_dir(sweep)
    run.mkdir(parents=True)
    (run / FAILURE_FILE).write_text(text)
    refused_unchanged(
        capsys, tmp_path, ["sweep", "status", str(sweep)], str(run / FAILURE_FILE), *needles
    )


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[]", ("holds []",)),
        ('{"step": "abc"}', ("step = 'abc' is invalid", "an integer")),
        ('{"finished": 1}', ("finished = 1 is invalid", "true or false")),
        ('{"step": tr', ("not valid JSON",)),
    ],
)
def test_sweep_status_names_a_bad_state_json(sweep, tmp_path, capsys, text, needles):
    run = _run_dir(sweep)
    run.mkdir(parents=True)
    (run / "state.json").write_text(text)
    refused_unchanged(
        capsys, tmp_path, ["sweep", "status", str(sweep)], str(run / "state.json"), *needles
    )


@pytest.mark.parametrize("text", ["[1]", '{"pid": "x", "host": "h"}', "{half", "null"])
def test_a_bad_lock_counts_as_no_lock(sweep, text):
    # running.json is read tolerantly on purpose (it comes and goes with the workers)
    run = _run_dir(sweep)
    run.mkdir(parents=True)
    (run / LOCK_FILE).write_text(text)
    assert sweep_status(sweep)["runs"][0]["status"] == "pending"


# ----------------------------------------------------------------------------- summary.json
GOOD_VERDICT = {"claim": "c", "reproduced": True, "value": 0.5}


def summary_folder(folder: Path, summary, variant: str = "k1") -> Path:
    """A hand-made finished experiment folder of preset exp1-quick: summary.json only."""
    folder.mkdir(parents=True, exist_ok=True)
    if not isinstance(summary, str):
        summary = json.dumps(summary)
    (folder / "summary.json").write_text(summary)
    return folder


def good_summary(**extra) -> dict:
    return {"experiment": "exp1-quick", "variant": "k1", "verdicts": [GOOD_VERDICT], **extra}


@pytest.mark.parametrize(
    ("summary", "needles"),
    [
        ("[]", ("holds []", "a JSON object with verdicts")),
        (
            {"experiment": "exp1-quick", "variant": "k1"},
            ("without 'verdicts'", "a JSON object with verdicts"),
        ),
        ("{garbled", ("not valid JSON (line 1, column 2:", "an experiment's summary")),
        (good_summary(verdicts=["x"]), ("verdicts[0] = 'x' is invalid", "a verdict")),
        (good_summary(verdicts=[{"claim": "c"}]), ("verdicts[0]", "without 'reproduced'")),
        (good_summary(verdicts="all"), ("verdicts = 'all' is invalid", "a list")),
        (good_summary(experiment="exp9"), ("experiment = 'exp9' is invalid", "exp1-quick")),
        (
            good_summary(sensitivity_map={"counts": {"orthogonal": {"holds": 1}}}),
            ("sensitivity_map.counts.orthogonal", "without 'settings'"),
        ),
    ],
)
def test_variants_names_a_bad_summary_json(tmp_path, capsys, summary, needles):
    folder = summary_folder(tmp_path / "k1", summary)
    out = tmp_path / "overview"
    argv = ["variants", str(folder), "--out", str(out)]
    refused_unchanged(capsys, tmp_path, argv, str(folder / "summary.json"), *needles)
    assert not out.exists()


@pytest.mark.parametrize(
    ("summary", "needles"),
    [
        (good_summary(verdicts=["x"]), ("verdicts[0] = 'x' is invalid",)),
        (good_summary(runs=[1]), ("runs[0] = 1 is invalid", "a run: a JSON object")),
        (good_summary(figures=[1]), ("figures[0] = 1 is invalid", "a string")),
        (good_summary(budget_steps="many"), ("budget_steps = 'many' is invalid",)),
        (
            good_summary(verdicts=[{**GOOD_VERDICT, "spread": {"seeds": 2}}]),
            ("verdicts[0].spread.seeds = 2 is invalid", "a list"),
        ),
        ("[]", ("holds []",)),
        ("{garbled", ("not valid JSON",)),
    ],
)
def test_report_names_a_bad_summary_json(tmp_path, capsys, summary, needles):
    folder = summary_folder(tmp_path / "exp9", summary)
    argv = ["report", str(folder)]
    refused_unchanged(capsys, tmp_path, argv, str(folder / "summary.json"), *needles)


@pytest.mark.parametrize(
    ("record", "needles"),
    [
        ({"experiments": [1]}, ("experiments[0] = 1 is invalid", "with name")),
        ({"experiments": [{"status": "done"}]}, ("experiments[0]", "without 'name'")),
        ({"experiments": "exp1"}, ("experiments = 'exp1' is invalid", "a list")),
        ({"pools": [{"experiments": [1]}]}, ("pools[0].experiments[0] = 1 is invalid",)),
        ([], ("holds []", "a reproduce record")),
        ("{garbled", ("not valid JSON (line 1, column 2:", "a reproduce record")),
    ],
)
def test_report_names_a_bad_reproduce_json(tmp_path, capsys, record, needles):
    root = tmp_path / "reproduce"
    summary_folder(root / "exp1", good_summary())
    text = record if isinstance(record, str) else json.dumps(record)
    (root / "reproduce.json").write_text(text)
    argv = ["report", str(root)]
    refused_unchanged(capsys, tmp_path, argv, str(root / "reproduce.json"), *needles)


def test_reproduce_names_a_bad_reproduce_json_before_writing(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "reproduce.json").write_text(json.dumps({"experiments": [1]}))
    argv = ["reproduce", "--scale", "tiny", "--only", "exp1", "--out", str(out), "--no-progress"]
    refused_unchanged(
        capsys, tmp_path, argv, str(out / "reproduce.json"), "experiments[0] = 1 is invalid"
    )


def test_report_names_a_bad_sweep_or_environment_in_an_experiment_folder(sweep, tmp_path, capsys):
    summary_folder(sweep, good_summary())
    (sweep / "sweep.json").write_text("{}")
    refused_unchanged(
        capsys, tmp_path, ["report", str(sweep)], str(sweep / "sweep.json"), "without 'runs'"
    )
    run = tmp_path / "exp9"
    key = "abc"
    summary_folder(run, good_summary(runs=[{"key": key}]))
    (run / "runs" / key).mkdir(parents=True)
    (run / "runs" / key / "environment.json").write_text("[1, 2]")
    env = str(run / "runs" / key / "environment.json")
    refused_unchanged(capsys, tmp_path, ["report", str(run)], env, "holds [1, 2]")


def test_rejudge_names_a_bad_summary_json(tmp_path, capsys):
    out = summary_folder(tmp_path / "exp3", "[]")
    argv = ["experiment", "exp3-tiny", "--rejudge", "a rule changed", "--out", str(out)]
    refused_unchanged(capsys, tmp_path, argv, str(out / "summary.json"), "holds []")


def test_a_garbled_summary_is_a_reason_to_run_again_in_reproduce(tmp_path):
    # reproduce reads it tolerantly on purpose: running the experiment writes it anew
    from factordiff.experiments.reproduce import needs_work, plan_reproduce

    (p,) = plan_reproduce("tiny", tmp_path, ["exp1"])
    summary_folder(p.out, "[]")
    reason = needs_work(p)
    assert reason is not None and str(p.out / "summary.json") in reason


def test_experiment_json_read_by_the_api_is_named(tmp_path):
    from factordiff.experiments.exp1 import load_exp1_config
    from factordiff.experiments.exp3.eval_noise import score_with_seeds

    (tmp_path / "experiment.json").write_text("[1")
    for call in (
        lambda: score_with_seeds(tmp_path),
        lambda: load_exp1_config(tmp_path / "experiment.json"),
    ):
        with pytest.raises(ValueError, match="experiment.json is not valid JSON"):
            call()
    (tmp_path / "experiment.json").write_text('{"name": 3}')
    with pytest.raises(ValueError, match=r"experiment.json: name = 3 is invalid"):
        score_with_seeds(tmp_path)
    (tmp_path / "experiment.json").write_text('{"bogus": 3}')
    with pytest.raises(ValueError, match=r"experiment.json: unknown config key"):
        load_exp1_config(tmp_path / "experiment.json")


def test_read_json_names_the_file_for_every_way_it_can_fail(tmp_path):
    (tmp_path / "bin.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ValueError, match=r"bin.json is not UTF-8 text \(byte 7.*; allowed: X"):
        read_json(tmp_path / "bin.json", "X")
    with pytest.raises(ValueError, match=r"is a folder; allowed: X"):
        read_json(tmp_path, "X")
    with pytest.raises(FileNotFoundError, match=r"gone.json does not exist; allowed: X"):
        read_json(tmp_path / "gone.json", "X")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"deep.json is nested too deeply"):
        read_json(tmp_path / "deep.json", "X")


def test_every_committed_summary_and_record_reads():
    # the checks are of what the readers use: files written by earlier versions still read
    from factordiff.experiments.reproduce import read_record

    paths = sorted((ROOT / "docs" / "results").rglob("summary.json"))
    assert len(paths) >= 8
    for path in paths:
        read_summary(path)
    assert read_record(ROOT / "docs" / "results" / "quick")["experiments"]


# ----------------------------------------------------------------------------- output paths
def test_report_out_an_existing_folder_leaves_nothing(tmp_path, capsys):
    folder = summary_folder(tmp_path / "exp9", good_summary())
    taken = tmp_path / "taken"
    taken.mkdir()
    argv = ["report", str(folder), "--out", str(taken)]
    refused_unchanged(capsys, tmp_path, argv, f"{taken} is a folder", "the path of the page file")
    assert not (tmp_path / "taken.tmp").exists()


@pytest.mark.parametrize(
    ("make", "needles"),
    [
        (lambda t: t / "nodir" / "page.html", ("nodir does not exist", "an existing folder")),
        (lambda t: t / "exp9" / "summary.json" / "p.html", ("is a file, not a folder",)),
    ],
)
def test_report_out_in_a_missing_folder_is_one_line(tmp_path, capsys, make, needles):
    folder = summary_folder(tmp_path / "exp9", good_summary())
    argv = ["report", str(folder), "--out", str(make(tmp_path))]
    err = refused_unchanged(capsys, tmp_path, argv, *needles)
    assert "Errno" not in err


def test_a_failed_page_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    import os

    folder = summary_folder(tmp_path / "exp9", good_summary())

    def full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError):
        write_report(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["summary.json"]


def _train_message(capsys, path: Path) -> str:
    argv = ["train", "--preset", "tiny", "--out", str(path), "--set", "train.precision=fp32"]
    return refused(capsys, argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["experiment", "exp1-tiny", "--set", "run.train.precision=fp32"],
        ["experiment", "exp1-tiny", "--variant", "k1", "--set", "run.train.precision=fp32"],
        ["reproduce", "--scale", "tiny", "--only", "exp1", "--no-progress"],
        ["variants", "FOLDER"],
    ],
)
def test_an_output_folder_that_is_a_file_is_refused_as_train_refuses_it(tmp_path, capsys, argv):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    expected = _train_message(capsys, blocker)
    assert "is not a folder; allowed: a folder path" in expected
    folder = summary_folder(tmp_path / "k1", good_summary())
    argv = [str(folder) if a == "FOLDER" else a for a in argv]
    err = refused_unchanged(capsys, tmp_path, [*argv, "--out", str(blocker)], str(blocker))
    assert err == expected and "File exists" not in err


# ----------------------------------------------------------------------------- report --force
def _reproduce_folder(root: Path, names: list[str]) -> Path:
    for name in names:
        summary_folder(root / name, good_summary())
    (root / "reproduce.json").write_text(json.dumps({"experiments": [{"name": names[0]}]}))
    return root


def test_report_never_replaces_a_page_with_fewer_experiments_unless_forced(tmp_path, capsys):
    root = _reproduce_folder(tmp_path / "rep", ["exp1", "exp2"])
    assert main(["report", str(root)]) == 0
    assert page_experiments(root / "report.html") == ["exp1", "exp2"]
    assert main(["report", str(root)]) == 0  # the same experiments: replaced
    shutil.rmtree(root / "exp2")
    refused_unchanged(
        capsys,
        tmp_path,
        ["report", str(root)],
        f"{root / 'report.html'} shows 2 experiment(s) with results (exp1, exp2)",
        "would show 1 (exp1) and lose exp2",
        "--force to replace it",
    )
    capsys.readouterr()
    assert main(["report", str(root), "--force"]) == 0
    assert page_experiments(root / "report.html") == ["exp1"]


def test_report_in_place_on_a_copy_without_its_experiments_keeps_the_old_page(tmp_path, capsys):
    # the committed quick page was written before the marker: read from its claims table
    copy = tmp_path / "quick"
    shutil.copytree(ROOT / "docs" / "results" / "quick", copy)
    assert page_experiments(copy / "report.html") == ["exp1", "exp2", "exp3", "percolation"]
    refused_unchanged(
        capsys,
        tmp_path,
        ["report", str(copy)],
        "shows 4 experiment(s) with results (exp1, exp2, exp3, percolation)",
        "would show 0 and lose exp1, exp2, exp3, percolation",
    )


def test_report_replaces_another_file_only_when_forced(tmp_path, capsys):
    folder = summary_folder(tmp_path / "exp9", good_summary())
    mine = tmp_path / "mine.html"
    mine.write_text("<html>my notes</html>")
    argv = ["report", str(folder), "--out", str(mine)]
    refused_unchanged(
        capsys, tmp_path, argv, "is not a page written by factordiff report", "--force"
    )
    (tmp_path / "garbled.html").write_text(
        f'<script type="application/json" id="{MARKER_ID}">[</script>'
    )
    argv = ["report", str(folder), "--out", str(tmp_path / "garbled.html")]
    refused_unchanged(capsys, tmp_path, argv, "marker is garbled", "--force")
    assert main([*argv, "--force"]) == 0
    assert page_experiments(tmp_path / "garbled.html") == ["exp9"]


def test_the_marker_survives_any_experiment_name(tmp_path):
    root = tmp_path / "rep"
    odd = "a<!--<script>&c"  # a folder name cannot hold "/", so no "</script>" either
    summary_folder(root / "exp1", good_summary())
    summary_folder(root / odd, good_summary())
    page = write_report(root).read_text()
    assert odd not in page and "<!--" not in page
    assert page_experiments(root / "report.html") == ["exp1", odd]


def test_report_refuses_a_page_with_no_experiment(tmp_path, capsys):
    root = tmp_path / "copy"
    (root / "exp1").mkdir(parents=True)  # an experiment folder without its summary.json
    (root / "exp1" / "report.md").write_text("# Experiment 1\n")
    refused_unchanged(capsys, tmp_path, ["report", str(root)], "holds no experiment", "--force")
    assert not (root / "report.html").exists()
    assert main(["report", str(root), "--force"]) == 0  # asked for: a page that says so
    assert page_experiments(root / "report.html") == []
