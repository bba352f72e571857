"""This project at its defaults against SPAMS at its best, on workloads of different character.

    python -m benchmarks.defaults [--repeats 3] [--workloads p1,flower12,...] [--quick]

For every workload of `benchmarks.workloads`, both systems start from the same dictionary (k
data rows drawn with default_rng(0), normalised) and every dictionary is scored the same way,
F(W) = min_H J(H, W) / n over all samples (certified coordinate descent, relative gap 1e-12).

- SPAMS `trainDL` online, 2 threads, mini-batches of 64, 256 and 1024, budgets of 1, 2 and 4 s
  (`iter=-S`); its reference is the best mini-batch size at 4 s, as in BENCHMARKS.md.
- This project at its defaults: `solvers.fit(X, k, alpha=α, init=W0, time_limit=s)`, nothing
  else given (so it returns the codes too, and their time counts), s from 0.5 to 4 s.
- This project at its defaults run to completion (no time limit), next to SPAMS (its best
  mini-batch size) given the same number of seconds, rounded to whole seconds as `iter=-S`
  takes them.

Every run of a repeat comes after the same run of the repeat before for the other systems
(interleaved), after a pause of `common.SETTLE_S`; figures are medians over the repeats.
Printed last, per workload: the time the defaults need to reach SPAMS's 4-second F and its ratio
to SPAMS's 4 s (target ≤ 0.5, goal 0.25), and how closely the time limits were kept (the
largest took / (1.1·s + 0.2); target ≤ 1).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import solvers
from benchmarks.common import SETTLE_S, machine_line, table, time_to_reach, timed
from benchmarks.data import certified_f, initial_dictionary
from benchmarks.workloads import BUILDERS, Workload, workload

SPAMS_BATCHES = (64, 256, 1024)
SPAMS_BUDGETS = (1, 2, 4)
OUR_BUDGETS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


def spams_fit(w: Workload, W0: np.ndarray, seconds: int, batch_size: int) -> np.ndarray:
    import spams

    D = spams.trainDL(
        np.asfortranarray(w.X.T),
        D=np.asfortranarray(W0.T),
        lambda1=w.alpha,
        iter=-int(seconds),
        batchsize=batch_size,
        numThreads=2,
        verbose=False,
    )
    return np.asarray(D.T)


def our_fit(w: Workload, W0: np.ndarray, budget: float | None) -> np.ndarray:
    """The defaults: only the problem, the initial dictionary and the time limit."""
    return solvers.fit(w.X, w.n_components, alpha=w.alpha, init=W0, time_limit=budget).dictionary


def measure(w: Workload, repeats: int, spams_batches: tuple[int, ...]) -> dict:
    """name → list over repeats of (seconds, F), every run interleaved with the others."""
    W0 = initial_dictionary(w.X, w.n_components)
    runs: dict[str, Callable[[], np.ndarray]] = {}
    for b in spams_batches:
        for s in SPAMS_BUDGETS:
            runs[f"spams {b} {s}"] = lambda b=b, s=s: spams_fit(w, W0, s, b)
    for s in OUR_BUDGETS:
        runs[f"ours {s}"] = lambda s=s: our_fit(w, W0, s)
    runs["ours complete"] = lambda: our_fit(w, W0, None)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for r in range(repeats):
        for name, fn in runs.items():
            time.sleep(SETTLE_S)
            seconds, W = timed(fn)
            results[name].append((seconds, certified_f(w.X, W, w.alpha)))
        # SPAMS for as long as the complete default fit took, at its best batch size so far
        best = _best_spams(results, spams_batches)
        budget = max(1, round(results["ours complete"][-1][0]))
        time.sleep(SETTLE_S)
        seconds, W = timed(lambda b=best, s=budget: spams_fit(w, W0, s, b))
        results.setdefault("spams at completion", []).append(
            (seconds, certified_f(w.X, W, w.alpha))
        )
        print(f"  {w.name}: repeat {r + 1} of {repeats} done", flush=True)
    return results


def _best_spams(results: dict, batches: tuple[int, ...]) -> int:
    return min(batches, key=lambda b: _median(results[f"spams {b} 4"])[1])


def _median(points: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s for s, _ in points), statistics.median(f for _, f in points)


def summary(w: Workload, results: dict, batches: tuple[int, ...]) -> list[str]:
    best = _best_spams(results, batches)
    spams_curve = [_median(results[f"spams {best} {s}"]) for s in SPAMS_BUDGETS]
    ours = [_median(results[f"ours {s}"]) for s in OUR_BUDGETS]
    target_time, target = spams_curve[-1]
    reach = time_to_reach(ours, target)
    kept = max(
        max(seconds for seconds, _ in results[f"ours {s}"]) / (1.1 * s + 0.2) for s in OUR_BUDGETS
    )
    done_s, done_f = _median(results["ours complete"])
    spams_s, spams_f = _median(results["spams at completion"])
    return [
        w.name,
        str(best),
        " / ".join(f"{f:.4f}" for _, f in spams_curve),
        " / ".join(f"{f:.4f}" for _, f in ours),
        f"{reach:.2f} s",
        f"{reach / target_time:.2f}",
        f"{kept:.2f}",
        f"{done_s:.1f} s, {done_f:.4f}",
        f"{spams_f:.4f} ({spams_s:.1f} s)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workloads", default=",".join(BUILDERS), help="comma-separated names")
    parser.add_argument("--quick", action="store_true", help="one repeat, SPAMS batches 256, 1024")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    batches = (256, 1024) if args.quick else SPAMS_BATCHES
    print(machine_line())
    solvers.compile_kernels()  # before any clock starts
    rows = []
    for name in args.workloads.split(","):
        w = workload(name)
        print(w.shape_line, flush=True)
        rows.append(summary(w, measure(w, repeats, batches), batches))
    print()
    print(
        table(
            [
                "workload",
                "SPAMS best batch",
                "SPAMS F at 1 / 2 / 4 s",
                "defaults F at " + " / ".join(f"{s:g}" for s in OUR_BUDGETS) + " s",
                "defaults reach SPAMS 4-s F",
                "ratio (≤ 0.5; goal 0.25)",
                "limit kept (≤ 1)",
                "defaults to completion",
                "SPAMS F, same time",
            ],
            rows,
        )
    )
    print(f"medians of {repeats} interleaved repeats")


if __name__ == "__main__":
    main()
