"""Every summary says which code made it: package version, git commit, torch version."""

import re
import subprocess

import torch

from factordiff import __version__
from factordiff.provenance import git_commit, provenance


def test_provenance_names_the_version_the_commit_and_torch():
    p = provenance()
    assert p["factordiff"] == __version__ and p["torch"] == torch.__version__
    commit = p["git_commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", commit), commit


def test_git_commit_outside_a_checkout_is_none_and_dirty_is_marked(tmp_path):
    assert git_commit.__wrapped__(tmp_path) is None
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "a.txt").write_text("1")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], check=True)
    clean = git_commit.__wrapped__(repo)
    assert re.fullmatch(r"[0-9a-f]{40}", clean)
    (repo / "a.txt").write_text("2")
    assert git_commit.__wrapped__(repo) == clean + "+dirty"
