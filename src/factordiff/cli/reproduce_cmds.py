"""``factordiff reproduce``, ``gpu-paper`` and ``report``: every experiment of the paper, its
GPU-scale core on one machine, and the HTML page of finished experiments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from factordiff.cli import output
from factordiff.cli.common import (
    DEVICE_HELP,
    add_executor_options,
    analysis_workers,
    command_line,
    executor,
)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from factordiff.experiments.reproduce import (
        default_out,
        failure_message,
        parse_only,
        reproduce,
        resolve_scale,
    )

    scale = resolve_scale(args.scale, quick=args.quick)
    only = parse_only(args.only)
    ex = executor(args)
    out = Path(args.out) if args.out else default_out(scale)
    print(f"reproducing {', '.join(only)} at the {scale} scale into {out.resolve()}")
    record = reproduce(
        out,
        scale=scale,
        only=only,
        executor=ex,
        device=args.device,
        reanalyse=args.reanalyse,
        command=command_line(args),
        progress=not args.no_progress,
        analysis_workers=analysis_workers(args, ex),
        pool=not args.no_pool,
    )
    print(f"wrote {record['page']} and {out.resolve() / 'reproduce.json'}")
    if record["failed"]:
        print(f"error: {failure_message(record, out)}", file=sys.stderr)
        return 1
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from factordiff.experiments.html_report import write_report

    path = write_report(args.dir, args.out, force=args.force, readme=args.readme)
    print(f"wrote {Path(path).resolve()}")
    return 0


def _cmd_gpu_paper(args: argparse.Namespace) -> int:
    from factordiff.experiments.gpu_paper import run_gpu_paper

    record = run_gpu_paper(
        args.scale,
        args.out,
        device=args.device,
        workers=args.workers,
        archive=args.archive,
        command=command_line(args),
    )
    print(output.archive_written(record["archive"]))
    return 0


def _add_reproduce_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce", help="run every experiment of the paper, then write report.html"
    )
    p.add_argument(
        "--quick", action="store_true", help="the reduced CPU scale (--scale quick, the default)"
    )
    from factordiff.experiments.registry import SCALES, experiment_names

    p.add_argument(
        "--scale",
        choices=list(SCALES),
        help="quick (the default: presets NAME-quick, reduced for a CPU; every seed the "
        "verdicts need, hours to days on 2 cores: docs/reproduce.md), paper (presets NAME, "
        "meant for a GPU: only when asked for) or tiny (the seconds-long smoke presets)",
    )
    only = ",".join(experiment_names())
    p.add_argument("--only", help=f"comma-separated subset of {only}")
    p.add_argument(
        "--out",
        help="output folder (default runs/reproduce-SCALE, e.g. runs/reproduce-quick; the "
        "paper scale: runs/reproduce)",
    )
    add_executor_options(p)
    p.add_argument("--device", help=DEVICE_HELP)
    p.add_argument("--reanalyse", action="store_true", help="analyse up-to-date experiments again")
    p.add_argument(
        "--no-pool",
        action="store_true",
        help="train each experiment's runs in its own sweep, one experiment after another "
        "(default: the runs of every experiment train first in one pool)",
    )
    p.add_argument("--no-progress", action="store_true", help="one line per experiment only")
    p.set_defaults(handler=_cmd_reproduce)


def _add_gpu_paper_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gpu-paper",
        help="on one GPU machine: Exp 1 (seeds 0-2) and Exp 2's main comparison at the "
        "paper's scale, trained and analysed, and one small archive (docs/fidelity.md)",
    )
    p.add_argument(
        "--scale",
        default="paper",
        help="paper (the presets exp1 and exp2, meant for a GPU; the default) or tiny (the "
        "smoke presets exp1-tiny and exp2-smoke: a couple of minutes on a 2-core CPU)",
    )
    p.add_argument("--out", help="output folder (default runs/gpu-paper, runs/gpu-paper-tiny)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--workers",
        type=int,
        help="worker processes, for training and analysis (default on cuda: 6 sharing the "
        "GPU; elsewhere 2)",
    )
    p.add_argument("--archive", help="the .tar.gz to write (default OUT/gpu-paper.tar.gz)")
    p.set_defaults(handler=_cmd_gpu_paper)


def _add_report_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="one self-contained HTML page of finished experiments")
    p.add_argument("dir", metavar="DIR", help="a reproduce folder or one experiment folder")
    p.add_argument("--out", help="page to write (default DIR/report.html)")
    p.add_argument(
        "--readme",
        help="also put the claims table between the results markers of this Markdown file "
        "(e.g. README.md: <!-- results-table:start --> ... <!-- results-table:end -->)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing page even when the new one shows fewer experiments",
    )
    p.set_defaults(handler=_cmd_report)


def add_reproduce_commands(sub: argparse._SubParsersAction) -> None:
    """``reproduce``, ``gpu-paper`` and ``report``, in that order."""
    _add_reproduce_command(sub)
    _add_gpu_paper_command(sub)
    _add_report_command(sub)
