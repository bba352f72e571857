"""A short side-by-side of the CuPy and NumPy backends on P1-shaped data, as a table.

    python -m benchmarks.gpu_smoke [--n 20000]

Times one batch fit of a few iterations and one encode on each available backend, with the
objective each reaches, so a GPU machine can be checked in well under a minute.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import solvers
from benchmarks.common import machine_line
from benchmarks.data import initial_dictionary, p1_patches


def _time(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    print(machine_line())
    X = p1_patches(args.n).astype(np.float32)
    W0 = initial_dictionary(X, 128)
    rows = []
    for info in solvers.available_backends():
        if not info["available"]:
            print(f"{info['name']}: unavailable ({info['reason']})")
            continue
        name = info["name"]
        # Warm-up: compile kernels (numba, CUDA) outside the timings.
        solvers.fit(X[:512], 16, alpha=1.0, backend=name, max_iter=1)
        fit_s, result = _time(
            lambda name=name: solvers.fit(
                X,
                128,
                init=W0,
                alpha=1.0,
                backend=name,
                max_iter=args.iterations,
                return_codes=False,
            )
        )
        encode_s, codes = _time(
            lambda name=name, W=result.dictionary: solvers.encode(X, W, alpha=1.0, backend=name)
        )
        rows.append(
            (
                name,
                info["device"],
                fit_s,
                result.objective,
                len(X) / encode_s,
                solvers.objective(X, codes, result.dictionary, 1.0),
            )
        )
    print(
        f"{'backend':8} {'device':28} {'fit s':>8} {'objective':>10} "
        f"{'encode/s':>10} {'enc obj':>10}"
    )
    for name, device, fit_s, objective, rate, enc_obj in rows:
        print(f"{name:8} {device!s:28} {fit_s:8.2f} {objective:10.4f} {rate:10.0f} {enc_obj:10.4f}")


if __name__ == "__main__":
    main()
