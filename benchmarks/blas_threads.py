"""The analysis's fits with OpenBLAS's own thread count against one BLAS thread, in this
process and in a Jupyter kernel, side by side in one run (medians of --rounds).

    python benchmarks/blas_threads.py
    python benchmarks/blas_threads.py --busy 1 --rounds 5

What is timed, on a representation of a --grid x --grid condition grid (24: n = 576, as the
example notebook analyses) of width --width (8,192: the tiny UNet's first up block, flattened):

- ``eigh``: ``numpy.linalg.eigh`` of the n x n Gram matrix (the core of ``PCASpectrum.fit``);
- ``factorization``: the factorization tests (``FactorizationTest.fit`` as it was, without
  the one-thread limit, through ``__wrapped__``);
- ``fit``: ``FactorizationTest.fit`` as it is now (one BLAS thread, factordiff.analysis.blas).

``eigh`` and ``factorization`` run twice: with the BLAS threads threadpoolctl finds (the
library's default: one per core) and under ``threadpool_limits(1)``. ``--busy K`` keeps K
other processes spinning meanwhile (a machine shared with a training). The kernel part needs
nbclient and ipykernel (``pip install -e '.[test]'``) and is skipped without them. Prints the
CPU (model name and torch's capability); state it with any figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def measure(rounds: int = 3, width: int = 8192, grid: int = 24) -> dict:
    """Median seconds of each routine at the default BLAS threads and at one."""
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    from factordiff.analysis.factorization import FactorizationTest
    from factordiff.analysis.grid import Representation, condition_grid

    labels, shape = condition_grid(16, grid, grid)
    rng = np.random.default_rng(0)
    n = grid * grid
    X = (rng.normal(size=(n, 64)) @ rng.normal(size=(64, width))).astype(np.float32)
    rep = Representation(X=X, labels=labels, grid_shape=shape, metadata={"image_size": 16})
    gram = (X.astype(np.float64) @ X.T.astype(np.float64)) / width  # (n, n)
    test = FactorizationTest(n_dims=2, periodic=True)
    routines = {
        "eigh": lambda: np.linalg.eigh(gram),
        "factorization": lambda: FactorizationTest.fit.__wrapped__(test, rep),
    }
    out = {"blas_threads": [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]}
    for limit in (None, 1):
        for name, fn in routines.items():
            times = []
            for _ in range(rounds):
                ctx = threadpool_limits(limit) if limit else contextlib.nullcontext()
                with ctx:
                    t0 = time.perf_counter()
                    fn()
                    times.append(time.perf_counter() - t0)
            out[f"{name} threads={limit or 'default'}"] = statistics.median(times)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        test.fit(rep)
        times.append(time.perf_counter() - t0)
    out["fit (one BLAS thread)"] = statistics.median(times)
    return out


def in_kernel(rounds: int, width: int, grid: int) -> dict | None:
    """:func:`measure` run in a Jupyter kernel of this interpreter (None without nbclient)."""
    try:
        import nbclient
        import nbformat
    except ImportError:
        return None
    code = (
        f"import sys, json; sys.path.insert(0, {str(HERE)!r})\n"
        "from blas_threads import measure\n"
        f"print(json.dumps(measure({rounds}, {width}, {grid})))"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=3600, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    return json.loads(text.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--width", type=int, default=8192)
    p.add_argument("--grid", type=int, default=24, help="conditions per axis (n = grid^2)")
    p.add_argument("--no-kernel", action="store_true", help="this process only")
    p.add_argument("--busy", type=int, default=0, help="other processes spinning meanwhile")
    args = p.parse_args(argv)
    from factordiff.hardware import cpu_description

    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for s in spinners:
        s.start()
    try:
        results = {"process": measure(args.rounds, args.width, args.grid)}
        kernel = None if args.no_kernel else in_kernel(args.rounds, args.width, args.grid)
        if kernel is not None:
            results["Jupyter kernel"] = kernel
    finally:
        stop.set()
        for s in spinners:
            s.join()
    print(f"CPU {cpu_description()}; {args.busy} busy process(es); medians of {args.rounds}")
    print(f"n = {args.grid**2} conditions, width {args.width}")
    for where, r in results.items():
        print(f"\n{where} (BLAS threads found: {r.pop('blas_threads')})")
        for name, seconds in r.items():
            print(f"  {name:<32} {seconds:8.3f} s")
    if "Jupyter kernel" not in results and not args.no_kernel:
        print("\n(no Jupyter kernel: pip install nbclient ipykernel)", file=sys.stderr)


if __name__ == "__main__":
    main()
