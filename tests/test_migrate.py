"""Schema versions and migrations (factordiff.migrate): old run folders load, upgrade and
resume; committed run keys are unchanged; adding a config field is one migration entry; a
config from a newer version is refused."""

import csv
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from factordiff import migrate
from factordiff.config import (
    RunConfig,
    TrainConfig,
    apply_overrides,
    from_dict,
    saved_as_current,
    to_dict,
)
from factordiff.experiments.sweep import plan_sweep, read_sweep, run_key, write_sweep
from factordiff.migrate import SCHEMA_VERSION, Migration
from factordiff.presets import preset_config
from factordiff.training import (
    CHECKPOINT_FORMAT,
    RunExistsError,
    Trainer,
    load_checkpoint,
    load_model,
    read_run_config,
    train,
)

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def tiny_cfg(**over):
    cfg = preset_config("tiny")
    return apply_overrides(cfg, [f"{k}={v}" for k, v in over.items()])


def old_saved(cfg: RunConfig) -> dict:
    """``cfg`` as factordiff wrote it before schema versions: no ``schema_version``, no
    ``model.kind`` nor ``model.label_encoding``, and ``train.bf16`` for the precision."""
    old = to_dict(cfg)
    del old["model"]["kind"], old["model"]["label_encoding"]
    old["train"]["bf16"] = {"bf16": True, "fp32": False}[old["train"].pop("precision")]
    return old


# ----------------------------------------------------------------------------- the list
def test_migrations_are_numbered_steps_and_the_version_follows_them():
    migrate.check_migrations()
    assert SCHEMA_VERSION == migrate.OLDEST_VERSION + len(migrate.MIGRATIONS)
    assert [m.describe() for m in migrate.MIGRATIONS[1:]] == [
        "v2 -> v3 (RunConfig): model.label_encoding added, old value 'periodic'",
        "v3 -> v4 (RunConfig): model.kind added, old value 'unet'",
    ]
    gap = (*migrate.MIGRATIONS, Migration(SCHEMA_VERSION + 2, added={"train.x": 0}))
    with pytest.raises(ValueError, match=f"allowed: {SCHEMA_VERSION + 1}"):
        migrate.check_migrations(gap)


def _field_paths(cls, prefix=""):
    out = set()
    for f in dataclasses.fields(cls):
        tp = f.default_factory if f.default_factory is not dataclasses.MISSING else None
        if tp is not None and dataclasses.is_dataclass(tp):
            out |= _field_paths(tp, f"{prefix}{f.name}.")
        else:
            out.add(f"{prefix}{f.name}")
    return out


def test_every_run_config_field_is_in_the_committed_configs_or_added_by_a_migration():
    # The fields every committed run's config holds (results.csv, config.* columns): a
    # field added since must come with a migration, or every run key would change.
    committed = None
    for path in RESULTS.rglob("results.csv"):
        with open(path) as f:
            cols = {c[len("config.") :] for c in next(csv.reader(f)) if c.startswith("config.")}
        committed = cols if committed is None else committed & cols
    added = {p for m in migrate.MIGRATIONS if m.config == "RunConfig" for p in m.added}
    missing = _field_paths(RunConfig) - committed - added - {"device"}
    assert not missing, f"fields {sorted(missing)} need a migration in factordiff.migrate"


# ----------------------------------------------------------------------------- committed keys
def _cell(text: str):
    """A results.csv cell as the config value it was (pandas writes Python's True/False)."""
    if text in ("True", "False"):
        return text == "True"
    for parse in (int, float, json.loads):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def committed_runs():
    """``(file, key, saved config)`` of every run in a committed results.csv: the config as
    that factordiff version wrote it (without ``device``, never part of a key)."""
    for path in sorted(RESULTS.rglob("results.csv")):
        with open(path) as f:
            for row in csv.DictReader(f):
                saved: dict = {}
                for col, text in row.items():
                    if col.startswith("config."):
                        *sections, name = col.split(".")[1:]
                        node = saved
                        for s in sections:
                            node = node.setdefault(s, {})
                        node[name] = _cell(text)
                yield path, row["key"], saved


def test_committed_run_keys_are_unchanged_from_their_saved_configs():
    runs = list(committed_runs())
    assert len(runs) >= 238  # 11 results.csv files under docs/results
    for path, key, saved in runs:
        assert run_key(from_dict(RunConfig, saved)) == key, path
    # ... and they are the keys the summaries list
    for path in RESULTS.rglob("summary.json"):
        if (path.parent / "results.csv").is_file():
            listed = {r["key"] for r in json.loads(path.read_text())["runs"]}
            assert listed == {k for p, k, _ in runs if p.parent == path.parent}, path


def test_committed_run_keys_follow_from_their_experiment_json():
    from factordiff.experiments import resolve_experiment

    checked = 0
    for path in sorted(RESULTS.rglob("experiment.json")):
        saved = json.loads(path.read_text())
        exp, preset = resolve_experiment(saved["name"])
        cfg = from_dict(type(exp.config(preset)), saved)
        keys = sorted(run_key(run) for _, run in exp.runs(cfg))
        summary = json.loads((path.parent / "summary.json").read_text())
        assert keys == sorted(r["key"] for r in summary["runs"]), path
        checked += len(keys)
    assert checked >= 188  # 6 experiment folders


# ----------------------------------------------------------------------------- an old run
def test_an_old_run_folder_loads_upgrades_and_resumes(tmp_path):
    cfg = tiny_cfg(**{"train.precision": "fp32", "train.eval_every_epochs": 0})
    run = tmp_path / "old"
    old = old_saved(cfg)

    class Stop(Exception):
        pass

    # an interrupted run whose files an older factordiff wrote
    t = Trainer(cfg, run, progress=False)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps(old))
    orig = t.train_step

    def step(idx):
        if t.epoch >= 2 and t.step % t.steps_per_epoch == 1:
            raise Stop
        return orig(idx)

    t.train_step = step
    with pytest.raises(Stop):
        t.train()
    latest = run / "checkpoints" / "latest.pt"
    ckpt = torch.load(latest, weights_only=True)
    torch.save({**ckpt, "config": old}, latest)  # as stored before versions

    assert read_run_config(run) == cfg  # upgraded: kind, label_encoding, precision
    assert load_model(latest)[1] == cfg
    assert saved_as_current(RunConfig, old) == to_dict(cfg)
    result = train(cfg, run, progress=False)  # the same command resumes it
    assert "resumed from" in (run / "train.log").read_text()
    assert result.epoch == cfg.train.epochs
    assert json.loads((run / "config.json").read_text()) == old  # kept as it was
    assert load_checkpoint(latest)["config"]["schema_version"] == SCHEMA_VERSION
    # a real change of config is still named
    with pytest.raises(RunExistsError, match=r"train.lr: 0.001 -> 0.002"):
        train(apply_overrides(cfg, ["train.lr=0.002"]), run, progress=False)


def test_new_files_carry_the_schema_version(tmp_path):
    cfg = tiny_cfg()
    text = json.loads(cfg.to_json())
    assert next(iter(text)) == "schema_version" and text["schema_version"] == SCHEMA_VERSION
    assert RunConfig.from_json(cfg.to_json()) == cfg
    runs = plan_sweep(tmp_path, [({"seed": 0}, cfg)])
    doc = json.loads(write_sweep(tmp_path, runs).read_text())
    assert doc["runs"][0]["config"]["schema_version"] == SCHEMA_VERSION
    assert [r.key for r in read_sweep(tmp_path)] == [runs[0].key]


# ----------------------------------------------------------------------------- a new field
@dataclass
class TrainConfigV5(TrainConfig):
    new_knob: float = 0.5  # what new runs get; runs before it had 0.0


@dataclass
class RunConfigV5(RunConfig):
    train: TrainConfigV5 = field(default_factory=TrainConfigV5)


RunConfigV5.__name__ = "RunConfig"  # migrations name the class they apply to


@dataclass
class ToyExperimentConfig:
    name: str = "toy"
    run: RunConfigV5 = field(default_factory=RunConfigV5)


@pytest.fixture
def knob_added(monkeypatch):
    """The code after "v4 -> v5: train.new_knob added, old value 0.0": one migration."""
    step = Migration(SCHEMA_VERSION + 1, added={"train.new_knob": 0.0})
    monkeypatch.setattr(migrate, "MIGRATIONS", (*migrate.MIGRATIONS, step))
    monkeypatch.setattr(migrate, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    return SCHEMA_VERSION + 1


def test_adding_a_field_changes_no_committed_key(knob_added):
    for path, key, saved in committed_runs():
        cfg = from_dict(RunConfigV5, saved)
        assert cfg.train.new_knob == 0.0  # the migration's value, not the default
        assert run_key(cfg) == key, path
    new = RunConfigV5()
    assert new.train.new_knob == 0.5
    assert run_key(new) != run_key(apply_overrides(new, ["train.new_knob=0.0"]))


def test_adding_a_field_loads_and_resumes_configs_saved_without_it(knob_added, tmp_path):
    current = to_dict(RunConfig())  # saved by the code before the field: version 4
    v4 = migrate.stamp(current) | {"schema_version": knob_added - 1}
    assert from_dict(RunConfigV5, v4).train.new_knob == 0.0
    assert from_dict(RunConfigV5, current).train.new_knob == 0.0  # unversioned: the oldest
    v5 = migrate.stamp(current)  # a version-5 file without the field: its default
    assert v5["schema_version"] == knob_added and from_dict(RunConfigV5, v5).train.new_knob == 0.5
    # an experiment config passes its file's version to the run config inside it
    exp = {"schema_version": knob_added - 1, "name": "toy", "run": current}
    assert from_dict(ToyExperimentConfig, exp).run.train.new_knob == 0.0
    exp["schema_version"] = knob_added
    assert from_dict(ToyExperimentConfig, exp).run.train.new_knob == 0.5

    # resume: a finished run saved at version 4 is the same run at the migration's value
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(v4))
    (run / "state.json").write_text(json.dumps({"finished": True, "epoch": 1, "step": 4}))
    cfg = from_dict(RunConfigV5, v4)
    with pytest.raises(RunExistsError, match="holds a finished run"):
        train(cfg, run, progress=False)
    with pytest.raises(RunExistsError, match=r"another config \(train.new_knob: 0.0 -> 0.5\)"):
        train(apply_overrides(cfg, ["train.new_knob=0.5"]), run, progress=False)


# ----------------------------------------------------------------------------- refusals
def test_a_config_from_a_newer_version_is_refused(tmp_path):
    future = migrate.stamp(to_dict(tiny_cfg())) | {"schema_version": SCHEMA_VERSION + 1}
    both = rf"schema version {SCHEMA_VERSION + 1}\).*\(schema version {SCHEMA_VERSION}\)"
    with pytest.raises(migrate.FutureSchemaError, match=both):
        from_dict(RunConfig, future)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(future))
    with pytest.raises(ValueError, match=rf"config.json: .*{both}"):
        read_run_config(run)
    with pytest.raises(ValueError, match=rf"config.json: .*{both}"):
        train(tiny_cfg(), run, progress=False)  # not compared as "another config"
    ckpt = tmp_path / "future.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "config": future}, ckpt)
    with pytest.raises(ValueError, match=rf"future.pt: .*{both}"):
        load_model(ckpt)
    (tmp_path / "experiment.json").write_text(json.dumps({"schema_version": 99, "name": "toy"}))
    from factordiff.experiments.skeleton import saved_config_matches

    with pytest.raises(ValueError, match=r"experiment.json: .*schema version 99"):
        saved_config_matches(tmp_path, ToyExperimentConfig())
    for bad in ("4", 0, True, 2.0):
        with pytest.raises(ValueError, match=rf"schema_version = {bad!r} is invalid; allowed"):
            from_dict(RunConfig, {"schema_version": bad})
