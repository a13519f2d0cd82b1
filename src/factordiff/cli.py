"""Command line: ``factordiff COMMAND ...``.

Thin on purpose: parse, resolve a config, call one library function, print where outputs
went. Each command is a small ``_cmd_*`` handler registered by an ``_add_*_commands``
function, so new commands (train, sample, evaluate, analyze, experiment) plug in beside
``data``. A ``ValueError`` from any handler prints ``error: <message>`` to stderr and exits 2.

Commands:
    factordiff data list
    factordiff data preview DATASET --out grid.png [--n 16] [--seed 0] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from factordiff.config import DataConfig, apply_overrides

Handler = Callable[[argparse.Namespace], int]


# ----------------------------------------------------------------------------- helpers
def _resolve_data_config(name: str, overrides: list[str]) -> DataConfig:
    """Preset ``name`` with ``key=value`` overrides of its fields (``data.`` prefix allowed)."""
    from factordiff.data import get_dataset_preset

    cfg = get_dataset_preset(name)
    plain = [o[len("data.") :] if o.startswith("data.") else o for o in overrides]
    cfg = apply_overrides(cfg, plain)
    cfg.validate()
    return cfg


# ----------------------------------------------------------------------------- data
def _cmd_data_list(args: argparse.Namespace) -> int:
    from factordiff.data import DATASET_DESCRIPTIONS, DATASET_PRESETS, build_labels

    width = max(map(len, DATASET_PRESETS))
    print(f"{'name':<{width}}  {'kind':<7}  {'images':>7}  description")
    for name, cfg in DATASET_PRESETS.items():
        count = len(build_labels(cfg, seed=0).labels)  # labels only: cheap even when dense
        print(f"{name:<{width}}  {cfg.kind:<7}  {count:>7}  {DATASET_DESCRIPTIONS[name]}")
    return 0


def _cmd_data_preview(args: argparse.Namespace) -> int:
    from factordiff.data import build_dataset
    from factordiff.data.preview import save_preview

    if args.n < 1:
        raise ValueError(f"--n = {args.n} is invalid; allowed: an integer >= 1")
    if args.seed < 0:
        raise ValueError(f"--seed = {args.seed} is invalid; allowed: an integer >= 0")
    cfg = _resolve_data_config(args.dataset, args.set)
    ds = build_dataset(cfg, seed=args.seed)
    path = save_preview(ds, args.out, n=args.n, seed=args.seed, title=args.dataset)
    parts = ", ".join(f"{k} {v}" for k, v in ds.part_counts.items())
    print(f"wrote {path} ({args.dataset}: {len(ds)} images; {parts})")
    return 0


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="list and preview the datasets")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    p = actions.add_parser("list", help="list the dataset presets")
    p.set_defaults(handler=_cmd_data_list)

    p = actions.add_parser("preview", help="write a labelled grid of example images")
    p.add_argument("dataset", metavar="DATASET", help="a preset name (see `factordiff data list`)")
    p.add_argument("--out", required=True, help="image file to write, e.g. grid.png")
    p.add_argument("--n", type=int, default=16, help="number of examples (default 16)")
    p.add_argument("--seed", type=int, default=0, help="dataset and example seed (default 0)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a data field, e.g. --set dx=0.5 (repeatable)",
    )
    p.set_defaults(handler=_cmd_data_preview)


# ----------------------------------------------------------------------------- entry point
def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="factordiff",
        description="How diffusion models learn to factorize and compose (Liang et al. 2024).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_data_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help already
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.handler(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
