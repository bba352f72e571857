"""Time per epoch of an online fit as the number of samples n and of atoms k grow.

    PYTHONPATH=. .venv/bin/python -m benchmarks.scaling            # default grid, ~5–10 min
    PYTHONPATH=. .venv/bin/python -m benchmarks.scaling --full     # adds n=10⁶, k=1024
    PYTHONPATH=. .venv/bin/python -m benchmarks.scaling --n 10000 100000 --k 64 256

Each cell is one `solvers.fit(X[:n], k, mode="online", batch_size=256, max_iter=1,
random_state=0, return_codes=False)` on float32 data with the default data-row init, i.e. exactly
one epoch (the first, whose codes are not warm-started), timed as the wall time of the call.

Data, P1-style 8×8 grey patches: P1 draws 20,000 patches of china.jpg, which has only 265,860
distinct 8×8 patches, so for n up to 10⁶ the pool is ⌈n_max/4⌉ random patches
(`extract_patches_2d(..., max_patches=⌈n_max/4⌉, random_state=i)`) from each of four images:
china.jpg, flower.jpg and their left-right mirror images (i = 0, 1, 2, 3), concatenated,
normalised as P1 (each patch minus its own mean, all divided by the pool's standard deviation),
shuffled with `default_rng(0)`; the cell for n uses the first n rows. Without --full the grid
leaves out (n=10⁶, k=1024), about 6 minutes on its own on a 2-core machine.

Cells that take under `--repeat-below` seconds are run `--repeats` times (median); longer ones
once. Printed: seconds per epoch, samples/s, and the objective of the last mini-batches.
"""

from __future__ import annotations

import argparse
import functools
import math

import numpy as np
from sklearn.datasets import load_sample_images
from sklearn.feature_extraction.image import extract_patches_2d

import solvers
from benchmarks.common import machine_line, median, spread, table, timed
from benchmarks.data import _grey, _normalise

DEFAULT_N = (10_000, 100_000, 1_000_000)
DEFAULT_K = (64, 256, 1024)
OPT_IN = {(1_000_000, 1024)}  # cells run only with --full


def scaling_patches(n_max: int) -> np.ndarray:
    """(n_max, 64) float32 P1-style patches from both sample images and their mirrors."""
    per_image = math.ceil(n_max / 4)
    images = [_grey(image) for image in load_sample_images().images]
    sources = [*images, *(image[:, ::-1] for image in images)]
    parts = [
        extract_patches_2d(image, (8, 8), max_patches=per_image, random_state=seed)
        for seed, image in enumerate(sources)
    ]
    X = _normalise(np.concatenate(parts))
    X = X[np.random.default_rng(0).permutation(X.shape[0])[:n_max]]
    return X.astype(np.float32)


def one_epoch(X: np.ndarray, k: int, batch_size: int) -> solvers.FitResult:
    return solvers.fit(
        X,
        k,
        mode="online",
        batch_size=batch_size,
        max_iter=1,
        random_state=0,
        return_codes=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=list(DEFAULT_N))
    parser.add_argument("--k", type=int, nargs="+", default=list(DEFAULT_K))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeat-below", type=float, default=10.0, help="seconds")
    parser.add_argument("--full", action="store_true", help="include (n=10⁶, k=1024)")
    args = parser.parse_args()

    print(machine_line())
    cells = [
        (n, k) for n in sorted(args.n) for k in sorted(args.k) if args.full or (n, k) not in OPT_IN
    ]
    skipped = [
        (n, k) for n in sorted(args.n) for k in sorted(args.k) if (n, k) in OPT_IN and not args.full
    ]
    build_s, X = timed(lambda: scaling_patches(max(args.n)))
    print(
        f"# online fit, one epoch, batch_size={args.batch_size}, float32, alpha=1; "
        f"data {X.shape} built in {build_s:.1f} s"
    )
    for k in sorted(set(args.k)):
        one_epoch(X[:2048], k, args.batch_size)  # warm-up: compiled kernels load, BLAS starts

    rows = []
    for n, k in cells:
        Xn = X[:n]
        times: list[float] = []
        while True:
            seconds, result = timed(functools.partial(one_epoch, Xn, k, args.batch_size))
            times.append(seconds)
            if len(times) >= args.repeats or times[0] >= args.repeat_below:
                break
        epoch_s = median(times)
        rows.append(
            [
                f"{n:,}",
                str(k),
                str(len(times)),
                f"{epoch_s:.2f}",
                spread(times),
                f"{n / epoch_s:,.0f}",
                f"{result.objective:.4f}",
            ]
        )
        print(f"  n={n:,} k={k}: {epoch_s:.2f} s/epoch", flush=True)
    print(
        table(
            ["n", "k", "runs", "s / epoch", "range s", "samples/s", "objective (last batches)"],
            rows,
        )
    )
    if skipped:
        print("not run (opt-in with --full): " + ", ".join(f"n={n:,} k={k}" for n, k in skipped))


if __name__ == "__main__":
    main()
