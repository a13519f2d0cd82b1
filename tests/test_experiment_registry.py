"""The experiment registry: a fifth experiment registered here, and nowhere else, is listed by
the command line, planned and run by reproduce and run by `factordiff experiment`; the
paper's four are registered lazily and agree with what they declare; bad registrations are
refused with the bad value and what is allowed."""

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from factordiff.cli import main
from factordiff.config import apply_overrides
from factordiff.experiments.html_report import collect
from factordiff.experiments.registry import (
    SCALES,
    experiment_names,
    get_experiment,
    preset_for,
    register_experiment,
    register_lazy,
    unregister_experiment,
)
from factordiff.experiments.reproduce import parse_only, plan_reproduce, reproduce
from factordiff.experiments.skeleton import (
    Experiment,
    ExperimentPreset,
    Verdict,
    combine_seeds,
    finish_config,
)
from factordiff.experiments.sweep import LocalExecutor
from factordiff.presets import preset_config
from factordiff.training import run_state

ONE = LocalExecutor(workers=1, threads=1)
PAPER_FOUR = ["exp1", "exp2", "exp3", "percolation"]


@dataclass
class ToyConfig:
    name: str
    seeds: tuple[int, ...] = (0,)
    max_steps: int = 2

    def validate(self) -> None:
        if self.max_steps < 1:
            raise ValueError(f"max_steps = {self.max_steps} is invalid; allowed: >= 1")


class ToyExperiment(Experiment):
    """A fifth experiment: does a tiny run reach its step budget? (two steps per seed)"""

    name = "toy5"
    title = "Toy ({name}): a fifth experiment registered by a test"
    order = 50
    scales = {"paper": "toy5", "quick": "toy5-quick", "tiny": "toy5-tiny"}
    help = "a toy fifth experiment (two training steps)"
    presets = {
        p: ExperimentPreset(
            p, "two steps of the tiny run preset", "every run trains 2 steps", "tiny"
        )
        for p in scales.values()
    }

    def config(self, preset, seeds=None, overrides=None):
        if preset not in self.presets:
            raise ValueError(f"preset {preset!r} is invalid; allowed: {sorted(self.presets)}")
        return finish_config(ToyConfig(name=preset), seeds, overrides)

    def runs(self, cfg):
        base = ["train.eval_every_epochs=0", "train.checkpoint_epochs=[0]"]
        return [
            (
                {"seed": s},
                apply_overrides(
                    preset_config("tiny"), [*base, f"train.max_steps={cfg.max_steps}", f"seed={s}"]
                ),
            )
            for s in cfg.seeds
        ]

    def analyse(self, cfg, run, device):
        return {"row": {"step": run_state(run.dir)["step"]}}

    def verdicts(self, cfg, results):
        steps = [r["row"]["step"] for r in results]
        per_seed = [
            [
                Verdict(
                    "trains its budget", "none", f"step == {cfg.max_steps}", s, s == cfg.max_steps
                )
            ]
            for s in steps
        ]
        return combine_seeds(per_seed, [r["run"].params["seed"] for r in results])


@pytest.fixture
def toy():
    exp = register_experiment(ToyExperiment())
    yield exp
    unregister_experiment(exp.name)


def _help(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 0
    return " ".join(capsys.readouterr().out.split())


# ----------------------------------------------------------------------------- a fifth
def test_a_registered_experiment_is_listed_planned_and_run(toy, tmp_path, capsys):
    assert experiment_names() == [*PAPER_FOUR, "toy5"]
    text = _help(capsys, ["experiment", "--help"])
    assert "exp1, exp2, exp3, percolation or toy5" in text and toy.help in text
    assert "subset of exp1,exp2,exp3,percolation,toy5" in _help(capsys, ["reproduce", "--help"])
    listed = _help(capsys, ["list"])
    assert all(p in listed for p in ("toy5 ", "toy5-quick", "toy5-tiny"))

    # the reproduce plan: its preset at each scale, last in the order
    assert parse_only("toy5,exp1") == ["exp1", "toy5"]
    assert [preset_for("toy5", s) for s in SCALES] == ["toy5", "toy5-quick", "toy5-tiny"]
    planned = plan_reproduce("tiny", tmp_path / "plan")
    assert [(p.name, p.preset) for p in planned][-1] == ("toy5", "toy5-tiny")
    assert [p.name for p in planned] == [*PAPER_FOUR, "toy5"]

    # run by reproduce (through run_experiment), its page listing it; then up to date
    out = tmp_path / "rep"
    lines: list[str] = []
    kw = dict(scale="tiny", only=["toy5"], executor=ONE, log=lines.append, heartbeat_seconds=0)
    record = reproduce(out, **kw)
    assert record["failed"] == [] and [e["name"] for e in record["experiments"]] == ["toy5"]
    summary = json.loads((out / "toy5" / "summary.json").read_text())
    assert summary["experiment"] == "toy5-tiny" and summary["verdicts"][0]["reproduced"]
    sections = {s["name"]: s for s in collect(out)["sections"]}
    assert list(sections) == [*PAPER_FOUR, "toy5"] and sections["toy5"]["summary"]
    again = reproduce(out, **kw)
    assert again["experiments"][0]["status"] == "up to date"

    # and by `factordiff experiment`, like the paper's four
    capsys.readouterr()
    argv = ["experiment", "toy5", "--quick", "--out", str(tmp_path / "cli"), "--no-progress"]
    assert main([*argv, "--set", "max_steps=3"]) == 0
    summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert summary["experiment"] == "toy5-quick" and summary["verdicts"][0]["value"] == 3


def test_unregistering_takes_it_out_everywhere(capsys):
    register_experiment(ToyExperiment())
    unregister_experiment("toy5")
    assert experiment_names() == PAPER_FOUR
    assert "toy5" not in _help(capsys, ["experiment", "--help"])
    with pytest.raises(ValueError, match="--only 'toy5' is invalid; allowed: .*percolation"):
        parse_only("toy5")
    with pytest.raises(ValueError, match="experiment 'toy5' is not registered; allowed: exp1"):
        unregister_experiment("toy5")


# ----------------------------------------------------------------------------- the paper's
def test_the_paper_experiments_agree_with_their_lazy_entries():
    tiny = {"exp1": "exp1-tiny", "exp2": "exp2-smoke", "exp3": "exp3-tiny"}
    tiny["percolation"] = "percolation-tiny"
    for name in PAPER_FOUR:
        exp = get_experiment(name)  # checks name, order and help against the entry
        assert exp.name == name and exp.scales["paper"] == name
        assert preset_for(name, "quick") == f"{name}-quick"
        assert preset_for(name, "tiny") == tiny[name]


def test_listing_the_experiments_loads_no_torch():
    code = (
        "import sys\n"
        "from factordiff.experiments.registry import experiment_help, experiment_names\n"
        "helps = [experiment_help(n) for n in experiment_names()]\n"
        "print(','.join(experiment_names()), 'torch' in sys.modules, 'numpy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [",".join(PAPER_FOUR), "False", "False"]


# ----------------------------------------------------------------------------- refused
class Broken(ToyExperiment):
    name = "broken"


@pytest.mark.parametrize(
    "change, needles",
    [
        ({"name": "exp1"}, ["'exp1' is registered already", "unregister_experiment('exp1')"]),
        ({"name": "a-b"}, ["experiment name = 'a-b' is invalid", "allowed: a letter"]),
        ({"order": "5"}, ["order = '5' is invalid", "allowed: an integer"]),
        ({"scales": {"paper": "toy5"}}, ["scales = {'paper': 'toy5'} is invalid", "quick, tiny"]),
        (
            {"scales": {"paper": "toy5", "quick": "toy5-quick", "tiny": "nope"}},
            ["scales {'tiny': 'nope'} name presets it does not have", "allowed: ['toy5'"],
        ),
        ({"help": "two\nlines"}, ["help = 'two\\nlines' is invalid", "one non-empty line"]),
    ],
)
def test_bad_registrations_are_refused(change, needles):
    exp = Broken()
    for k, v in change.items():
        setattr(exp, k, v)
    with pytest.raises(ValueError) as info:
        register_experiment(exp)
    for needle in needles:
        assert needle in str(info.value)
    assert experiment_names() == PAPER_FOUR


def test_not_an_experiment_and_bad_lazy_targets_are_refused():
    with pytest.raises(ValueError, match="allowed: an instance of factordiff"):
        register_experiment(type("Fake", (), {"name": "fake"})())
    with pytest.raises(ValueError, match="target = 'nowhere' is invalid"):
        register_lazy("lazy", "nowhere", order=60, help="a lazy one")
    assert experiment_names() == PAPER_FOUR


MISMATCHED = ToyExperiment()


def test_a_lazy_entry_that_disagrees_with_its_experiment_is_refused_when_loaded():
    register_lazy("toy5", f"{__name__}:MISMATCHED", order=60, help=MISMATCHED.help)
    try:
        assert experiment_names()[-1] == "toy5"  # listed without loading it
        with pytest.raises(ValueError, match="declares order = 50 but is registered with order"):
            get_experiment("toy5")
    finally:
        unregister_experiment("toy5")


# ----------------------------------------------------------------------------- packages
def test_a_package_with_a_listing_is_registered_without_importing_it(tmp_path, monkeypatch):
    """An experiment package beside the paper's four needs its listing.toml and nothing
    else: register_packaged lists it from the file and imports it only when it is needed."""
    from factordiff.experiments.registry import read_listing, register_packaged

    pkg = tmp_path / "toy6pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "listing.toml").write_text(
        'name = "toy6"\norder = 60\nhelp = "a packaged toy"\ntarget = "toy6pkg.experiment:TOY6"\n'
    )
    (pkg / "experiment.py").write_text(
        "from pathlib import Path\n"
        "from factordiff.experiments.registry import read_listing\n"
        "from factordiff.experiments.skeleton import Experiment, ExperimentPreset\n"
        "LISTING = read_listing(Path(__file__).with_name('listing.toml'))\n"
        "class Toy6(Experiment):\n"
        "    name, order, help = LISTING['name'], LISTING['order'], LISTING['help']\n"
        "    title = 'toy6'\n"
        "    scales = {'paper': 'toy6', 'quick': 'toy6-quick', 'tiny': 'toy6-tiny'}\n"
        "    presets = {p: ExperimentPreset(p, 'a toy', 'nothing', 'tiny')\n"
        "               for p in scales.values()}\n"
        "TOY6 = Toy6()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert register_packaged(tmp_path) == ["toy6"]
    try:
        assert "toy6pkg.experiment" not in sys.modules  # listed, not imported
        assert experiment_names()[-1] == "toy6"
        assert preset_for("toy6", "quick") == "toy6-quick"  # now imported
        assert get_experiment("toy6").help == "a packaged toy"
    finally:
        unregister_experiment("toy6")
    # the paper's four come the same way, each listing agreeing with its experiment
    for name in PAPER_FOUR:
        exp = get_experiment(name)
        assert exp.__module__.startswith(f"factordiff.experiments.{name}.")
    (pkg / "listing.toml").write_text('name = "toy6"\norder = "60"\nhelp = "x"\ntarget = "a:b"\n')
    with pytest.raises(
        ValueError, match=r"listing.toml: order = '60' is invalid; allowed: an integer"
    ):
        read_listing(pkg / "listing.toml")
    (pkg / "listing.toml").write_text('name = "toy6"\norder = 60\n')
    with pytest.raises(ValueError, match=r"keys \['name', 'order'\] are invalid; allowed: exactly"):
        read_listing(pkg / "listing.toml")
