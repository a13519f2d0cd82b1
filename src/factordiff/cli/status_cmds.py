"""``factordiff sweep status`` and ``factordiff machine``: what a sweep folder holds, and
what this machine is and runs as (nothing is trained or written)."""

from __future__ import annotations

import argparse

from factordiff.cli import output


def _cmd_sweep_status(args: argparse.Namespace) -> int:
    from factordiff.experiments.sweep import sweep_status

    output.print_lines(output.sweep_status(sweep_status(args.dir)))
    return 0


def _cmd_machine(args: argparse.Namespace) -> int:
    from factordiff.hardware import auto_precision_line, other_kind_env

    if args.other_kind_env:  # KEY=VALUE lines for `env $(factordiff machine --other-kind-env) ...`
        output.print_lines(f"{key}={value}" for key, value in other_kind_env().items())
        return 0
    print(auto_precision_line())
    return 0


def add_sweep_commands(sub: argparse._SubParsersAction) -> None:
    """``sweep`` and its action ``status``."""
    sweep = sub.add_parser("sweep", help="inspect a sweep folder")
    actions = sweep.add_subparsers(dest="sweep_command", required=True, metavar="ACTION")
    p = actions.add_parser("status", help="runs done, running, failed, pending; steps left")
    p.add_argument("dir", metavar="DIR", help="a sweep folder (holds sweep.json)")
    p.set_defaults(handler=_cmd_sweep_status)


def add_machine_command(sub: argparse._SubParsersAction) -> None:
    """``machine [--other-kind-env]``."""
    p = sub.add_parser("machine", help="the CPU as reports name it and what `auto` picks there")
    p.add_argument(
        "--other-kind-env",
        action="store_true",
        help="print KEY=VALUE settings that make this machine run as the other CPU kind "
        "(with native bf16 <-> without), e.g. env $(factordiff machine --other-kind-env) CMD",
    )
    p.set_defaults(handler=_cmd_machine)
