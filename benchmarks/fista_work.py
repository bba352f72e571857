"""FISTA's work per certified row, hardware-independent: k×k row products per row, cold and warm.

    PYTHONPATH=. .venv/bin/python -m benchmarks.fista_work [--rows 4096]

The GPU code step is batched FISTA (`solvers.codes._fista`); its cost on any device is about
one (rows × k) × (k × k) product per FISTA iteration, per convergence check (the duality gaps)
and per gap of a row the finishing step solved on its support (`solvers.support_solve`; its
small a × a systems are counted apart, as a fraction of a product). Counted here on the CPU
(NumPy, float32, tol 1e-6, as on a GPU), for P1 (8×8 patches, k = 128) and P2-shaped data (16×16
patches, k = 256; `--per-image` patches of each image), each with a dictionary learned by 3 and
4 online epochs from the data-row init: cold (codes from 0 on the 4-epoch dictionary) and warm
(from the codes on the 3-epoch one, as a fit's next visit of a row). Target (issue 16): ≤ 50
products per row warm.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any
from unittest import mock

import numpy as np

import solvers
import solvers.codes as codes_module
import solvers.support_solve as support_module
from benchmarks.common import machine_line, table
from benchmarks.data import initial_dictionary, p1_patches, p2_patches
from solvers.backends import NUMPY

TOL = 1e-6
TARGET_WARM = 50.0
HEADER = ["workload", "start", "iterations", "checks", "finish gaps", "systems", "products / row",
          "certified"]  # fmt: skip


class Counter:
    """Row products of FISTA's iterations, its checks and the finishing step's gaps, and the
    finishing step's systems (Σ a³/3 + a² flops over solved rows, in k² products)."""

    def __init__(self) -> None:
        self.iterations = self.checks = self.finish_gaps = 0
        self.system_flops = 0.0

    def wrappers(self) -> list[tuple[Any, str, Any]]:
        """(module, name, counting replacement) for each counted function."""
        iterate, check, finish_check = (
            codes_module._fista_iterations, codes_module.lasso_gaps, support_module.lasso_gaps
        )  # fmt: skip
        solve = support_module._solve_on_support

        def iterations(backend: Any, H: Any, *rest: Any) -> Any:
            self.iterations += H.shape[0] * rest[-1]
            return iterate(backend, H, *rest)

        def checks(G: Any, C: Any, *rest: Any) -> Any:
            self.checks += C.shape[0]
            return check(G, C, *rest)

        def finish_gaps(G: Any, C: Any, *rest: Any) -> Any:
            self.finish_gaps += C.shape[0]
            return finish_check(G, C, *rest)

        def systems(xp: Any, H: Any, nonzero: Any, sizes: Any, a: int, *rest: Any) -> Any:
            self.system_flops += H.shape[0] * (a**3 / 3 + a * a)
            return solve(xp, H, nonzero, sizes, a, *rest)

        return [
            (codes_module, "_fista_iterations", iterations),
            (codes_module, "lasso_gaps", checks),
            (support_module, "lasso_gaps", finish_gaps),
            (support_module, "_solve_on_support", systems),
        ]


def _learned(X: np.ndarray, k: int, epochs: int) -> np.ndarray:
    W0 = initial_dictionary(X.astype(np.float64), k)
    result = solvers.fit(X, k, init=W0, alpha=1.0, mode="online", max_iter=epochs,
                         random_state=0, return_codes=False)  # fmt: skip
    return result.dictionary.astype(np.float32)


def measure(X: np.ndarray, k: int) -> list[dict[str, float]]:
    """Products per row, cold and warm, on X's first rows."""
    W3, W4 = _learned(X, k, 3), _learned(X, k, 4)
    rows = X[:4096]
    warm = codes_module.solve_codes(NUMPY, rows, W3, 1.0, solver="fista", tol=TOL).codes
    out = []
    for start, H0 in (("cold", None), ("warm", warm)):
        counter = Counter()
        with contextlib.ExitStack() as stack, NUMPY.compute_scope():
            for module, name, wrapper in counter.wrappers():
                stack.enter_context(mock.patch.object(module, name, wrapper))
            step = codes_module.solve_codes(
                NUMPY, rows, W4, 1.0, H0=H0, solver="fista", tol=TOL, max_iter=1000
            )
        n = rows.shape[0]
        products = counter.iterations + counter.checks + counter.finish_gaps
        out.append(
            {
                "start": start,
                "iterations": counter.iterations / n,
                "checks": counter.checks / n,
                "finish": counter.finish_gaps / n,
                "systems": counter.system_flops / (2 * k * k) / n,
                "products": products / n + counter.system_flops / (2 * k * k) / n,
                "certified": float(np.mean(step.gaps <= TOL)),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-image", type=int, default=3000, help="P2-shaped patches per image")
    args = parser.parse_args()
    print(machine_line())
    workloads = {
        "P1 (8×8, k 128)": (p1_patches().astype(np.float32), 128),
        f"P2-shaped (16×16, {2 * args.per_image} rows, k 256)": (
            p2_patches(args.per_image).astype(np.float32),
            256,
        ),
    }
    lines = []
    for name, (X, k) in workloads.items():
        for r in measure(X, k):
            figures = [r["iterations"], r["checks"], r["finish"], r["systems"], r["products"]]
            shown = [f"{v:.1f}" for v in figures]
            lines.append([name, r["start"], *shown, f"{r['certified']:.1%}"])
    print(
        table(
            HEADER,
            lines,
        )
    )
    print(f"target: ≤ {TARGET_WARM:g} products per row warm (float32, tol {TOL:g})")


if __name__ == "__main__":
    main()
