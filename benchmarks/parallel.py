"""Data-parallel batch fits over 1, 2 and 4 Dask worker processes next to `solvers.fit`.

    PYTHONPATH=. .venv/bin/python -m benchmarks.parallel            # n = 10⁵ (a few minutes)
    PYTHONPATH=. .venv/bin/python -m benchmarks.parallel --full     # n = 10⁶
    PYTHONPATH=. .venv/bin/python -m benchmarks.parallel --workers 1 2 --k 128 --iters 4

Data: the P1-style float32 8×8 patches of `benchmarks.scaling` (n rows, 64 features), saved
once as a `.npy` file that the workers memory-map by row range, as the service does. Each run
is a batch fit (alpha=1, data-row init, random_state=0, `--iters` iterations, codes not
returned); "epoch 1" is the first iteration (codes from zero), "later" the median of the others
(warm-started codes). Workers: LocalCluster(processes=True, n_workers=w, threads_per_worker=1),
two chunks per worker, started and warmed up (compiled kernels) before the clock starts.

Bytes per iteration: the estimate is what the algorithm must move per chunk, W (k×p, working
dtype) out and A (k×k) plus B (k×p), float64, back; "measured" adds up the workers'
outgoing transfer counters (worker→worker, i.e. chunks moved to balance load) over the fit.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import tempfile

import numpy as np
from distributed import Client, LocalCluster

import solvers
from benchmarks.common import machine_line, median, ratio, table, timed
from benchmarks.scaling import scaling_patches


def _epochs(result: solvers.FitResult) -> tuple[float, float]:
    """(first iteration seconds, median of the later ones) from the history's elapsed times."""
    elapsed = [r.elapsed_s for r in result.history]
    steps = np.diff([0.0, *elapsed])
    later = median(steps[1:].tolist()) if len(steps) > 1 else float("nan")
    return float(steps[0]), later


def _transferred(client: Client) -> int:
    counts = client.run(
        lambda dask_worker: getattr(dask_worker, "transfer_outgoing_bytes_total", 0)
    )
    return int(sum(counts.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="n = 10⁶")
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    n = 1_000_000 if args.full else args.n
    options = {"alpha": 1.0, "max_iter": args.iters, "random_state": 0, "tol": 0.0}

    print(machine_line())
    build_s, X = timed(lambda: scaling_patches(n))
    p = X.shape[1]
    print(
        f"# batch fit, k={args.k}, {args.iters} iterations, float32 {X.shape}, "
        f"built in {build_s:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "X.npy")
        np.save(path, X)
        solvers.fit(X[:2048], args.k, max_iter=2, return_codes=False)  # warm-up
        single = solvers.fit(X, args.k, return_codes=False, **options)
        first, later = _epochs(single)
        rows = [
            [
                "solvers.fit (1 process)",
                f"{first:.2f}",
                f"{later:.2f}",
                "–",
                "–",
                "1.00×",
                f"{single.objective:.6f}",
            ]
        ]
        for w in args.workers:
            chunks = 2 * w
            with (
                LocalCluster(
                    n_workers=w,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                ) as cluster,
                Client(cluster) as client,
            ):
                spread = solvers.DaskExecutor(client, n_chunks=chunks)
                solvers.fit(X[:2048], args.k, executor=spread, max_iter=2, return_codes=False)
                before = _transferred(client)
                run = functools.partial(
                    solvers.fit, path, args.k, executor=spread, return_codes=False
                )
                result = run(**options)
                moved = (_transferred(client) - before) / max(result.n_iter, 1)
            itemsize = X.dtype.itemsize
            estimate = chunks * (args.k * p * itemsize + (args.k * args.k + args.k * p) * 8)
            d_first, d_later = _epochs(result)
            rows.append(
                [
                    f"data-parallel, {w} worker(s), {chunks} chunks",
                    f"{d_first:.2f}",
                    f"{d_later:.2f}",
                    f"{estimate / 1e6:.3f}",
                    f"{moved / 1e6:.3f}",
                    ratio(later, d_later),
                    f"{result.objective:.6f}",
                ]
            )
    headers = [
        "system",
        "epoch 1 s",
        "later s",
        "est. MB/iter",
        "measured w→w MB/iter",
        "speed-up (later)",
        "objective",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
