"""The one catalog of named settings: run, dataset and experiment presets and variants."""

from __future__ import annotations

import pytest

from factordiff.config.catalog import CATALOG, KINDS, CatalogEntry, PresetCatalog
from factordiff.data import get_dataset_preset
from factordiff.experiments import preset_names, resolve_experiment
from factordiff.experiments.configs import finish_config
from factordiff.experiments.registry import (
    SCALES,
    experiments,
    preset_for,
    register_experiment,
    unregister_experiment,
)
from factordiff.experiments.skeleton import Experiment, ExperimentPreset
from factordiff.experiments.variants import ExperimentVariant
from factordiff.presets import get_preset
from factordiff.presets import preset_names as run_preset_names


def test_every_kind_of_named_setting_is_in_the_one_catalog():
    experiments()  # the paper's four, loaded
    assert KINDS == ("run", "data", "experiment", "variant")
    assert {"small", "quick", "tiny", "rung0", "rung7"} <= set(CATALOG.names("run"))
    assert {"bump", "bump-periodic", "sos-plus-hole+stripes"} <= set(CATALOG.names("data"))
    assert sorted(CATALOG.names("run")) == run_preset_names()
    assert CATALOG.get("run", "small").value is get_preset("small")
    assert CATALOG.get("data", "bump").value == get_dataset_preset("bump")
    assert sorted(CATALOG.names("experiment")) == preset_names()
    assert CATALOG.names("variant", "exp1") == [
        "default",
        "paper-objective",
        "k16",
        "k1",
        "positional",
        "long",
    ]  # as exp1 declares them
    # the scale map of `factordiff reproduce` is the catalog's
    for exp in experiments():
        for scale in SCALES:
            entry = CATALOG.at_scale(exp.name, scale)
            assert entry.owner == exp.name and entry.name == exp.scales[scale]
            assert preset_for(exp.name, scale) == entry.name


def test_a_lookup_names_what_is_allowed_and_a_name_is_taken_once():
    cat = PresetCatalog()
    cat.register(CatalogEntry("run", "a", "first"))
    with pytest.raises(ValueError, match=r"run preset 'a' is already registered"):
        cat.register(CatalogEntry("run", "a", "again"))
    cat.register(CatalogEntry("run", "a", "again"), replace=True)
    assert cat.get("run", "a").description == "again"
    with pytest.raises(ValueError, match=r"unknown run preset 'b'; allowed: \['a'\]"):
        cat.get("run", "b")
    with pytest.raises(ValueError, match=r"kind = 'model' is invalid; allowed: run, data"):
        cat.entries("model")
    with pytest.raises(ValueError, match="has no owner"):
        cat.register(CatalogEntry("variant", "v", "no experiment"))
    # variants are unique within their experiment only
    cat.register(CatalogEntry("variant", "v", "of e1", owner="e1"))
    cat.register(CatalogEntry("variant", "v", "of e2", owner="e2"))
    assert cat.get("variant", "v", owner="e2").description == "of e2"
    with pytest.raises(ValueError, match=r"unknown variant of e1 'w'; allowed: \['v'\]"):
        cat.get("variant", "w", owner="e1")
    cat.remove_owner("e1")
    assert cat.names("variant") == ["v"] and cat.entries("variant")[0].owner == "e2"


def test_every_experiment_preset_builds_the_config_its_experiment_resolves():
    """Each experiment preset's record carries the function that builds its config: the
    experiment's ``config`` is that function's config, finished (no seeds, no overrides)."""
    owners = {exp.name: exp for exp in experiments()}
    entries = CATALOG.entries("experiment")
    assert sorted(e.name for e in entries) == preset_names()
    for entry in entries:
        preset = entry.value
        assert callable(preset.build), f"{entry.name} has no build"
        built = finish_config(preset.build(), None, None)
        assert owners[entry.owner].config(entry.name) == built, entry.name
        # the run preset the record names is the network the config trains
        assert built.run.model == get_preset(preset.run_preset).config.model, entry.name
        # a fresh config each call: an override of one resolution cannot reach the next
        assert preset.build().run is not preset.build().run, entry.name
    # `build` takes no part in a record's equality or repr
    a = ExperimentPreset("p", "d", "e", "tiny")
    assert a == ExperimentPreset("p", "d", "e", "tiny", build=lambda: None)
    assert "build" not in repr(a)


class _Toy(Experiment):
    name = "toycat"
    title = "a toy"
    order = 99
    presets = {
        p: ExperimentPreset(p, f"toy at {p}", "nothing", "tiny")
        for p in ("toycat", "toycat-quick", "toycat-tiny")
    }
    scales = {"paper": "toycat", "quick": "toycat-quick", "tiny": "toycat-tiny"}
    variants = {"plain": ExperimentVariant("plain", "as it is", lambda c: [])}


def test_an_experiment_brings_its_presets_and_variants_and_takes_them_away():
    register_experiment(_Toy())
    try:
        assert CATALOG.at_scale("toycat", "quick").name == "toycat-quick"
        assert CATALOG.get("experiment", "toycat-tiny").scale == "tiny"
        assert CATALOG.get("variant", "plain", owner="toycat").description == "as it is"
        assert resolve_experiment("toycat", quick=True)[1] == "toycat-quick"
        assert "toycat-tiny" in preset_names()
    finally:
        unregister_experiment("toycat")
    assert not CATALOG.has("experiment", "toycat") and CATALOG.names("variant", "toycat") == []


def test_an_experiment_whose_preset_name_is_taken_is_refused_whole():
    class Clash(_Toy):
        name = "clash"
        presets = {**_Toy.presets, "exp1-quick": ExperimentPreset("exp1-quick", "x", "y", "tiny")}
        scales = {"paper": "toycat", "quick": "exp1-quick", "tiny": "toycat-tiny"}

    experiments()
    with pytest.raises(ValueError, match="experiment preset 'exp1-quick' is already registered"):
        register_experiment(Clash())
    assert CATALOG.names("experiment", "clash") == []
    assert CATALOG.get("experiment", "exp1-quick").owner == "exp1"
