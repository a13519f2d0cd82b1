"""Lazy imports: ``factordiff --help`` loads no heavy library, and the package's public names
still resolve on first use (PEP 562)."""

import json
import subprocess
import sys

import pytest

import factordiff as fd

#: Libraries that take seconds to import; none may load for a command's --help.
HEAVY = ("torch", "diffusers", "numpy", "matplotlib", "sklearn", "scipy", "ray", "umap", "ripser")


def _loaded_after(code: str) -> list[str]:
    """The heavy libraries loaded after ``code`` runs in a fresh interpreter."""
    probe = (
        "import io, json, sys, contextlib\n"
        f"{code}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv", [["--help"], ["train", "--help"], ["experiment", "--help"], ["data", "--help"]]
)
def test_help_loads_no_heavy_library(argv):
    code = (
        "from factordiff import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        status = cli.main({argv!r})\n"
        "    except SystemExit as exc:\n"
        "        status = exc.code\n"
        "assert status == 0, status"
    )
    assert _loaded_after(code) == []


def test_importing_the_package_and_the_config_loads_no_heavy_library():
    assert _loaded_after("import factordiff, factordiff.config, factordiff.presets") == []


def test_every_public_name_resolves():
    for name in fd.__all__:
        assert getattr(fd, name) is not None, name
    assert fd.build_model.__module__.startswith("factordiff.")
    assert fd.RunConfig is __import__("factordiff.config", fromlist=["RunConfig"]).RunConfig
    from factordiff import GaussianDiffusion, train  # the from-import form as well

    assert callable(train) and isinstance(GaussianDiffusion, type)


def test_public_names_are_listed_by_dir():
    assert set(fd.__all__) <= set(dir(fd))
    assert set(fd.__all__) == set(fd._LAZY) | {"__version__"}


def test_submodules_resolve_and_unknown_names_fail():
    assert fd.hardware.__name__ == "factordiff.hardware"
    with pytest.raises(AttributeError, match="no_such_name"):
        fd.no_such_name  # noqa: B018
    assert not hasattr(fd, "_private_thing")
