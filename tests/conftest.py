import os
import shutil

import matplotlib
import pytest
import torch

from factordiff.hardware import NATIVE_BF16_ENV, REFUSE_AUTO_ENV

matplotlib.use("Agg")
# Tiny models gain nothing from a second thread, and OpenMP's spin-waiting makes a
# multi-threaded torch crawl when the cores are shared (e.g. pytest beside other work).
torch.set_num_threads(1)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "defaults: exercises precision = auto (the machine's choice); .ci/run runs these a second "
        "time as the other CPU kind (factordiff machine --other-kind-env)",
    )


@pytest.fixture(autouse=True)
def _precision_pinned(request, monkeypatch):
    """The guard: outside tests marked ``defaults``, ``precision = auto`` raises (in this process
    and in the sweep workers it spawns, which inherit the environment), so no test that trains or
    compares numbers depends on whether the CPU computes bf16 natively. Tests pin
    ``train.precision`` to fp32, or to bf16 where bf16 is what they test."""
    if request.node.get_closest_marker("defaults") is None:
        monkeypatch.setenv(REFUSE_AUTO_ENV, "1")
    else:
        monkeypatch.delenv(REFUSE_AUTO_ENV, raising=False)
    yield


def other_kind() -> bool:
    """True when the suite runs as the other CPU kind (``FACTORDIFF_NATIVE_BF16`` is set)."""
    return bool(os.environ.get(NATIVE_BF16_ENV, "").strip())


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A finished tiny run (16 px, label range [0, 16], epochs 0, 2, 4 kept; fp32), trained once
    for the bad-input tests; they copy it (the ``run`` fixture) before touching it."""
    from factordiff.cli import main

    run = tmp_path_factory.mktemp("trained") / "run"
    argv = ["train", "--preset", "tiny", "--out", str(run), "--no-progress"]
    assert main(argv + ["--set", "train.precision=fp32"]) == 0
    return run


@pytest.fixture
def run(trained_run, tmp_path):
    """A copy of :func:`trained_run` that a test may change."""
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy)
    return copy


@pytest.fixture(scope="session")
def exp1_tiny_finished(tmp_path_factory):
    """A finished ``exp1-tiny`` experiment (fp32, its map included), run once for the suite;
    tests that change it copy it first."""
    from factordiff.cli import main

    out = tmp_path_factory.mktemp("exp1-tiny") / "exp1"
    argv = ["experiment", "exp1-tiny", "--out", str(out), "--no-progress", "--workers", "1"]
    assert main(argv + ["--set", "run.train.precision=fp32"]) == 0
    return out
