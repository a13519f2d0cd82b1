"""The page's header, its Markdown twin, the README's Results table and byte-identical rebuilds."""

import json
import shutil

import pytest

from factordiff.experiments.html_report import collect, write_report
from factordiff.experiments.judgement import Rule, combine, judge
from factordiff.experiments.page_md import (
    README_END,
    README_START,
    header_rows,
    readme_results,
    rung_of,
)
from factordiff.ladder import DEVIATIONS


def verdict(claim: str, values: list[float]) -> dict:
    rule = Rule("median x-on-y subspace similarity", "below", 0.2, 3)
    j = judge(rule, values, list(range(len(values))))
    return {
        "claim": claim,
        "paper": "x and y in nearly orthogonal subspaces",
        "reproduced": j.verdict == "reproduced",
        "rules": [rule.to_dict()],
        "judgements": [j.to_dict()],
        "verdict": combine([j.verdict]),
    }


def reproduce_folder(root, provenance=True):
    """A reproduce folder with two experiments' summaries (no runs)."""
    for name, values in (("exp1", [0.05, 0.06, 0.07]), ("exp2", [0.1, 0.3, 0.5])):
        folder = root / name
        (folder / "figures").mkdir(parents=True)
        summary = {
            "experiment": f"{name}-quick",
            "title": f"Experiment {name[-1]}",
            "deviations": [
                "narrow widths: 16-64",
                "one residual block per level: 1",
                "attention at some levels only: [3]",
            ],
            "verdicts": [verdict("x and y factorized: x-loops orthogonal to y-loops", values)],
            "figures": [],
        }
        if provenance:
            summary["provenance"] = {"factordiff": "0.1.0", "git_commit": "abc", "torch": "2.13"}
        (folder / "summary.json").write_text(json.dumps(summary))
        (folder / "report.md").write_text(f"# Experiment {name}\n")
    record = {"scale": "quick", "cpu": "Test CPU (AVX2)", "experiments": []}
    (root / "reproduce.json").write_text(json.dumps(record))
    return root


def test_the_header_names_scale_rung_machine_and_provenance(tmp_path):
    context = collect(reproduce_folder(tmp_path / "rep"))
    header = dict(header_rows(context))
    assert header["Scale"] == "quick" and header["Machine"] == "Test CPU (AVX2)"
    assert header["Model"].startswith("exp1: rung 4 of the ladder (by its deviations); ")
    assert header["factordiff"] == "0.1.0" and header["git commit"] == "abc"
    old = collect(reproduce_folder(tmp_path / "old", provenance=False))
    assert dict(header_rows(old))["torch"] == "not recorded (exp1, exp2)"
    names = [d.name for d in DEVIATIONS]
    assert rung_of([f"{n}: words" for n in names]) == "rung 0 of the ladder (by its deviations)"
    assert rung_of([]) == "rung 7 of the ladder (the paper's network as we read it)"
    assert rung_of(["v-prediction: x"]) == "off the ladder"


def test_page_and_twin_rebuild_byte_identical_anywhere(tmp_path):
    root = reproduce_folder(tmp_path / "rep")
    page = write_report(root)
    first = page.read_bytes(), (root / "report.md").read_bytes()
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(root, copy)
    write_report(copy, force=True)
    write_report(root, force=True)
    assert (page.read_bytes(), (root / "report.md").read_bytes()) == first
    assert ((copy / "report.html").read_bytes(), (copy / "report.md").read_bytes()) == first
    assert str(tmp_path) not in first[0].decode()  # no absolute path of this machine
    md = first[1].decode()
    assert md.startswith("# factordiff reproduction report")
    assert "| exp1 | x and y factorized" in md and "| **reproduced** |" in md
    assert "| exp2 |" in md and "| **inconclusive** |" in md
    assert "Report: [exp1/report.md](exp1/report.md)" in md
    # the page's claims table carries the same verdicts as the summaries
    html = first[0].decode()
    assert html.count('class="ok verdict">reproduced<') == 1
    assert html.count('class="inc verdict">inconclusive<') == 1


def test_one_experiment_folder_keeps_its_own_report_md(tmp_path):
    folder = reproduce_folder(tmp_path / "rep") / "exp1"
    write_report(folder)
    assert (folder / "report.md").read_text() == "# Experiment exp1\n"


def test_readme_results_between_markers(tmp_path):
    context = collect(reproduce_folder(tmp_path / "rep"))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold\n{README_END}\nend\n")
    readme_results(context, readme)
    text = readme.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("end\n")
    assert "| exp1 | x and y factorized" in text
    (tmp_path / "plain.md").write_text("no markers")
    with pytest.raises(ValueError, match="results-table:start"):
        readme_results(context, tmp_path / "plain.md")
    assert (tmp_path / "plain.md").read_text() == "no markers"


def test_report_readme_option_checks_the_markers_before_writing(tmp_path, capsys):
    from factordiff.cli import main

    root = reproduce_folder(tmp_path / "rep")
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    assert main(["report", str(root), "--readme", str(readme)]) == 2
    assert "lacks the results markers" in capsys.readouterr().err
    assert not (root / "report.html").exists() and not (root / "report.md").exists()
    readme.write_text(f"# r\n{README_START}\n{README_END}\n")
    assert main(["report", str(root), "--readme", str(readme)]) == 0
    assert "| exp2 |" in readme.read_text()
