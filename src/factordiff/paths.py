"""Checks on output paths, shared by every command that writes files."""

from __future__ import annotations

import tempfile
from pathlib import Path

__all__ = ["check_writable_folder"]


def check_writable_folder(folder: str | Path) -> None:
    """Raise unless ``folder`` (existing, or to be created) can be written in; creates nothing.

    Called before long work (sampling, training) so a bad output folder fails at once instead
    of after the work is done. Raises ``NotADirectoryError`` when the folder or one of its
    parents is a file, ``PermissionError`` when its nearest existing folder cannot be written."""
    folder = Path(folder)
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        where = "" if probe == folder else f" ({probe} is a file)"
        raise NotADirectoryError(f"{folder} is not a folder{where}; allowed: a folder path")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        raise PermissionError(
            f"{folder} cannot be written ({probe}: {e.strerror}); allowed: a folder you can "
            "write to"
        ) from e
