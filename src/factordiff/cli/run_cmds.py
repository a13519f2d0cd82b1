"""``factordiff list``, ``train``, ``sample`` and ``evaluate``: one run at a time."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from factordiff.cli import output
from factordiff.cli.common import DEVICE_HELP, add_config_option, add_set_option, run_config


def _cmd_list(args: argparse.Namespace) -> int:
    from factordiff.config.catalog import CATALOG
    from factordiff.experiments.registry import experiments

    experiments()  # each experiment loaded brings its presets and variants to the catalog
    output.print_lines(output.preset_list(CATALOG))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from factordiff.training import train

    # before anything is written: bad input leaves no folder
    cfg = run_config(args.preset, args.config, args.seed, args.device, args.set)
    # runs/train/PRESET: apart from the experiment folders runs/NAME of `factordiff experiment`
    out = Path(args.out) if args.out else Path("runs") / "train" / cfg.name
    if args.dry_run:
        print(cfg.to_json())
        print(f"(dry run: would train into {out.resolve()})")
        return 0
    print(f"training {cfg.name} into {out.resolve()}")
    result = train(
        cfg,
        out,
        force=args.force,
        extend=args.extend,
        progress=not args.no_progress,
        tensorboard=args.tensorboard,
    )
    print(output.training_done(result, out))
    if result.loss_spikes:
        output.print_lines(output.loss_spike_warnings(result.loss_spikes), file=sys.stderr)
    if args.tensorboard:
        print(output.tensorboard_hint(out))
    if args.evaluate:
        return _evaluate(out, None, None, args.device or "auto")
    return 0


def _evaluate(run, dataset, num_samples, device) -> int:
    from factordiff.runs import evaluate_run

    summary = evaluate_run(run, dataset=dataset, num_samples=num_samples, device=device)
    output.print_lines(output.evaluation(summary, run))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    return _evaluate(args.run, args.dataset, args.num_samples, args.device or "auto")


def _cmd_sample(args: argparse.Namespace) -> int:
    from factordiff.runs import parse_labels, sample_run

    labels = parse_labels(args.labels)
    paths = sample_run(
        args.run,
        labels,
        out=args.out,
        sampler=args.sampler,
        num_steps=args.steps,
        seed=args.seed,
        device=args.device or "auto",
    )
    print(output.samples_written(paths, len(labels)))
    return 0


def _add_train_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a preset (rerun the same command to resume)")
    p.add_argument("--preset", default="small", help="run preset (see `factordiff list`)")
    add_set_option(p, "override a config field, e.g. --set train.lr=3e-4 (repeatable)")
    add_config_option(p, "'[train]' 'lr = 1e-3'")
    p.add_argument(
        "--out", help="run folder (default runs/train/PRESET; experiments use runs/NAME)"
    )
    p.add_argument("--seed", type=int, help="the one seed of the run")
    p.add_argument("--device", help=DEVICE_HELP)
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--force", action="store_true", help="overwrite a finished or different run")
    p.add_argument(
        "--extend",
        action="store_true",
        help="continue a run to a larger budget (train.epochs or train.max_steps; "
        "constant learning rate); equals a run trained to it from the start",
    )
    p.add_argument("--evaluate", action="store_true", help="evaluate the final checkpoint after")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write the metrics and a sample grid per evaluation as TensorBoard events "
        'in RUN/tensorboard (pip install -e ".[tensorboard]"); not part of the config',
    )
    p.set_defaults(handler=_cmd_train)


def _add_sample_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate images for given labels from a run")
    p.add_argument("run", help="run folder")
    p.add_argument(
        "--labels",
        required=True,
        help='"mu_x,mu_y;mu_x,mu_y;..." in pixels (a value may start with "-")',
    )
    p.add_argument("--out", help="output folder (default RUN/samples)")
    p.add_argument(
        "--sampler", choices=["ddpm", "ddim", "dpm"], help="default: the run's eval sampler"
    )
    p.add_argument("--steps", type=int, help="sampler steps (default: the run's eval steps)")
    p.add_argument("--seed", type=int, default=0, help="sample k uses seed + k")
    p.add_argument("--device", help=DEVICE_HELP)
    p.set_defaults(handler=_cmd_sample)


def add_run_commands(sub: argparse._SubParsersAction) -> None:
    """``list``, ``train``, ``sample`` and ``evaluate``, in that order (``--help`` lists them
    as registered)."""
    p = sub.add_parser("list", help="list the run presets with their expected results")
    p.set_defaults(handler=_cmd_list)

    _add_train_command(sub)
    _add_sample_command(sub)

    p = sub.add_parser("evaluate", help="accuracy overall and per region, with a sample grid")
    p.add_argument("run", help="run folder")
    p.add_argument("--dataset", help="dataset preset whose label space and regions to use")
    p.add_argument(
        "--num-samples", type=int, help="conditions to sample (default eval.num_samples)"
    )
    p.add_argument("--device", help=DEVICE_HELP)
    p.set_defaults(handler=_cmd_evaluate)
