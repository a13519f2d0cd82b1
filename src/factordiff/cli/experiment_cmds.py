"""``factordiff experiment NAME``: one of the paper's experiments end to end (or its
training variants, ``--variant``), and ``factordiff variants``: one table over variants run
by separate commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from factordiff.cli import output
from factordiff.cli.common import (
    DEVICE_HELP,
    add_config_option,
    add_executor_options,
    add_set_option,
    analysis_workers,
    command_line,
    executor,
    experiment_seeds,
)


def _cmd_experiment(args: argparse.Namespace) -> int:
    from factordiff.config_files import config_file_overrides
    from factordiff.experiments import resolve_experiment

    exp, name = resolve_experiment(args.name, quick=args.quick)
    seeds = experiment_seeds(args)
    # --config FILE's values before --set's (the command line wins), for variants too
    args.set = config_file_overrides(args.config, exp.config(name), args.set, seeds=seeds)
    if args.variant is not None:
        return _run_variants(args, exp, name, seeds)
    cfg = exp.config(name, seeds=seeds, overrides=args.set)
    ex = executor(args)
    out = Path(args.out) if args.out else Path("runs") / name
    if args.dry_run:
        from factordiff.experiments.skeleton import describe_plan

        print(describe_plan(exp, cfg, out))
        return 0
    if args.rejudge is not None:
        from factordiff.experiments.skeleton import rejudge_experiment

        output.print_lines(output.verdicts(rejudge_experiment(exp, cfg, out, args.rejudge)))
        print(f"judged again: {out.resolve() / 'report.md'}")
        return 0
    return _run_experiment(args, exp, name, cfg, ex, out)


def _run_experiment(args: argparse.Namespace, exp, name: str, cfg, ex, out: Path) -> int:
    """Train, analyse and judge, one line per run and an estimate of the time left."""
    from factordiff.experiments.progress import run_experiment_with_progress

    print(f"{exp.title.format(name=name)} into {out.resolve()}")
    summary = run_experiment_with_progress(
        exp,
        name,
        cfg,
        out,
        executor=ex,
        progress=not args.no_progress,
        device=args.device,
        force=args.force,
        command=command_line(args),
        analysis_workers=analysis_workers(args, ex),
    )
    output.print_lines(output.verdicts(summary))
    print(f"wrote {out.resolve() / 'report.md'}, {out.resolve() / 'figures'} and the results table")
    return 0


def _run_variants(args: argparse.Namespace, exp, name: str, seeds) -> int:
    """``experiment NAME --variant A,B``: each variant's experiment in ``OUT/<variant>``,
    their runs trained together, and ``OUT/variants.md`` over them."""
    from factordiff.experiments.variants import (
        VARIANTS_REPORT,
        describe_variant_plans,
        parse_variant_names,
        run_variants,
        variant_configs,
    )

    names = parse_variant_names(args.variant)
    cfgs = variant_configs(exp, name, names, seeds=seeds, overrides=args.set)
    ex = executor(args)
    out = Path(args.out) if args.out else Path("runs") / f"{name}-variants"
    if args.dry_run:
        print(describe_variant_plans(exp, cfgs, out))
        return 0
    print(f"{exp.title.format(name=name)}, variants {names}, into {out.resolve()}")
    doc = run_variants(
        exp,
        cfgs,
        out,
        executor=ex,
        force=args.force,
        command=command_line(args),
        device=args.device,
        analysis_workers=analysis_workers(args, ex),
        progress=not args.no_progress,
    )
    output.print_lines(output.variant_claims(doc))
    print(f"wrote {out.resolve() / VARIANTS_REPORT} and a report per variant in {out.resolve()}")
    return 0


def _cmd_variants(args: argparse.Namespace) -> int:
    from factordiff.experiments.variants import VARIANTS_REPORT, overview_of_folders

    doc = overview_of_folders(args.folders, args.out, command=command_line(args))
    output.print_lines(output.variants_overview(doc))
    print(f"wrote {Path(args.out).resolve() / VARIANTS_REPORT}")
    return 0


def _cmd_pool(args: argparse.Namespace) -> int:
    from factordiff.experiments.pool import pool_folders

    summary = pool_folders(args.folders, args.out, command=command_line(args), force=args.force)
    output.print_lines(output.verdicts(summary))
    print(f"wrote {Path(args.out).resolve() / 'report.md'}")
    return 0


def _experiment_names() -> str:
    """The registered experiments' names, ``exp1, exp2, exp3 or percolation`` (no torch)."""
    from factordiff.experiments.registry import experiment_names

    *head, tail = experiment_names()
    return f"{', '.join(head)} or {tail}" if head else tail


def _add_run_control_options(p: argparse.ArgumentParser) -> None:
    """--device, --force, --dry-run, --rejudge, --no-progress and the hidden --command-line."""
    p.add_argument("--device", help=DEVICE_HELP)
    p.add_argument("--force", action="store_true", help="train every run of the sweep again")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument(
        "--rejudge",
        metavar="WHY",
        help="judge a finished exp3 or percolation folder again from its stored rows with the "
        "current rules (no training, no scoring); WHY (which rule changed) goes in the report",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no line per run and no estimate of the time left (failures are still printed)",
    )
    p.add_argument("--command-line", help=argparse.SUPPRESS)


def add_experiment_command(sub: argparse._SubParsersAction) -> None:
    """``experiment NAME``; its help names the registered experiments (no torch)."""
    from factordiff.experiments.registry import experiment_help, experiment_names

    about = "; ".join(f"{n}: {experiment_help(n)}" for n in experiment_names())
    p = sub.add_parser("experiment", help="run one of the paper's experiments end to end")
    p.add_argument(
        "name",
        metavar="NAME",
        help=f"{_experiment_names()} (or a preset: NAME-quick, NAME-tiny; factordiff list). "
        + about,
    )
    p.add_argument("--quick", action="store_true", help="the reduced CPU scale")
    p.add_argument("--out", help="output folder (default runs/NAME)")
    p.add_argument("--seed", type=int, help="the one seed of the run")
    p.add_argument("--seeds", help="comma-separated seeds, one run each, e.g. 0,1,2")
    add_executor_options(p)
    add_set_option(p, "override, e.g. --set run.train.epochs=50 or --set grid=24")
    add_config_option(p, "'seeds = [0, 1]' '[run.train]' 'epochs = 50'")
    p.add_argument(
        "--variant",
        metavar="NAME[,NAME...]",
        help="training variants, each an experiment in OUT/NAME (default OUT: "
        "runs/PRESET-variants); exp1: default, paper-objective, k16, k1, positional, long",
    )
    _add_run_control_options(p)
    p.set_defaults(handler=_cmd_experiment)


def add_variants_command(sub: argparse._SubParsersAction) -> None:
    """``variants FOLDER...``: the overview of separately run variants."""
    p = sub.add_parser(
        "variants",
        help="one table of the verdicts of training variants run by separate commands",
    )
    p.add_argument(
        "folders",
        nargs="+",
        metavar="FOLDER",
        help="finished experiment folders of one preset, one per variant",
    )
    p.add_argument("--out", required=True, help="folder for variants.json and variants.md")
    p.set_defaults(handler=_cmd_variants)


def add_pool_command(sub: argparse._SubParsersAction) -> None:
    """``pool FOLDER FOLDER... --out DIR``: one experiment judged over separately run seeds."""
    p = sub.add_parser(
        "pool",
        help="judge one experiment over the seeds of several finished folders (the same "
        "preset and setting, seeds trained in separate calls or on other machines)",
    )
    p.add_argument(
        "folders",
        nargs="+",
        metavar="FOLDER",
        help="finished folders of one experiment, equal apart from their seeds; the first "
        "one's figures are kept",
    )
    p.add_argument("--out", required=True, help="the pooled folder (summary, report, table)")
    p.add_argument("--force", action="store_true", help="replace a pooled folder in --out")
    p.set_defaults(handler=_cmd_pool)
