"""Figure captions: every figure an experiment writes has one, and the page and report.md
print them instead of the file names."""

import ast
import json
from pathlib import Path

import pytest

from factordiff.experiments.captions import (
    CAPTIONS,
    caption,
    experiment_key,
    has_caption,
    summary_caption,
)
from factordiff.experiments.report import render_report

SRC = Path(__file__).resolve().parents[1] / "src" / "factordiff" / "experiments"
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def figure_names(module: Path) -> set[str]:
    """Every file name ending in ``.png`` written in ``module``'s source: plain strings as they
    are, f-strings with each ``{...}`` as ``X`` (e.g. ``map_X.png``)."""
    tree = ast.parse(module.read_text())
    inside = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in inside
        ):
            text = node.value
        else:
            continue
        if text.endswith(".png"):
            names.add(text)
    return names


@pytest.mark.parametrize("experiment", ["exp1", "exp2", "exp3", "percolation"])
def test_every_figure_an_experiment_writes_has_a_caption(experiment):
    # every module of the experiment's package (exp2/figures.py, exp1/sensitivity_map.py, ...),
    # and a single-file experiment's module with its siblings (expN.py, expN_*.py)
    modules = [*SRC.glob(f"{experiment}*.py"), *SRC.glob(f"{experiment}/**/*.py")]
    assert modules, f"no module of {experiment} under {SRC}"
    names = set().union(*(figure_names(m) for m in modules))
    assert len(names) >= 2, names  # the scan finds the module's figures
    for name in names:
        # a name that is only a parameter cannot be checked: write the file names out
        assert name != "X.png", f"{experiment}.py writes a figure named only by a variable"
        assert has_caption(experiment, name), f"{experiment}: no caption for {name}"


def test_every_committed_figure_has_a_caption():
    summaries = sorted(RESULTS.glob("*/summary.json"))
    assert summaries
    for path in summaries:
        s = json.loads(path.read_text())
        for name in s["figures"]:
            assert has_caption(s["experiment"], name), f"{path}: no caption for {name}"


def test_captions_are_sentences_that_name_the_seed_of_one_run_figures():
    for experiment, figures in CAPTIONS.items():
        for pattern in figures:
            text = caption(experiment, pattern.replace("*", "x"), seed=3)
            assert not text[0].islower() and text.endswith(".") and "{" not in text, text
    assert "seed 3" in caption("exp1-quick", "pca_3d.png", seed=3)
    assert "the first seed" in caption("exp1", "umap_2d.png")
    assert "dashed line" in caption("exp1", "accuracy_effdim.png") and "7" in caption(
        "exp1", "accuracy_effdim.png"
    )
    assert caption("exp2-quick", "grid_rim_1d.png") != caption("exp2-quick", "grid_2d.png")
    assert experiment_key("percolation-quick") == "percolation"
    assert experiment_key("exp1-k1") == "exp1" and experiment_key("exp10") is None
    # no caption of its own: a sentence that names the file
    text = caption("exp9-hand", "new_plot.png")
    assert not has_caption("exp9-hand", "new_plot.png")
    assert text.startswith("The figure new plot of exp9-hand") and text.endswith(".")
    s = {"experiment": "exp1-quick", "seeds": [1, 2], "figures_seed": 2}
    assert "seed 2" in summary_caption(s, "persistence.png")
    assert "seed 1" in summary_caption({"experiment": "percolation", "seeds": [1, 2]}, "umap.png")


def test_report_md_prints_the_captions():
    summary = json.loads((RESULTS / "exp3" / "summary.json").read_text())
    text = render_report(summary)
    figures = text[text.index("## Figures") :]
    assert "![size_at_threshold.png](figures/size_at_threshold.png)" in figures
    assert f"*{caption('exp3', 'size_at_threshold.png')}*" in figures
