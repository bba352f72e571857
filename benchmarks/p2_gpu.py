"""P2 of BENCHMARKS.md: large patches on one GPU against SPAMS on the same machine's CPU cores.

    PYTHONPATH=. .venv/bin/python -m benchmarks.p2_gpu                          # GPU machine
    PYTHONPATH=. .venv/bin/python -m benchmarks.p2_gpu --quick --backend numpy   # CPU dry run

Data: `p2_patches()` (500,000 × 256: 16×16 patches of both sample images), k = 512, alpha = 1,
data-row init `initial_dictionary(X, 512)`. This project runs on `--backend` (cupy by default) in
float32, once per time budget (`time_limit`, each fit from the same init):

- online mode (code step `--online-code-solver`, auto = fista on cupy, cd on numpy), for each
  mini-batch size in `--online-batch-sizes`;
- batch mode with code_solver fista.

SPAMS `trainDL` online (mode 2, lambda1 = alpha, batchsize 512, numThreads = os.cpu_count(),
same init) runs for each budget in `--spams-budgets` seconds (`iter=-S`). Every dictionary is
scored with F(W) on the first `--score-n` samples after all timings: by default with this
project's certified coordinate descent at a relative duality gap of 1e-12 (as benchmarks/p1.py),
checked against LARS (`benchmarks.data.score`, BENCHMARKS.md's scorer) on one dictionary and
`--check-n` samples, the difference printed; `--scorer lars` scores every dictionary with LARS in
parallel worker processes (slow: minutes at k = 512). Printed: F against wall time for every
system, the time each of ours needs to reach SPAMS's F at its longest budget (the 60-s F): the
first run that reached it and a linear interpolation between budgets, and the speed-up.

Code step: `solvers.encode(X[:encode_n], W, code_solver="fista")` on the learned dictionary with
every FISTA iteration counted (the module's `_fista_iterations` is wrapped to add up rows ×
iterations), flops = 2·n·p·k for X Wᵀ + 2·k² per row-iteration; also a fixed 50 iterations of
`_fista_iterations` on all rows alone. Both are compared with a float32 GEMM (N × N, N =
`--gemm-size`) timed on the same backend (for numpy, under the same one-BLAS-thread scope as the
solver). Targets: SPAMS's 60-s F in ≤ 3 s on an H200 (≥ 20× faster); code step ≥ 60% of GEMM.

--quick: 2 × 3,000 samples, k = 256, budgets of a few seconds, F on 1,000 samples: a dry run of
the whole script that finishes in a minute or two on a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

import solvers
import solvers.codes as codes_module
from benchmarks.common import machine_line, table
from benchmarks.data import certified_f, initial_dictionary, p2_patches, score
from benchmarks.gpu_rates import code_step_rates, epoch_traffic, gemm_rate

ALPHA = 1.0
TARGET_SECONDS = 3.0
TARGET_SPEEDUP = 20.0
TARGET_GEMM_FRACTION = 0.6

GPU_DEFAULTS = {
    "per_image": 250_000,
    "k": 512,
    "online_budgets": [0.5, 1.0, 2.0, 3.0, 5.0, 10.0],
    "batch_budgets": [1.0, 2.0, 3.0, 5.0, 10.0],
    "online_batch_sizes": [1024, 4096],
    "spams_budgets": [30.0, 60.0],
    "score_n": 5000,
    "encode_n": 131072,
    "gemm_size": 8192,
}
QUICK = {
    "per_image": 3000,
    "k": 256,
    "online_budgets": [1.0, 3.0],
    "batch_budgets": [3.0],
    "online_batch_sizes": [256],
    "spams_budgets": [1.0, 3.0],
    "score_n": 1000,
    "encode_n": 4096,
    "gemm_size": 1024,
}


@dataclass
class Run:
    system: str
    setting: str
    budget: float
    wall_s: float
    progress: str
    dictionary: np.ndarray
    F: float = float("nan")


def ours(
    X: np.ndarray, W0: np.ndarray, args: argparse.Namespace, mode: str, batch_size: int
) -> list[Run]:
    solver = args.online_code_solver if mode == "online" else "fista"
    budgets = args.online_budgets if mode == "online" else args.batch_budgets
    resolved = codes_module.resolve_code_solver(solver, solvers.get_backend(args.backend))
    label = solver if solver == resolved else f"{solver} ({resolved})"
    setting = f"online, batch {batch_size}, {label}" if mode == "online" else f"batch, {label}"
    runs = []
    for budget in budgets:
        start = time.perf_counter()
        result = solvers.fit(
            X,
            W0.shape[0],
            init=W0,
            alpha=ALPHA,
            backend=args.backend,
            mode=mode,
            code_solver=solver,
            batch_size=batch_size,
            max_iter=1000,
            tol=0.0,  # run to the budget, as SPAMS does
            time_limit=budget,
            random_state=0,
            return_codes=False,
        )
        wall = time.perf_counter() - start
        last = result.history[-1]
        progress = f"{last.epoch:.2f} epochs" if mode == "online" else f"{result.n_iter} iterations"
        runs.append(Run("ours", setting, budget, wall, progress, result.dictionary))
        print(f"  ours {setting}, budget {budget:g} s: {wall:.2f} s, {progress}", flush=True)
    return runs


def spams_runs(X64: np.ndarray, W0: np.ndarray, args: argparse.Namespace) -> list[Run]:
    import spams

    threads = os.cpu_count() or 1
    Xf = np.asfortranarray(X64.T)
    runs = []
    for budget in args.spams_budgets:
        start = time.perf_counter()
        D = spams.trainDL(
            Xf,
            D=np.asfortranarray(W0.T),
            K=W0.shape[0],
            lambda1=ALPHA,
            lambda2=0.0,
            mode=2,
            iter=-round(budget),
            batchsize=512,
            numThreads=threads,
            verbose=False,
        )
        wall = time.perf_counter() - start
        setting = f"online, batch 512, {threads} threads"
        runs.append(Run("SPAMS", setting, budget, wall, "", np.ascontiguousarray(D.T)))
        print(f"  SPAMS {setting}, budget {budget:g} s: {wall:.2f} s", flush=True)
    return runs


def _lars_worker(X: np.ndarray, W: np.ndarray) -> float:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return score(X, W.astype(np.float64), ALPHA)


def score_all(runs: list[Run], X_score: np.ndarray, scorer: str, jobs: int) -> None:
    """F(W) of every run's dictionary (after all timings are done).

    scorer "cd": certified coordinate descent (fast; checked against LARS by the caller);
    "lars": `benchmarks.data.score` exactly as BENCHMARKS.md says, in parallel processes.
    """
    if scorer == "cd":
        for run in runs:
            run.F = certified_f(X_score, run.dictionary, ALPHA)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # never fork a process holding a CUDA context
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_lars_worker, X_score, run.dictionary) for run in runs]
        for run, future in zip(runs, futures, strict=True):
            run.F = future.result()


def time_to_reach(runs: list[Run], target: float) -> tuple[Run | None, float]:
    """(fastest run with F ≤ target, interpolated seconds at which the F-vs-time curve of
    `runs` first crosses target, linear between runs; inf when never)."""
    reached = [run for run in runs if run.F <= target]
    first = min(reached, key=lambda run: run.wall_s) if reached else None
    previous: Run | None = None
    for run in sorted(runs, key=lambda run: run.wall_s):
        if run.F <= target:
            if previous is None:
                return first, run.wall_s
            fraction = (previous.F - target) / max(previous.F - run.F, 1e-12)
            return first, previous.wall_s + (run.wall_s - previous.wall_s) * fraction
        previous = run
    return first, float("inf")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="cupy", choices=("cupy", "numpy"))
    parser.add_argument("--quick", action="store_true", help="small CPU dry run")
    parser.add_argument("--per-image", type=int, help="patches per image (default 250000)")
    parser.add_argument("--k", type=int, help="n_components (default 512)")
    parser.add_argument("--online-budgets", type=float, nargs="+")
    parser.add_argument("--batch-budgets", type=float, nargs="+")
    parser.add_argument("--online-batch-sizes", type=int, nargs="+")
    parser.add_argument("--online-code-solver", default="auto", choices=("auto", "cd", "fista"))
    parser.add_argument("--spams-budgets", type=float, nargs="+", help="seconds (integers)")
    parser.add_argument("--skip-spams", action="store_true")
    parser.add_argument("--score-n", type=int)
    parser.add_argument(
        "--scorer",
        choices=("cd", "lars"),
        default="cd",
        help="cd: certified coordinate descent at gap 1e-12 (checked against LARS); lars: LARS",
    )
    parser.add_argument("--check-n", type=int, default=1000, help="rows of the LARS check")
    parser.add_argument("--encode-n", type=int, help="rows of the timed FISTA encode")
    parser.add_argument("--gemm-size", type=int)
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="scoring processes")
    parser.add_argument("--summary", help="also write the headline figures to this JSON file")
    args = parser.parse_args()
    defaults = QUICK if args.quick else GPU_DEFAULTS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main() -> None:
    args = parse_args()
    backend = solvers.get_backend(args.backend)
    print(machine_line())
    device = {row["name"]: row for row in solvers.available_backends()}[backend.name]
    print(f"# backend {backend.name}: {device['device']}; CUPY_TF32={os.environ.get('CUPY_TF32')}")
    X64 = p2_patches(args.per_image)
    X = X64.astype(np.float32)
    W0 = initial_dictionary(X64, args.k)
    print(
        f"# P2 data {X.shape}, k={args.k}, alpha={ALPHA}, data-row init; F on the first "
        f"{args.score_n} samples{' (quick dry run)' if args.quick else ''}"
    )

    # Warm-up outside the timings: compiled kernels, cuBLAS handles, the memory pool.
    for mode in ("online", "batch"):
        solver = args.online_code_solver if mode == "online" else "fista"
        solvers.fit(
            X[:4096], args.k, init=W0, backend=backend.name, mode=mode, code_solver=solver,
            max_iter=1, return_codes=False,
        )  # fmt: skip

    runs: list[Run] = []
    for batch_size in args.online_batch_sizes:
        runs += ours(X, W0, args, "online", batch_size)
    runs += ours(X, W0, args, "batch", solvers.DEFAULTS.batch_size)  # batch_size unused
    spams = [] if args.skip_spams else spams_runs(X64, W0, args)
    runs += spams

    start = time.perf_counter()
    X_score = X64[: args.score_n]
    score_all(runs, X_score, args.scorer, max(1, args.jobs))
    print(
        f"# scored {len(runs)} dictionaries with {args.scorer} in "
        f"{time.perf_counter() - start:.0f} s"
    )
    if args.scorer == "cd":
        # The certified scorer against LARS (BENCHMARKS.md's scorer) on one learned dictionary.
        check = min(runs, key=lambda r: r.F)
        rows = min(args.check_n, args.score_n)
        lars_f = score(X_score[:rows], check.dictionary.astype(np.float64), ALPHA)
        cd_f = certified_f(X_score[:rows], check.dictionary, ALPHA)
        print(
            f"# scorer check ({check.system} {check.setting}, budget {check.budget:g} s, first "
            f"{rows} samples): LARS {lars_f:.8f}, certified cd {cd_f:.8f}, relative "
            f"difference {abs(lars_f - cd_f) / lars_f:.1e}"
        )

    print(
        table(
            ["system", "setting", "budget s", "wall s", "progress", "F(W)"],
            [
                [r.system, r.setting, f"{r.budget:g}", f"{r.wall_s:.2f}", r.progress, f"{r.F:.3f}"]
                for r in runs
            ],
        )
    )

    summary: dict[str, Any] = {"backend": backend.name, "quick": bool(args.quick)}
    summary |= report_time_to_reach(runs, spams)
    best_ours = min((r for r in runs if r.system == "ours"), key=lambda r: r.F)
    summary |= report_code_step(backend, X, best_ours.dictionary, args)
    summary |= report_epoch(backend, X, W0, max(args.online_batch_sizes))
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump(summary, f, indent=1)


def report_time_to_reach(runs: list[Run], spams: list[Run]) -> dict[str, Any]:
    """Print, for each of our settings, when it reaches SPAMS's F at its longest budget;
    returns the best setting's seconds and speed-up (inf / 0 when none reached it)."""
    print()
    if not spams:
        return {}
    reference = spams[-1]
    print(
        f"SPAMS's F at its longest budget ({reference.budget:g} s, wall "
        f"{reference.wall_s:.1f} s): {reference.F:.3f}"
    )
    best = {"spams_F": reference.F, "spams_s": reference.wall_s, "time_to_spams_F_s": np.inf}
    for setting in dict.fromkeys(r.setting for r in runs if r.system == "ours"):
        series = [r for r in runs if r.system == "ours" and r.setting == setting]
        hit, interpolated = time_to_reach(series, reference.F)
        if hit is None:
            print(f"  ours {setting}: not reached within the budgets (best F "
                  f"{min(r.F for r in series):.3f})")  # fmt: skip
            continue
        print(
            f"  ours {setting}: reached by the {hit.budget:g}-s run ({hit.wall_s:.2f} s "
            f"wall, speed-up over SPAMS {reference.wall_s / hit.wall_s:.1f}×); "
            f"interpolated {interpolated:.2f} s, "
            f"{reference.wall_s / interpolated:.1f}× "
            f"(target ≤ {TARGET_SECONDS:g} s, ≥ {TARGET_SPEEDUP:g}× on an H200)"
        )
        if interpolated < best["time_to_spams_F_s"]:
            best |= {"time_to_spams_F_s": interpolated, "best_setting": setting}
    best["speedup"] = reference.wall_s / best["time_to_spams_F_s"]
    return best


def report_code_step(
    backend: Any, X: np.ndarray, W: np.ndarray, args: argparse.Namespace
) -> dict[str, Any]:
    """Print the FISTA code step's rate against a float32 GEMM; returns the figures."""
    rates = code_step_rates(backend, X[: args.encode_n], W)
    gemm = gemm_rate(backend, args.gemm_size)
    print()
    print(
        table(
            ["code step (float32, fista)", "TFLOP/s", "of GEMM"],
            [
                [
                    f"encode {args.encode_n} rows ({rates['encode_s']:.2f} s, "
                    f"{rates['mean_iterations']:.1f} iterations per row on average)",
                    f"{rates['encode_rate'] / 1e12:.3f}",
                    f"{rates['encode_rate'] / gemm:.0%}",
                ],
                [
                    "50 bare FISTA iterations on all rows",
                    f"{rates['bare_rate'] / 1e12:.3f}",
                    f"{rates['bare_rate'] / gemm:.0%}",
                ],
                [f"float32 GEMM {args.gemm_size}²", f"{gemm / 1e12:.3f}", "100%"],
            ],
        )
    )
    print(
        f"target: code step ≥ {TARGET_GEMM_FRACTION:.0%} of the float32 GEMM rate "
        "(BENCHMARKS.md: naive batched FISTA 29 of 51 TFLOP/s on the H200)"
    )
    return {
        "code_step_tflops": rates["encode_rate"] / 1e12,
        "gemm_tflops": gemm / 1e12,
        "code_step_of_gemm": rates["encode_rate"] / gemm,
        "fista_iterations_per_row": rates["mean_iterations"],
    }


def report_epoch(backend: Any, X: np.ndarray, W0: np.ndarray, batch_size: int) -> dict[str, Any]:
    """Print one online epoch's peak device memory and host↔device traffic; returns them."""
    epoch = epoch_traffic(backend, X, W0, batch_size)
    print()
    print(
        f"one online epoch (mini-batches of {batch_size}, {epoch['epoch_s']:.2f} s): peak device "
        f"memory {epoch['peak_bytes'] / 2**30:.2f} GiB; host→device "
        f"{epoch['to_device_bytes'] / 2**20:.1f} MiB ({epoch['to_device_per_X']:.2f}× X), "
        f"device→host {epoch['to_host_bytes'] / 2**20:.1f} MiB "
        f"(target: X once, then the dictionary and statistics only)"
    )
    return epoch


if __name__ == "__main__":
    main()
