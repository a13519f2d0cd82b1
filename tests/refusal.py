"""Shared checks of the bad-input tests: a refusal is one ``error:`` line, exit non-zero, and
nothing written or changed."""

from __future__ import annotations

from pathlib import Path

from factordiff.cli import main


def files_under(path: Path) -> set[str]:
    """The names of every file and folder under ``path``."""
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def snapshot(path: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every file under ``path`` (its bytes and modification time) and folder (None)."""
    return {
        str(p.relative_to(path)): (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else None
        for p in sorted(path.rglob("*"))
    }


def refused(capsys, argv: list[str], *needles: str) -> str:
    """Run ``main(argv)``; it must fail with one ``error:`` line holding every needle."""
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0, argv
    assert err.startswith("error: ") and "\n" not in err, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)
    return err
