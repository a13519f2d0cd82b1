"""Wall time of the pieces whose speed the tests used to assert (tests now check results only).

    python benchmarks/components.py              # all three, best of --rounds
    python benchmarks/components.py --rounds 1

- ``dataset``: build the paper-scale lattice ``bump-dense`` (102,400 images of 32 x 32).
- ``score``: score 10,000 noisy rendered images (bump, periodic bump, SOS) after a warm-up.
- ``homology``: persistent homology of a Clifford torus on the 32 x 32 grid (1,024 points,
  256 landmarks), the default of ``factordiff analyze``.

Prints one line per measurement with the CPU (model name and torch's capability) and the
thread count. Times depend on the machine and on what else runs on it: state both with them.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from factordiff.analysis import PersistentHomology, clifford_torus, condition_grid
from factordiff.config import DataConfig
from factordiff.data import build_dataset, get_dataset_preset, render_images
from factordiff.evaluation import score


def cpu_words() -> str:
    name = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name}, torch capability {torch.backends.cpu.get_cpu_capability()}"


def best_of(rounds: int, fn) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["dataset", "score", "homology"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["dataset", "score", "homology"])
    print(f"CPU {cpu_words()}; torch threads {torch.get_num_threads()}")

    if "dataset" in only:
        cfg = get_dataset_preset("bump-dense")
        s = best_of(args.rounds, lambda: build_dataset(cfg, seed=0))
        print(f"dataset  bump-dense (102,400 x 32 x 32): {s:.2f} s")

    if "score" in only:
        gen = torch.Generator().manual_seed(0)
        labels = torch.rand(10_000, 2, generator=gen) * 32
        for cfg in (DataConfig(), DataConfig(periodic=True), DataConfig(kind="sos")):
            images = render_images(labels, cfg) + 0.05 * torch.randn(
                (10_000, 1, 32, 32), generator=gen
            )
            score(images[:10], labels[:10], cfg)  # warm-up: first-call imports
            s = best_of(args.rounds, lambda: score(images, labels, cfg))  # noqa: B023
            kind = cfg.kind + (" periodic" if cfg.periodic else "")
            print(f"score    10,000 images, {kind}: {s:.3f} s")

    if "homology" in only:
        X = clifford_torus(condition_grid(32, 32, 32)[0], 32)
        s = best_of(args.rounds, lambda: PersistentHomology().fit(X))
        print(f"homology Clifford torus, H1 on all 1,024 points, H2 on 256 landmarks: {s:.2f} s")


if __name__ == "__main__":
    main()
