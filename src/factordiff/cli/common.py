"""What several commands share: options added to more than one parser, option values checked
and turned into library arguments, and the executor the executor options name.

Module level: argparse and the standard library only (``factordiff --help`` stays lazy);
factordiff modules are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

#: A command's handler: the parsed arguments in, the exit status out.
Handler = Callable[[argparse.Namespace], int]

DEVICE_HELP = "auto | cpu | cuda | cuda:N | mps"


# ----------------------------------------------------------------------------- options
def add_config_option(p: argparse.ArgumentParser, example: str) -> None:
    """--config FILE: the keys --set takes, as TOML tables (:mod:`factordiff.config_files`)."""
    p.add_argument(
        "--config",
        metavar="FILE",
        help="a TOML file of the keys --set takes, applied after the preset and before "
        f"--set (which wins); e.g. a file of the lines {example}",
    )


def add_set_option(p: argparse.ArgumentParser, help_text: str) -> None:
    """--set KEY=VALUE, repeatable, collected in a list."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help_text)


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer >= 1, else a usage error naming the value."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid; allowed: an integer >= 1")
    return value


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """--executor, --workers, --threads, --address, --max-retries (read by :func:`executor`)
    and --analysis-workers."""
    p.add_argument(
        "--executor", default="local", choices=["local", "ray"], help="how runs are trained"
    )
    p.add_argument("--workers", type=int, help="local: worker processes (default 2)")
    p.add_argument(
        "--threads", type=int, help="torch threads per worker or Ray task (default 1; >= 1)"
    )
    p.add_argument(
        "--address",
        help="ray: HOST:PORT, ray://HOST:PORT or auto, a cluster to join; it must answer "
        "within 5 s, before anything is written (default: Ray on this machine)",
    )
    p.add_argument(
        "--max-retries",
        type=int,
        default=None,
        help="ray: retries of a run whose worker dies (default 3; the local executor does not "
        "retry: rerun to resume)",
    )
    p.add_argument(
        "--analysis-workers",
        type=positive_int,
        default=None,
        metavar="N",
        help="analyse up to N runs at once, in separate processes (default: as many as "
        "--workers with the local executor, 1 with ray)",
    )


# ----------------------------------------------------------------------------- values
def check_at_least(option: str, value: int, low: int) -> None:
    """A ``ValueError`` naming ``option`` unless ``value >= low``."""
    if value < low:
        raise ValueError(f"{option} = {value} is invalid; allowed: an integer >= {low}")


def parse_seeds(text: str | None) -> list[int] | None:
    """``"0,1,2"`` -> ``[0, 1, 2]``."""
    if text is None:
        return None
    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        seeds = []
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"--seeds {text!r} is invalid; allowed: comma-separated integers >= 0")
    return seeds


def experiment_seeds(args: argparse.Namespace) -> list[int] | None:
    """--seed or --seeds (exclusive) as a list of seeds; None when neither is given."""
    seeds = parse_seeds(args.seeds)
    if seeds is not None and args.seed is not None:
        raise ValueError("--seed and --seeds are exclusive; use --seeds for a sweep over seeds")
    return [args.seed] if args.seed is not None else seeds


def command_line(args: argparse.Namespace) -> str:
    """The command as typed, recorded in the summary (``--command-line`` replaces it)."""
    if getattr(args, "command_line", None) is not None:
        return args.command_line
    return "factordiff " + " ".join(sys.argv[1:])


def run_config(
    preset: str, config: str | None, seed: int | None, device: str | None, overrides: list[str]
):
    """Preset -> --config FILE -> --seed/--device -> --set overrides -> validated RunConfig."""
    from factordiff.config import apply_overrides
    from factordiff.config_files import config_file_overrides
    from factordiff.presets import preset_config

    cfg = preset_config(preset)
    extra = list(overrides)
    if seed is not None:
        extra.insert(0, f"seed={seed}")
    if device is not None:
        extra.insert(0, f"device={device}")
    extra = config_file_overrides(config, cfg, extra)  # the file first: the command line wins
    return apply_overrides(cfg, extra)


# ----------------------------------------------------------------------------- executors
def executor(args: argparse.Namespace):
    """The sweep executor the executor options name."""
    from factordiff.experiments.sweep import make_executor

    return make_executor(
        args.executor,
        workers=args.workers,
        threads=args.threads,
        address=args.address,
        max_retries=args.max_retries,
    )


def analysis_workers(args: argparse.Namespace, executor) -> int:
    """--analysis-workers, or its default: the local ``executor``'s worker count (the cores
    the training used), one with Ray (whose workers may be other machines)."""
    if args.analysis_workers is not None:
        return args.analysis_workers
    return getattr(executor, "workers", 1)
