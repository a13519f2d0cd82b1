"""What made a result: the package version, the git commit of the source tree (when it is a
git checkout), torch's version. Written into every experiment's ``summary.json`` so that a
page built from committed results can say which code made them."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path


@functools.lru_cache(maxsize=1)
def git_commit(path: str | Path | None = None) -> str | None:
    """The commit of the checkout holding ``path`` (default: this package's source), with
    ``+dirty`` when tracked files differ from it; None outside a git checkout or without git."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit or None


def provenance() -> dict:
    """``{"factordiff": version, "git_commit": commit or None, "torch": version}``."""
    import torch

    from factordiff import __version__

    return {"factordiff": __version__, "git_commit": git_commit(), "torch": torch.__version__}
