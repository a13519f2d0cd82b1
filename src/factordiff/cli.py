"""Command line: ``factordiff COMMAND ...``.

Thin on purpose: parse, resolve a config, call one library function, print where outputs
went. Each command is a small ``_cmd_*`` handler registered by an ``_add_*_commands``
function, so new commands (train, sample, evaluate, analyze, experiment) plug in beside
``data``. A ``ValueError`` from any handler prints ``error: <message>`` to stderr and exits 2.

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
    factordiff sweep status DIR
    factordiff data list
    factordiff data preview DATASET --out grid.png [--n 16] [--seed 0] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

# Module level: argparse and the standard library only. Every factordiff module a command
# needs is imported inside its handler, so `factordiff --help` loads neither torch nor
# numpy (tests/test_cli_lazy.py checks it).

Handler = Callable[[argparse.Namespace], int]


# ----------------------------------------------------------------------------- data
def _cmd_data_list(args: argparse.Namespace) -> int:
    from factordiff.data.presets import preset_table

    rows = preset_table()
    width = max(len(name) for name, *_ in rows)
    print(f"{'name':<{width}}  {'kind':<7}  {'images':>7}  description")
    for name, kind, count, description in rows:
        print(f"{name:<{width}}  {kind:<7}  {count:>7}  {description}")
    return 0


def _cmd_data_preview(args: argparse.Namespace) -> int:
    from factordiff.data.presets import preview_preset

    if args.n < 1:
        raise ValueError(f"--n = {args.n} is invalid; allowed: an integer >= 1")
    if args.seed < 0:
        raise ValueError(f"--seed = {args.seed} is invalid; allowed: an integer >= 0")
    path, ds = preview_preset(args.dataset, args.out, n=args.n, seed=args.seed, overrides=args.set)
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


# ----------------------------------------------------------------------------- runs
def _resolve_run_config(args: argparse.Namespace):
    """Preset -> --config FILE -> --seed/--device -> --set overrides -> validated RunConfig."""
    from factordiff.config import apply_overrides
    from factordiff.config_files import config_file_overrides
    from factordiff.presets import preset_config

    cfg = preset_config(args.preset)
    extra = list(args.set)
    if args.seed is not None:
        extra.insert(0, f"seed={args.seed}")
    if args.device is not None:
        extra.insert(0, f"device={args.device}")
    extra = config_file_overrides(args.config, cfg, extra)  # the file first: the command line wins
    return apply_overrides(cfg, extra)


def _cmd_list(args: argparse.Namespace) -> int:
    from factordiff.experiments.registry import experiments
    from factordiff.presets import get_preset, preset_names

    names = preset_names()
    exp_presets = [p for exp in experiments() for p in exp.presets.values()]
    width = max(map(len, names + [p.name for p in exp_presets]))
    print("run presets (factordiff train --preset NAME):")
    for name in names:
        p = get_preset(name)
        print(f"  {name:<{width}}  {p.description}")
        print(f"  {'':<{width}}  expected: {p.expected}")
    print("\nexperiment presets (factordiff experiment NAME; NAME --quick = NAME-quick):")
    for p in exp_presets:
        print(f"  {p.name:<{width}}  {p.description} (from run preset {p.run_preset!r})")
        print(f"  {'':<{width}}  expected: {p.expected}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from factordiff.training import train

    cfg = _resolve_run_config(args)  # before anything is written: bad input leaves no folder
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
    acc = "n/a" if result.final_accuracy is None else f"{result.final_accuracy:.3f}"
    print(
        f"done: epoch {result.epoch}, step {result.step}, accuracy {acc}, "
        f"{result.train_seconds:.0f} s of training; run folder {out.resolve()}"
    )
    if result.loss_spikes:
        from factordiff.loss_watch import describe

        for spike in result.loss_spikes:
            print(f"warning: {describe(spike)}", file=sys.stderr)
    if args.tensorboard:
        events = (out / "tensorboard").resolve()
        print(f"TensorBoard events in {events}; view them with: tensorboard --logdir {out}")
    if args.evaluate:
        return _evaluate(out, None, None, args.device or "auto")
    return 0


def _evaluate(run, dataset, num_samples, device) -> int:
    from factordiff.runs import evaluate_run

    summary = evaluate_run(run, dataset=dataset, num_samples=num_samples, device=device)
    o = summary["overall"]
    print(f"evaluated epoch {summary['epoch']} ({summary['checkpoint']})")
    print(
        f"accuracy {o['accuracy']:.3f} (x {o['x_accuracy']:.3f}, y {o['y_accuracy']:.3f}) "
        f"on {summary['num_samples']} samples ({summary['sampler']}, {summary['num_steps']} steps)"
    )
    for name, r in summary["regions"].items():
        if r.get("n", 0):
            print(
                f"  {name:<20} n={r['n']:<5} accuracy {r['accuracy']:.3f} "
                f"(x {r['x_accuracy']:.3f}, y {r['y_accuracy']:.3f})"
            )
    print(f"wrote {Path(run).resolve() / 'eval'}")
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
    print(
        f"wrote {paths['npz']} and {paths['png']} ({len(labels)} images from epoch "
        f"{paths['epoch']}, {paths['checkpoint']})"
    )
    return 0


def _analyze_map(args: argparse.Namespace) -> int:
    """``analyze`` over several layers / timesteps / poolings / noise draws: the map."""
    from factordiff.analysis.run import analyze_map

    if args.layer is not None and args.layers is not None:
        raise ValueError("--layer and --layers are exclusive; use --layers for several layers")
    if args.t is not None and args.ts is not None:
        raise ValueError("--t and --ts are exclusive; use --ts for several timesteps")
    if args.landmarks is not None:
        raise ValueError("--landmarks applies to the single analysis; a map computes no H2")
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
    for ck in result["checkpoints"]:
        counts = ", ".join(
            f"{rule} {c['holds']}/{c['settings']}" for rule, c in ck["counts"].items()
        )
        holds = "holds (trained passes, control fails)" if not args.no_control else "passes"
        print(
            f"epoch {ck['epoch']} ({ck['checkpoint']}): settings where each rule {holds}: {counts}"
        )
        if ck.get("raw"):
            both = ", ".join(
                f"{rule} {r['holds_both']}/{ck['counts'][rule]['settings']}"
                if r["applies"]
                else f"{rule} n/a"
                for rule, r in ck["raw"].items()
            )
            print(f"  ... and the trained model is nearer the claim than the raw images: {both}")
    print(f"wrote {Path(result['out']) / 'map.csv'} and map.json")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from factordiff.analysis import analyze_run
    from factordiff.analysis.grid import check_grid_side
    from factordiff.analysis.sensitivity import check_homology_step

    # Sizes first, named as options: before any checkpoint is read or folder made.
    if args.grid is not None:
        check_grid_side(args.grid, "--grid")
    check_homology_step(args.homology_step, "--homology-step")
    several = (args.layers, args.ts, args.noise)
    if any(v is not None for v in several) or "," in args.pooling:
        return _analyze_map(args)
    if args.no_control or args.no_raw_null or args.homology_step != 1:
        raise ValueError(
            "--no-control, --no-raw-null and --homology-step apply to a map (--layers, --ts, "
            "--noise or several --pooling values)"
        )
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
        progress=True,
    )
    for ck in result.get("checkpoints", []):
        s = ck["summary"]
        fac = s.get("factorization", {})
        betti = s.get("topology", {}).get("betti", "n/a")
        print(
            f"epoch {ck['epoch']} ({ck['checkpoint']}): "
            f"effective dimension {s['effective_dimension']:.2f}, "
            f"Betti {betti}, x-on-y similarity {fac.get('orthogonality_xy', float('nan')):.3f}"
        )
    print(f"wrote {result.get('out')}")
    return 0


def _parse_seeds(text: str | None) -> list[int] | None:
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


_VERDICT_LABEL = {"not reproduced": "NOT reproduced", "not judged": "NOT judged"}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid; allowed: an integer >= 1")
    return value


def _experiment_seeds(args: argparse.Namespace) -> list[int] | None:
    """--seed or --seeds (exclusive) as a list of seeds; None when neither is given."""
    seeds = _parse_seeds(args.seeds)
    if seeds is not None and args.seed is not None:
        raise ValueError("--seed and --seeds are exclusive; use --seeds for a sweep over seeds")
    return [args.seed] if args.seed is not None else seeds


def _command_line(args: argparse.Namespace) -> str:
    """The command as typed, recorded in the summary (``--command-line`` replaces it)."""
    if getattr(args, "command_line", None) is not None:
        return args.command_line
    return "factordiff " + " ".join(sys.argv[1:])


def _print_verdicts(summary: dict) -> None:
    for v in summary["verdicts"]:
        print(f"  {_VERDICT_LABEL.get(v['verdict'], v['verdict']):<14}  {v['claim']}: {v['value']}")


def _cmd_experiment(args: argparse.Namespace) -> int:
    from factordiff.config_files import config_file_overrides
    from factordiff.experiments import resolve_experiment

    exp, name = resolve_experiment(args.name, quick=args.quick)
    seeds = _experiment_seeds(args)
    # --config FILE's values before --set's (the command line wins), for variants too
    args.set = config_file_overrides(args.config, exp.config(name), args.set, seeds=seeds)
    if args.variant is not None:
        return _run_variants(args, exp, name, seeds)
    cfg = exp.config(name, seeds=seeds, overrides=args.set)
    executor = _executor(args)
    out = Path(args.out) if args.out else Path("runs") / name
    if args.dry_run:
        from factordiff.experiments.skeleton import describe_plan

        print(describe_plan(exp, cfg, out))
        return 0
    if args.rejudge is not None:
        from factordiff.experiments.skeleton import rejudge_experiment

        _print_verdicts(rejudge_experiment(exp, cfg, out, args.rejudge))
        print(f"judged again: {out.resolve() / 'report.md'}")
        return 0
    from factordiff.experiments.progress import run_experiment_with_progress

    print(f"{exp.title.format(name=name)} into {out.resolve()}")
    summary = run_experiment_with_progress(
        exp,
        name,
        cfg,
        out,
        executor=executor,
        progress=not args.no_progress,
        device=args.device,
        force=args.force,
        command=_command_line(args),
        analysis_workers=_analysis_workers(args, executor),
    )
    _print_verdicts(summary)
    print(f"wrote {out.resolve() / 'report.md'}, {out.resolve() / 'figures'} and the results table")
    return 0


def _add_executor_options(p: argparse.ArgumentParser) -> None:
    """--executor, --workers, --threads, --address, --max-retries (read by ``_executor``) and
    --analysis-workers."""
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
        type=_positive_int,
        default=None,
        metavar="N",
        help="analyse up to N runs at once, in separate processes (default: as many as "
        "--workers with the local executor, 1 with ray)",
    )


def _analysis_workers(args: argparse.Namespace, executor) -> int:
    """--analysis-workers, or its default: the local ``executor``'s worker count (the cores
    the training used), one with Ray (whose workers may be other machines)."""
    if args.analysis_workers is not None:
        return args.analysis_workers
    return getattr(executor, "workers", 1)


def _executor(args: argparse.Namespace):
    """The sweep executor the executor options name."""
    from factordiff.experiments.sweep import make_executor

    return make_executor(
        args.executor,
        workers=args.workers,
        threads=args.threads,
        address=args.address,
        max_retries=args.max_retries,
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
    executor = _executor(args)
    out = Path(args.out) if args.out else default_out(scale)
    print(f"reproducing {', '.join(only)} at the {scale} scale into {out.resolve()}")
    record = reproduce(
        out,
        scale=scale,
        only=only,
        executor=executor,
        device=args.device,
        reanalyse=args.reanalyse,
        command=_command_line(args),
        progress=not args.no_progress,
        analysis_workers=_analysis_workers(args, executor),
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
        command=_command_line(args),
    )
    archive = record["archive"]
    print(f"wrote {archive['path']} ({archive['bytes']:,} bytes, {archive['members']} files)")
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
    executor = _executor(args)
    out = Path(args.out) if args.out else Path("runs") / f"{name}-variants"
    if args.dry_run:
        print(describe_variant_plans(exp, cfgs, out))
        return 0
    print(f"{exp.title.format(name=name)}, variants {names}, into {out.resolve()}")
    doc = run_variants(
        exp,
        cfgs,
        out,
        executor=executor,
        force=args.force,
        command=_command_line(args),
        device=args.device,
        analysis_workers=_analysis_workers(args, executor),
        progress=not args.no_progress,
    )
    for c in doc["claims"]:
        print(
            f"  holds in {len(c['holds_in'])} of {c['of']} variant(s) {c['holds_in']}: {c['claim']}"
        )
    print(f"wrote {out.resolve() / VARIANTS_REPORT} and a report per variant in {out.resolve()}")
    return 0


def _cmd_variants(args: argparse.Namespace) -> int:
    from factordiff.experiments.variants import VARIANTS_REPORT, overview_of_folders

    doc = overview_of_folders(args.folders, args.out, command=_command_line(args))
    for c in doc["claims"]:
        print(f"  {len(c['holds_in'])} of {c['of']}  {c['claim']}")
    print(f"wrote {Path(args.out).resolve() / VARIANTS_REPORT}")
    return 0


def _cmd_sweep_status(args: argparse.Namespace) -> int:
    from factordiff.experiments.sweep import sweep_status

    st = sweep_status(args.dir)
    c = st["counts"]
    print(
        f"{st['sweep']}: {len(st['runs'])} run(s): {c['done']} done, {c['running']} running, "
        f"{c['failed']} failed, {c['pending']} pending; {st['remaining_steps']} of "
        f"{st['total_steps']} optimizer steps left"
    )
    for r in st["runs"]:
        line = f"  {r['key']}  {r['status']:<8} step {r['step']}/{r['total_steps']}  {r['params']}"
        if r["error"]:
            line += f"\n      error: {r['error']}"
        print(line)
    return 0


def _add_config_option(p: argparse.ArgumentParser, example: str) -> None:
    """--config FILE: the keys --set takes, as TOML tables (:mod:`factordiff.config_files`)."""
    p.add_argument(
        "--config",
        metavar="FILE",
        help="a TOML file of the keys --set takes, applied after the preset and before "
        f"--set (which wins); e.g. a file of the lines {example}",
    )


def _add_run_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list the run presets with their expected results")
    p.set_defaults(handler=_cmd_list)

    p = sub.add_parser("train", help="train a preset (rerun the same command to resume)")
    p.add_argument("--preset", default="small", help="run preset (see `factordiff list`)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.lr=3e-4 (repeatable)",
    )
    _add_config_option(p, "'[train]' 'lr = 1e-3'")
    p.add_argument(
        "--out", help="run folder (default runs/train/PRESET; experiments use runs/NAME)"
    )
    p.add_argument("--seed", type=int, help="the one seed of the run")
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
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
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    p.set_defaults(handler=_cmd_sample)

    p = sub.add_parser("evaluate", help="accuracy overall and per region, with a sample grid")
    p.add_argument("run", help="run folder")
    p.add_argument("--dataset", help="dataset preset whose label space and regions to use")
    p.add_argument(
        "--num-samples", type=int, help="conditions to sample (default eval.num_samples)"
    )
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    p.set_defaults(handler=_cmd_evaluate)


def _add_analyze_command(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    p.set_defaults(handler=_cmd_analyze)


def _experiment_names() -> str:
    """The registered experiments' names, ``exp1, exp2, exp3 or percolation`` (no torch)."""
    from factordiff.experiments.registry import experiment_names

    *head, tail = experiment_names()
    return f"{', '.join(head)} or {tail}" if head else tail


def _add_experiment_command(sub: argparse._SubParsersAction) -> None:
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
    _add_executor_options(p)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override, e.g. --set run.train.epochs=50 or --set grid=24",
    )
    _add_config_option(p, "'seeds = [0, 1]' '[run.train]' 'epochs = 50'")
    p.add_argument(
        "--variant",
        metavar="NAME[,NAME...]",
        help="training variants, each an experiment in OUT/NAME (default OUT: "
        "runs/PRESET-variants); exp1: default, paper-objective, k16, k1, positional, long",
    )
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
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
    p.set_defaults(handler=_cmd_experiment)


def _add_reproduce_commands(sub: argparse._SubParsersAction) -> None:
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
    _add_executor_options(p)
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--reanalyse", action="store_true", help="analyse up-to-date experiments again")
    p.add_argument(
        "--no-pool",
        action="store_true",
        help="train each experiment's runs in its own sweep, one experiment after another "
        "(default: the runs of every experiment train first in one pool)",
    )
    p.add_argument("--no-progress", action="store_true", help="one line per experiment only")
    p.set_defaults(handler=_cmd_reproduce)

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
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument(
        "--workers",
        type=int,
        help="worker processes, for training and analysis (default on cuda: 6 sharing the "
        "GPU; elsewhere 2)",
    )
    p.add_argument("--archive", help="the .tar.gz to write (default OUT/gpu-paper.tar.gz)")
    p.set_defaults(handler=_cmd_gpu_paper)

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


def _add_variants_command(sub: argparse._SubParsersAction) -> None:
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


def _add_sweep_commands(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser("sweep", help="inspect a sweep folder")
    actions = sweep.add_subparsers(dest="sweep_command", required=True, metavar="ACTION")
    p = actions.add_parser("status", help="runs done, running, failed, pending; steps left")
    p.add_argument("dir", metavar="DIR", help="a sweep folder (holds sweep.json)")
    p.set_defaults(handler=_cmd_sweep_status)


# ----------------------------------------------------------------------------- machine
def _cmd_machine(args: argparse.Namespace) -> int:
    from factordiff.hardware import auto_precision_line, other_kind_env

    if args.other_kind_env:  # KEY=VALUE lines for `env $(factordiff machine --other-kind-env) ...`
        for key, value in other_kind_env().items():
            print(f"{key}={value}")
        return 0
    print(auto_precision_line())
    return 0


def _add_machine_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("machine", help="the CPU as reports name it and what `auto` picks there")
    p.add_argument(
        "--other-kind-env",
        action="store_true",
        help="print KEY=VALUE settings that make this machine run as the other CPU kind "
        "(with native bf16 <-> without), e.g. env $(factordiff machine --other-kind-env) CMD",
    )
    p.set_defaults(handler=_cmd_machine)


# ----------------------------------------------------------------------------- entry point
def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="factordiff",
        description="How diffusion models learn to factorize and compose (Liang et al. 2024).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run_commands(sub)
    _add_analyze_command(sub)
    _add_experiment_command(sub)
    _add_data_commands(sub)
    _add_reproduce_commands(sub)
    _add_variants_command(sub)
    _add_sweep_commands(sub)
    _add_machine_command(sub)
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


if __name__ == "__main__":
    sys.exit(main())
