"""``factordiff analyze``: representation analysis of a run's checkpoints, at one setting
(:func:`factordiff.analysis.analyze_run`) or over several, a map
(:func:`factordiff.analysis.run.analyze_map`)."""

from __future__ import annotations

import argparse

from factordiff.cli import output
from factordiff.cli.common import DEVICE_HELP


def _is_map(args: argparse.Namespace) -> bool:
    """Whether the options ask for a map (several layers, timesteps, poolings or noise
    draws); a ``ValueError`` naming the option for a value or a mix that does not apply."""
    from factordiff.analysis.grid import check_grid_side
    from factordiff.analysis.sensitivity import check_homology_step

    # Sizes first, named as options: before any checkpoint is read or folder made.
    if args.grid is not None:
        check_grid_side(args.grid, "--grid")
    check_homology_step(args.homology_step, "--homology-step")
    several = (args.layers, args.ts, args.noise)
    if any(v is not None for v in several) or "," in args.pooling:
        if args.layer is not None and args.layers is not None:
            raise ValueError("--layer and --layers are exclusive; use --layers for several layers")
        if args.t is not None and args.ts is not None:
            raise ValueError("--t and --ts are exclusive; use --ts for several timesteps")
        if args.landmarks is not None:
            raise ValueError("--landmarks applies to the single analysis; a map computes no H2")
        if args.figures is not None:
            raise ValueError(
                "--figures applies to the single analysis; a map draws no per-checkpoint figures"
            )
        return True
    if args.no_control or args.no_raw_null or args.homology_step != 1:
        raise ValueError(
            "--no-control, --no-raw-null and --homology-step apply to a map (--layers, --ts, "
            "--noise or several --pooling values)"
        )
    return False


def _analyze_map(args: argparse.Namespace) -> int:
    """``analyze`` over several layers / timesteps / poolings / noise draws: the map."""
    from factordiff.analysis.run import analyze_map

    layers = args.layers if args.layers is not None else [args.layer]
    ts = args.ts if args.ts is not None else (None if args.t is None else [args.t])
    result = analyze_map(
        args.run,
        checkpoints=args.checkpoints,
        layers=layers,
        ts=ts,
        poolings=args.pooling,
        n_noises=args.noise if args.noise is not None else "1",
        grid=args.grid,
        out=args.out,
        control=not args.no_control,
        raw_null=not args.no_raw_null,
        seed=args.seed,
        device=args.device or "auto",
        topology=not args.no_topology,
        homology_step=args.homology_step,
        progress=True,
    )
    output.print_lines(output.analysis_map(result, control=not args.no_control))
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    if _is_map(args):
        return _analyze_map(args)
    from factordiff.analysis import analyze_run
    from factordiff.analysis.run_common import FIGURES

    result = analyze_run(
        args.run,
        checkpoints=args.checkpoints,
        layer=args.layer,
        t=args.t,
        grid=args.grid,
        out=args.out,
        pooling=args.pooling,
        seed=args.seed,
        device=args.device or "auto",
        topology=not args.no_topology,
        n_landmarks=256 if args.landmarks is None else args.landmarks,
        figures=FIGURES[args.figures or "every"],
        progress=True,
    )
    output.print_lines(output.analysis(result))
    return 0


def _add_map_options(p: argparse.ArgumentParser) -> None:
    """The options of a map: several settings, and its control and null."""
    p.add_argument(
        "--layers",
        help="map: several layers, e.g. unet.down_blocks.3,unet.mid_block, or 'all' (every "
        "down block, the mid block and every up block)",
    )
    p.add_argument("--ts", help="map: several timesteps, e.g. 999,500,100,10")
    p.add_argument("--noise", help="map: numbers of noise draws averaged, e.g. 1,16")
    p.add_argument(
        "--no-control",
        action="store_true",
        help="map: no control (by default each setting is judged against epoch 0)",
    )
    p.add_argument(
        "--no-raw-null",
        action="store_true",
        help="map: no second null (by default each setting is also read against the raw "
        "images of the same grid)",
    )
    p.add_argument(
        "--homology-step",
        type=int,
        default=1,
        help="map: persistent homology on every k-th condition per axis (default 1: all)",
    )


def add_analyze_command(sub: argparse._SubParsersAction) -> None:
    """``analyze RUN``, with the options of one setting and those of a map."""
    p = sub.add_parser("analyze", help="representation analysis of a run's checkpoints")
    p.add_argument("run", help="run folder")
    p.add_argument("--checkpoints", default="last", help="all | last | comma-separated epochs")
    p.add_argument("--layer", help="module name (default: the model's end of encoder)")
    p.add_argument("--t", type=int, help="diffusion timestep of the input (default T-1)")
    p.add_argument("--grid", type=int, help="conditions per axis (default 32)")
    p.add_argument(
        "--out",
        help="output folder (default RUN/analysis/LAYER_tT_POOLING; a map: RUN/analysis/map)",
    )
    p.add_argument(
        "--pooling",
        default="flatten",
        help="flatten | mean | max, or several for a map, e.g. flatten,mean",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the fixed noise input")
    p.add_argument(
        "--landmarks", type=int, help="landmarks for persistent homology's H2 (default 256)"
    )
    p.add_argument("--no-topology", action="store_true", help="skip persistent homology")
    p.add_argument(
        "--figures",
        choices=["every", "last", "none"],
        help="figures of every analysed checkpoint (default), the last one, or none",
    )
    _add_map_options(p)
    p.add_argument("--device", help=DEVICE_HELP)
    p.set_defaults(handler=_cmd_analyze)
