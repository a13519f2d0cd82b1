"""Generated tables in the documentation: a table written between two markers of a
markdown file (atomically) with its numbers as JSON beside it, and the command line of the
modules that regenerate them (``python -m factordiff.analysis.calibration [ROOT]``,
``...nulls``, ``...value_bounds``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from factordiff.config import json_ready


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _split_at_markers(path: Path, start: str, end: str) -> tuple[str, str]:
    """The text of ``path`` before ``start`` and after ``end``; ``ValueError`` when either
    marker is missing."""
    doc = path.read_text()
    if start not in doc or end not in doc:
        raise ValueError(f"{path} has no {start} ... {end} section for the table")
    before, rest = doc.split(start, 1)
    return before, rest.split(end, 1)[1]


def replace_between(path: Path, start: str, end: str, text: str) -> None:
    """Put ``text`` between the markers ``start`` and ``end`` of ``path``; ``ValueError``
    (nothing written) when they are missing."""
    before, after = _split_at_markers(path, start, end)
    _write_atomic(path, f"{before}{start}\n{text}{end}{after}")


def write_table_and_json(
    markdown_path: str | Path, start: str, end: str, table: str, json_path: str | Path, doc
) -> None:
    """``table`` between the markers of ``markdown_path`` and ``doc`` as JSON at ``json_path``;
    the markers are checked first, so a document without them gets nothing written."""
    markdown_path, json_path = Path(markdown_path), Path(json_path)
    _split_at_markers(markdown_path, start, end)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(json_path, json.dumps(json_ready(doc), indent=2) + "\n")
    replace_between(markdown_path, start, end, table)


def repository_root(root: str | Path | None) -> Path:
    """``root``, or the repository holding this package's source."""
    return Path(root) if root is not None else Path(__file__).resolve().parents[3]


def run_command(
    prog: str, description: str, main, argv=None, grids: tuple[int, ...] | None = None
) -> None:
    """The command line of a calibration module: ``python -m PROG [ROOT]`` calls ``main(ROOT)``
    after checking that ROOT holds docs/analysis.md. With ``grids`` (the grid sizes whose
    tables the docs hold, the first the default) it takes ``--n N`` and calls
    ``main(ROOT, n=N)``."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "root", nargs="?", help="repository root (default: the one holding this package)"
    )
    if grids:
        parser.add_argument(
            "--n",
            type=int,
            default=grids[0],
            help=f"the n x n condition grid (default {grids[0]}; allowed: "
            f"{', '.join(map(str, grids))})",
        )
    args = parser.parse_args(argv)
    if args.root is not None and not (Path(args.root) / "docs" / "analysis.md").is_file():
        parser.error(f"root {args.root!r} is invalid; allowed: a folder holding docs/analysis.md")
    if not grids:
        main(args.root)
        return
    if args.n not in grids:
        parser.error(f"--n {args.n} is invalid; allowed: {', '.join(map(str, grids))}")
    main(args.root, n=args.n)
