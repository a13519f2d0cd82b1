"""Command line: ``factordiff COMMAND ...``.

Thin on purpose: parse, resolve a config, call one library function, print where outputs
went. One module per group of commands (``run_cmds``: list, train, sample, evaluate;
``analyze_cmds``; ``experiment_cmds``: experiment, variants; ``data_cmds``;
``reproduce_cmds``: reproduce, gpu-paper, report; ``status_cmds``: sweep status, machine),
each with small ``_cmd_*`` handlers registered by an ``add_*_command(s)`` function; the
options and values several commands share are in ``common``, the lines they print in
``output``. This module builds the parser and maps errors to exit codes: a ``ValueError``
from any handler prints ``error: <message>`` to stderr and exits 2.

Commands:
    factordiff list
    factordiff train --preset NAME [--config FILE.toml] [--set section.key=value ...]
                     [--out DIR] [--dry-run] [--tensorboard]
                     (default DIR: runs/train/NAME; an experiment's is runs/NAME)
    factordiff sample RUN --labels "3.5,4.5;10,12" [--out DIR]
    factordiff evaluate RUN [--dataset PRESET] [--num-samples K]
    factordiff analyze RUN [--checkpoints all|last|EPOCHS] [--layer NAME] [--t STEP] [--out DIR]
    factordiff analyze RUN --layers all|L1,L2 --ts 999,500 --pooling flatten,mean --noise 1,16
    factordiff experiment exp1 [--quick] [--out DIR] [--seeds 0,1,2] [--config FILE.toml]
                          [--set KEY=VALUE ...]
                          [--variant NAME[,NAME...]]
                          [--executor local|ray] [--workers W] [--threads T] [--address A]
    factordiff reproduce [--scale quick|paper|tiny] [--only exp1,exp2] [--out DIR]
                         (quick by default; the paper scale, meant for a GPU, only with
                         --scale paper)
                         [--executor local|ray] [--workers W] [--threads T] [--address A]
    factordiff report DIR [--out FILE]
    factordiff gpu-paper [--scale paper|tiny] [--device cuda] [--archive FILE]
    factordiff variants FOLDER... --out DIR
    factordiff sweep status DIR
    factordiff machine [--other-kind-env]
    factordiff data list
    factordiff data preview DATASET --out grid.png [--n 16] [--seed 0] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys

# Module level: argparse, the standard library and the command modules, which import only
# those too. Every other factordiff module a command needs is imported inside its handler,
# so `factordiff --help` loads neither torch nor numpy (tests/test_cli_lazy.py checks it).
from factordiff.cli.analyze_cmds import add_analyze_command
from factordiff.cli.common import Handler
from factordiff.cli.common import analysis_workers as _analysis_workers
from factordiff.cli.common import executor as _executor
from factordiff.cli.data_cmds import add_data_commands
from factordiff.cli.experiment_cmds import (
    add_experiment_command,
    add_pool_command,
    add_variants_command,
)
from factordiff.cli.reproduce_cmds import add_reproduce_commands
from factordiff.cli.run_cmds import add_run_commands
from factordiff.cli.status_cmds import add_machine_command, add_sweep_commands

# _analysis_workers and _executor: the names tests import from here since cli was one module
__all__ = ["Handler", "build_parser", "main", "_analysis_workers", "_executor"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="factordiff",
        description="How diffusion models learn to factorize and compose (Liang et al. 2024).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # In this order: `factordiff --help` lists the commands as registered.
    add_run_commands(sub)
    add_analyze_command(sub)
    add_experiment_command(sub)
    add_data_commands(sub)
    add_reproduce_commands(sub)
    add_variants_command(sub)
    add_pool_command(sub)
    add_sweep_commands(sub)
    add_machine_command(sub)
    return parser


#: Options whose value may start with "-" (argparse would read ``--labels -5,3`` as an option).
_DASH_VALUE_OPTIONS = ("--labels",)


def _join_dash_values(argv: list[str]) -> list[str]:
    """``["--labels", "-5,3"]`` -> ``["--labels=-5,3"]`` for :data:`_DASH_VALUE_OPTIONS`."""
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a in _DASH_VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
        else:
            out.append(a)
            i += 1
    return out


def _os_error_message(exc: OSError) -> str:
    """One line for a file-system error: the path, the reason and what is needed."""
    if exc.filename is None:  # raised by factordiff with its own message
        return str(exc)
    path = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
    return f"{path}: {exc.strerror or exc}; allowed: a path you can read and write (see --out)"


def _run(args: argparse.Namespace) -> int:
    """The command's handler, its errors as one line on stderr and an exit status."""
    from factordiff.experiments.sweep import SweepFailed
    from factordiff.training import RunExistsError, TrainingDiverged

    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, RunExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (TrainingDiverged, SweepFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
        print(f"error: {_os_error_message(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. a full disk: still one line, no traceback
        print(f"error: {_os_error_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 bad input or an unusable
    path, 1 a run that diverged or another system error)."""
    parser = build_parser()
    # One line at a time also into a file or a pipe (`nohup factordiff reproduce > log &`):
    # progress lines of an hours-long run must not wait in a block buffer.
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):  # a stream that is not a text file
        pass
    argv = _join_dash_values(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help already
        return exc.code if isinstance(exc.code, int) else 2
    return _run(args)
