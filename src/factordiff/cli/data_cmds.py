"""``factordiff data list`` and ``factordiff data preview``: the dataset presets."""

from __future__ import annotations

import argparse

from factordiff.cli import output
from factordiff.cli.common import add_set_option, check_at_least


def _cmd_data_list(args: argparse.Namespace) -> int:
    from factordiff.data.presets import preset_table

    output.print_lines(output.dataset_table(preset_table()))
    return 0


def _cmd_data_preview(args: argparse.Namespace) -> int:
    from factordiff.data.presets import preview_preset

    check_at_least("--n", args.n, 1)
    check_at_least("--seed", args.seed, 0)
    path, ds = preview_preset(args.dataset, args.out, n=args.n, seed=args.seed, overrides=args.set)
    print(output.preview_written(path, args.dataset, ds))
    return 0


def add_data_commands(sub: argparse._SubParsersAction) -> None:
    """``data`` and its actions ``list`` and ``preview``."""
    data = sub.add_parser("data", help="list and preview the datasets")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    p = actions.add_parser("list", help="list the dataset presets")
    p.set_defaults(handler=_cmd_data_list)

    p = actions.add_parser("preview", help="write a labelled grid of example images")
    p.add_argument("dataset", metavar="DATASET", help="a preset name (see `factordiff data list`)")
    p.add_argument("--out", required=True, help="image file to write, e.g. grid.png")
    p.add_argument("--n", type=int, default=16, help="number of examples (default 16)")
    p.add_argument("--seed", type=int, default=0, help="dataset and example seed (default 0)")
    add_set_option(p, "override a data field, e.g. --set dx=0.5 (repeatable)")
    p.set_defaults(handler=_cmd_data_preview)
