"""Two folders of one experiment compared seed by seed (factordiff.experiments.compare)."""

import json
import shutil

import pytest

from factordiff.experiments.compare import main, markdown_table, paired_rows


def _shift_first_rule(folder, by):
    """Add ``by`` to every seed's value of the first rule of the first claim."""
    path = folder / "summary.json"
    s = json.loads(path.read_text())
    j = s["verdicts"][0]["judgements"][0]
    j["values"] = [v + by for v in j["values"]]
    path.write_text(json.dumps(s))


def test_a_folder_against_itself_moves_nothing(exp1_tiny_finished):
    rows = paired_rows(exp1_tiny_finished, exp1_tiny_finished)
    assert rows and all(set(r.differences) == {0.0} and not r.moved for r in rows)
    summary = json.loads((exp1_tiny_finished / "summary.json").read_text())
    assert [r.claim for r in rows][0] == summary["verdicts"][0]["claim"]
    assert len(rows) == sum(len(v["judgements"]) for v in summary["verdicts"])


def test_a_shift_in_one_rule_shows_in_that_rule_alone(exp1_tiny_finished, tmp_path, capsys):
    other = tmp_path / "shifted"
    shutil.copytree(exp1_tiny_finished / ".", other, ignore=shutil.ignore_patterns("runs"))
    _shift_first_rule(other, 0.5)
    rows = paired_rows(other, exp1_tiny_finished)
    assert rows[0].differences == pytest.approx([0.5] * len(rows[0].seeds))
    assert rows[0].low == pytest.approx(0.5) and rows[0].high == pytest.approx(0.5)
    assert all(set(r.differences) == {0.0} for r in rows[1:])
    text = markdown_table(rows, "shifted", "base")
    assert text.startswith("| claim | rule | shifted | base | shifted - base per seed |")
    assert text.count("\n") == len(rows) + 2
    assert main([str(other), str(exp1_tiny_finished), "--out", str(tmp_path / "t.md")]) == 0
    # the command names the columns by the folders
    assert (tmp_path / "t.md").read_text() == markdown_table(rows, "shifted", "exp1")


def test_folders_that_cannot_be_paired_are_refused(exp1_tiny_finished, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(exp1_tiny_finished / ".", other, ignore=shutil.ignore_patterns("runs"))
    s = json.loads((other / "summary.json").read_text())
    for v in s["verdicts"]:
        for j in v["judgements"]:
            j["seeds"] = [k + 100 for k in j["seeds"]]
    (other / "summary.json").write_text(json.dumps(s))
    with pytest.raises(ValueError, match="share no seed; allowed: folders trained on the same"):
        paired_rows(other, exp1_tiny_finished)
    s["verdicts"][0]["claim"] = "another claim"
    (other / "summary.json").write_text(json.dumps(s))
    assert main([str(other), str(exp1_tiny_finished)]) == 2
    assert "judge different claims" in capsys.readouterr().err
