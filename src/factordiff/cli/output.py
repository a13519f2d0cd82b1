"""What the commands print: the lines each library result is shown as on the terminal.

Pure formatting, kept apart from the parsers so a handler is one library call and one
``print_lines`` of its result. Each function takes the library's own result (a dict, a
dataclass, a list of rows) and returns the lines, without their newlines.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: How a verdict reads in the verdict lines (the negative ones in capitals, to stand out).
_VERDICT_LABEL = {"not reproduced": "NOT reproduced", "not judged": "NOT judged"}


def print_lines(lines: Iterable[str], file=None) -> None:
    """Each line on its own, to stdout unless ``file`` says otherwise."""
    for line in lines:
        print(line, file=sys.stdout if file is None else file)


# ----------------------------------------------------------------------------- data, presets
def dataset_table(rows: list[tuple]) -> list[str]:
    """``data list``: one aligned row per dataset preset ``(name, kind, count, description)``."""
    width = max(len(name) for name, *_ in rows)
    lines = [f"{'name':<{width}}  {'kind':<7}  {'images':>7}  description"]
    for name, kind, count, description in rows:
        lines.append(f"{name:<{width}}  {kind:<7}  {count:>7}  {description}")
    return lines


def preview_written(path, dataset: str, ds) -> str:
    """``data preview``: where the grid went and what the dataset holds."""
    parts = ", ".join(f"{k} {v}" for k, v in ds.part_counts.items())
    return f"wrote {path} ({dataset}: {len(ds)} images; {parts})"


#: The heading of each kind of named setting in ``list``.
CATALOG_HEADINGS = {
    "run": "run presets (factordiff train --preset NAME):",
    "data": "dataset presets (factordiff data preview NAME; train --set data.KEY=...):",
    "experiment": "experiment presets (factordiff experiment NAME; NAME --quick = NAME-quick):",
    "variant": "experiment variants (factordiff experiment NAME --variant VARIANT):",
}


def _catalog_line(entry) -> str:
    """The one-line description of a catalog entry, with what ties it to the rest."""
    if entry.kind == "experiment":
        scale = f"; scale {entry.scale}" if entry.scale else ""
        return f"{entry.description} (from run preset {entry.value.run_preset!r}{scale})"
    if entry.kind == "variant":
        return f"{entry.owner}: {entry.description}"
    return entry.description


def preset_list(catalog) -> list[str]:
    """``list``: every named setting of the one catalog (run, dataset and experiment presets,
    variants), each with its expectation where it states one."""
    from factordiff.config.catalog import KINDS

    groups = {kind: catalog.entries(kind) for kind in KINDS}
    groups["run"].sort(key=lambda e: e.name)  # run presets by name, the rest as declared
    width = max(len(e.name) for entries in groups.values() for e in entries)
    lines: list[str] = []
    for kind, entries in groups.items():
        lines += ([""] if lines else []) + [CATALOG_HEADINGS[kind]]
        for e in entries:
            lines.append(f"  {e.name:<{width}}  {_catalog_line(e)}")
            if e.expected:
                lines.append(f"  {'':<{width}}  expected: {e.expected}")
    return lines


# ----------------------------------------------------------------------------- runs
def training_done(result, out: Path) -> str:
    """``train``: the final epoch, step, accuracy and time of a :class:`TrainResult`."""
    acc = "n/a" if result.final_accuracy is None else f"{result.final_accuracy:.3f}"
    return (
        f"done: epoch {result.epoch}, step {result.step}, accuracy {acc}, "
        f"{result.train_seconds:.0f} s of training; run folder {out.resolve()}"
    )


def loss_spike_warnings(spikes: list) -> list[str]:
    """``train``: one warning per loss spike the run recorded (printed to stderr)."""
    from factordiff.loss_watch import describe

    return [f"warning: {describe(spike)}" for spike in spikes]


def tensorboard_hint(out: Path) -> str:
    """``train --tensorboard``: where the events are and how to view them."""
    events = (out / "tensorboard").resolve()
    return f"TensorBoard events in {events}; view them with: tensorboard --logdir {out}"


def evaluation(summary: dict[str, Any], run) -> list[str]:
    """``evaluate``: accuracy overall, then per region that has samples."""
    o = summary["overall"]
    lines = [
        f"evaluated epoch {summary['epoch']} ({summary['checkpoint']})",
        f"accuracy {o['accuracy']:.3f} (x {o['x_accuracy']:.3f}, y {o['y_accuracy']:.3f}) "
        f"on {summary['num_samples']} samples ({summary['sampler']}, {summary['num_steps']} steps)",
    ]
    for name, r in summary["regions"].items():
        if r.get("n", 0):
            lines.append(
                f"  {name:<20} n={r['n']:<5} accuracy {r['accuracy']:.3f} "
                f"(x {r['x_accuracy']:.3f}, y {r['y_accuracy']:.3f})"
            )
    lines.append(f"wrote {Path(run).resolve() / 'eval'}")
    return lines


def samples_written(paths: dict[str, Any], count: int) -> str:
    """``sample``: the files written and the checkpoint they come from."""
    return (
        f"wrote {paths['npz']} and {paths['png']} ({count} images from epoch "
        f"{paths['epoch']}, {paths['checkpoint']})"
    )


# ----------------------------------------------------------------------------- analysis
def analysis(result: dict[str, Any]) -> list[str]:
    """``analyze``: effective dimension, Betti numbers and x-on-y similarity per checkpoint."""
    lines = []
    for ck in result.get("checkpoints", []):
        s = ck["summary"]
        fac = s.get("factorization", {})
        betti = s.get("topology", {}).get("betti", "n/a")
        lines.append(
            f"epoch {ck['epoch']} ({ck['checkpoint']}): "
            f"effective dimension {s['effective_dimension']:.2f}, "
            f"Betti {betti}, x-on-y similarity {fac.get('orthogonality_xy', float('nan')):.3f}"
        )
    lines.append(f"wrote {result.get('out')}")
    return lines


def analysis_map(result: dict[str, Any], control: bool) -> list[str]:
    """``analyze`` over several settings: per checkpoint, the settings where each rule holds
    (against the control when there is one) and, with the raw-image null, where it holds
    against both."""
    holds = "holds (trained passes, control fails)" if control else "passes"
    lines = []
    for ck in result["checkpoints"]:
        counts = ", ".join(
            f"{rule} {c['holds']}/{c['settings']}" for rule, c in ck["counts"].items()
        )
        lines.append(
            f"epoch {ck['epoch']} ({ck['checkpoint']}): settings where each rule {holds}: {counts}"
        )
        if ck.get("raw"):
            both = ", ".join(
                f"{rule} {r['holds_both']}/{ck['counts'][rule]['settings']}"
                if r["applies"]
                else f"{rule} n/a"
                for rule, r in ck["raw"].items()
            )
            lines.append(
                f"  ... and the trained model is nearer the claim than the raw images: {both}"
            )
    lines.append(f"wrote {Path(result['out']) / 'map.csv'} and map.json")
    return lines


# ----------------------------------------------------------------------------- experiments
def verdicts(summary: dict[str, Any]) -> list[str]:
    """``experiment``: one line per claim with its verdict and value."""
    return [
        f"  {_VERDICT_LABEL.get(v['verdict'], v['verdict']):<14}  {v['claim']}: {v['value']}"
        for v in summary["verdicts"]
    ]


def variant_claims(doc: dict[str, Any]) -> list[str]:
    """``experiment --variant``: in how many variants each claim holds, and which."""
    return [
        f"  holds in {len(c['holds_in'])} of {c['of']} variant(s) {c['holds_in']}: {c['claim']}"
        for c in doc["claims"]
    ]


def variants_overview(doc: dict[str, Any]) -> list[str]:
    """``variants``: in how many of the folders each claim holds."""
    return [f"  {len(c['holds_in'])} of {c['of']}  {c['claim']}" for c in doc["claims"]]


def sweep_status(st: dict[str, Any]) -> list[str]:
    """``sweep status``: the counts, then one line per run (and its error, if any)."""
    c = st["counts"]
    lines = [
        f"{st['sweep']}: {len(st['runs'])} run(s): {c['done']} done, {c['running']} running, "
        f"{c['failed']} failed, {c['pending']} pending; {st['remaining_steps']} of "
        f"{st['total_steps']} optimizer steps left"
    ]
    for r in st["runs"]:
        line = f"  {r['key']}  {r['status']:<8} step {r['step']}/{r['total_steps']}  {r['params']}"
        if r["error"]:
            line += f"\n      error: {r['error']}"
        lines.append(line)
    return lines


def archive_written(archive: dict[str, Any]) -> str:
    """``gpu-paper``: the archive's path, size and number of files."""
    return f"wrote {archive['path']} ({archive['bytes']:,} bytes, {archive['members']} files)"
