"""P1 of BENCHMARKS.md, side by side: this project against SPAMS and scikit-learn on one machine.

    python -m benchmarks.p1 [--repeats 3] [--quick]

Every system starts from the same dictionary (128 data rows drawn with default_rng(0)) and every
learned dictionary is scored the same way: F(W) = min_H J(H, W) / n_samples over all 20,000
samples, atoms first projected on the unit ball. The exact lasso behind F is this project's
certified coordinate descent at a relative duality gap of 1e-12, checked once against
scikit-learn's LARS (the difference is printed). This project runs at its defaults first (only
the initial dictionary and the time limit given), then online at fixed mini-batch sizes and in
batch mode. Budgeted runs (time limits) are repeated and
summarised by their medians. Printed last: the ratio of the time this project needs to reach
SPAMS's 4-second F to SPAMS's 4 seconds (target ≤ 0.5), and the speed-up over scikit-learn's
batch cd to its own 30-iteration F (target ≥ 20).
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from collections.abc import Callable

import numpy as np

import solvers
from benchmarks.common import machine_line, time_to_reach, timed
from benchmarks.data import certified_f, initial_dictionary, p1_patches, score

ALPHA = 1.0
N_COMPONENTS = 128


def exact_f(X: np.ndarray, W: np.ndarray) -> float:
    return certified_f(X, W, ALPHA)


def run_ours(X: np.ndarray, W0: np.ndarray, budget: float, **options: object) -> np.ndarray:
    result = solvers.fit(
        X,
        N_COMPONENTS,
        init=W0,
        alpha=ALPHA,
        time_limit=budget,
        max_iter=10_000,
        tol=0.0,
        return_codes=False,
        **options,
    )
    return result.dictionary


def run_spams(X: np.ndarray, W0: np.ndarray, budget: float, batch_size: int) -> np.ndarray:
    import spams

    D = spams.trainDL(
        np.asfortranarray(X.T),
        D=np.asfortranarray(W0.T),
        lambda1=ALPHA,
        iter=-int(budget),
        batchsize=batch_size,
        numThreads=2,
        verbose=False,
    )
    return np.asarray(D.T)


def curve(
    label: str,
    budgets: list[float],
    repeats: int,
    X: np.ndarray,
    make: Callable[[float], np.ndarray],
) -> list[tuple[float, float]]:
    """(median seconds, median F) for each budget; prints one line per budget."""
    points = []
    for budget in budgets:
        runs = [timed(lambda budget=budget: make(budget)) for _ in range(repeats)]
        seconds = statistics.median(s for s, _ in runs)
        value = statistics.median(exact_f(X, W) for _, W in runs)
        points.append((seconds, value))
        print(
            f"  {label:34} budget {budget:5.2f} s  took {seconds:6.2f} s  F {value:.4f}", flush=True
        )
    return points


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one repeat, no scikit-learn batch cd (an 80-s run here), fewer budgets",
    )
    parser.add_argument(
        "--minibatch-epochs",
        type=int,
        default=1,
        help="epochs of scikit-learn's MiniBatchDictionaryLearning (BENCHMARKS.md quotes 10; "
        "with scikit-learn 1.9 one epoch took 37 s on the 2-core machine)",
    )
    args = parser.parse_args()
    print(machine_line())
    repeats = 1 if args.quick else args.repeats

    X = p1_patches()
    W0 = initial_dictionary(X, N_COMPONENTS)
    # Compile the kernels before any clock starts.
    solvers.fit(X[:512], 16, max_iter=2)
    solvers.fit(X[:512], 16, max_iter=2, mode="online")
    lars_f = score(X[:2000], W0, ALPHA)
    ours_f = exact_f(X[:2000], W0)
    print(
        f"scorer check on 2000 samples: LARS {lars_f:.10f}, certified cd {ours_f:.10f} "
        f"(relative difference {abs(lars_f - ours_f) / lars_f:.1e})"
    )
    print(f"F(W0) = {exact_f(X, W0):.4f}")

    print("SPAMS trainDL online (2 threads), iter = -budget:")
    spams_budgets = [1.0, 2.0, 4.0] if args.quick else [1.0, 2.0, 4.0, 8.0]
    spams_curves = {
        b: curve(
            f"SPAMS batchsize {b}",
            spams_budgets,
            repeats,
            X,
            lambda budget, b=b: run_spams(X, W0, budget, b),
        )
        for b in ((256,) if args.quick else (64, 256, 1024))
    }
    # The reference is the best batch size at 4 s, as in BENCHMARKS.md.
    four = spams_budgets.index(4.0)
    best_b = min(spams_curves, key=lambda b: spams_curves[b][four][1])
    spams_4s_f = spams_curves[best_b][four][1]
    spams_4s_time = spams_curves[best_b][four][0]

    print("this project at its defaults (only init and time_limit = budget given):")
    defaults = curve(
        "ours defaults",
        [0.5, 1.0, 1.5, 2.0, 3.0] if args.quick else [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0],
        repeats,
        X,
        lambda budget: (
            solvers.fit(X, N_COMPONENTS, init=W0, alpha=ALPHA, time_limit=budget).dictionary
        ),
    )
    print("this project, online (time_limit = budget):")
    ours_budgets = [0.5, 1.0, 1.5, 2.0, 3.0] if args.quick else [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0]
    ours = {
        b: curve(
            f"ours online batch_size {b}",
            ours_budgets,
            repeats,
            X,
            lambda budget, b=b: run_ours(X, W0, budget, mode="online", batch_size=b),
        )
        for b in (512, 1024)
    }
    print("this project, batch:")
    batch = curve(
        "ours batch",
        [1.0, 2.0, 4.0],
        repeats,
        X,
        lambda budget: run_ours(X, W0, budget, mode="batch"),
    )

    print(f"scikit-learn MiniBatchDictionaryLearning, batch 256, {args.minibatch_epochs} epoch(s):")
    from sklearn.decomposition import DictionaryLearning, MiniBatchDictionaryLearning

    seconds, W = timed(
        lambda: (
            MiniBatchDictionaryLearning(
                n_components=N_COMPONENTS,
                alpha=ALPHA,
                batch_size=256,
                max_iter=args.minibatch_epochs,
                dict_init=W0,
                transform_algorithm="lasso_cd",
                random_state=0,
                tol=0,
                max_no_improvement=None,
            )
            .fit(X)
            .components_
        )
    )
    print(f"  {'sklearn minibatch':34} took {seconds:6.2f} s  F {exact_f(X, W):.4f}")
    sklearn_cd = None
    if not args.quick:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its ConvergenceWarnings, one per lasso
            seconds, W = timed(
                lambda: (
                    DictionaryLearning(
                        n_components=N_COMPONENTS,
                        alpha=ALPHA,
                        max_iter=30,
                        tol=0,
                        fit_algorithm="cd",
                        dict_init=W0,
                        code_init=np.zeros((len(X), N_COMPONENTS)),
                        random_state=0,
                    )
                    .fit(X)
                    .components_
                )
            )
        sklearn_cd = (seconds, exact_f(X, W))
        print(
            f"  {'sklearn DictionaryLearning cd 30':34} took {seconds:6.2f} s  "
            f"F {sklearn_cd[1]:.4f}"
        )

    print()
    print(
        f"SPAMS reference: batchsize {best_b}, 4-s budget, took {spams_4s_time:.2f} s, "
        f"F {spams_4s_f:.4f}"
    )
    for label, points in [
        ("defaults", defaults),
        *((f"online batch_size {b}", p) for b, p in ours.items()),
        ("batch", batch),
    ]:
        reach = time_to_reach(points, spams_4s_f)
        print(
            f"  ours {label:22} reaches it in {reach:6.2f} s: "
            f"ratio to SPAMS {reach / spams_4s_time:.2f} (target ≤ 0.5)"
        )
    if sklearn_cd is not None:
        for label, points in [
            ("defaults", defaults),
            *((f"online batch_size {b}", p) for b, p in ours.items()),
            ("batch", batch),
        ]:
            reach = time_to_reach(points, sklearn_cd[1])
            print(
                f"  ours {label:22} reaches sklearn cd's F {sklearn_cd[1]:.4f} in "
                f"{reach:6.2f} s: {sklearn_cd[0] / reach:.1f}x faster (target ≥ 20)"
            )


if __name__ == "__main__":
    main()
