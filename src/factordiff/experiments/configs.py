"""What every experiment's config uses: the preset finished with seeds and overrides
(:func:`finish_config`), the precision a run computes in (:func:`precision_used`) and the
checks of shares and seeds (:func:`check_shares`, :func:`check_seeds`).

Split from :mod:`factordiff.experiments.skeleton`, which re-exports these names.
"""

from __future__ import annotations

from factordiff.config import RunConfig


def finish_config(cfg, seeds=None, overrides=None):
    """An experiment preset's config with ``seeds`` (a list: one run each) and dotted
    ``key=value`` overrides applied, then validated: what every experiment's ``config``
    ends with."""
    from dataclasses import replace

    from factordiff.config import apply_overrides

    if seeds:
        cfg = replace(cfg, seeds=tuple(seeds))
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    cfg.validate()
    return cfg


def precision_used(run: RunConfig) -> str:
    """The precision ``run`` computes in on this machine (``train.precision`` resolved), for
    the setting line of a report."""
    from factordiff.hardware import resolve_precision
    from factordiff.training import resolve_device

    return resolve_precision(run.train.precision, resolve_device(run.device)).used


def check_shares(name: str, values) -> None:
    """2 or more strictly increasing shares in (0, 1] (data shares, kept shares lambda)."""
    if (
        len(values) < 2
        or list(values) != sorted(set(values))
        or not all(0 < v <= 1 for v in values)
    ):
        raise ValueError(
            f"{name} = {list(values)} is invalid; allowed: 2 or more strictly increasing "
            "shares in (0, 1]"
        )


def check_seeds(seeds) -> None:
    """Distinct seeds >= 0."""
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds = {list(seeds)} is invalid; allowed: distinct integers >= 0")
