"""Outer loops of block coordinate descent: batch and online, with stopping, callbacks and
checkpoints.

Batch: every iteration codes all samples (warm-started from the previous codes), then updates W
from A = HᵀH, B = HᵀX. Online (Mairal et al. 2009): shuffled mini-batches update running A, B
with a fading memory that grows with the samples seen (`statistics_memory`), then W by one pass
of the dictionary step; once that memory reaches half the data set, exact sums over every
sample's latest codes take over. Optionally the returned dictionary is an exponential average
of the iterates.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backends import Backend
from .certificates import objective_from_statistics, objective_sum, penalty_term
from .checkpoint import load_checkpoint, save_checkpoint
from .codes import solve_codes
from .dictionary import add_statistics, dead_atoms, reseed_atoms, update_dictionary
from .errors import InvalidInputError
from .options import FitOptions, StopReason
from .result import FitResult, Progress, ProgressCallback

# Dictionary-step passes per batch iteration, stopped earlier once a pass moves W by less than
# this fraction: the W step is cheap next to the code step, so make it (nearly) exact.
BATCH_W_PASSES = 20
BATCH_W_TOL = 1e-7
# Rows coded at once when computing the final codes of an online fit.
ENCODE_CHUNK = 65536
# Online mode keeps every sample's last codes (float32) to warm-start its next visit when they
# fit in this many bytes: a warm start finds the support in one pass instead of several.
WARM_START_BYTES = 128 * 2**20
# Dictionary-step passes per mini-batch.
ONLINE_W_PASSES = 1
# The running statistics of an online fit remember about max(batch_size, MEMORY_PER_ATOM·k)
# samples plus MEMORY_GROWTH of all samples seen so far (`statistics_memory`). Measured on P1
# (benchmarks/p1.py, k = 128, mini-batches of 256 to 2048, three seeds): growth 0.03 to 0.06
# reaches a given F in the fewest epochs (more slows the start, less stalls); on the P2 dry
# run (k = 256, mini-batches of 256) a start of one mini-batch was too noisy, 8 per atom was not.
MEMORY_PER_ATOM = 8
MEMORY_GROWTH = 0.045


@dataclass
class Problem:
    """What does not change during a fit: the data on its backend and the options."""

    X: Any  # (n, p) on the backend (for NumPy, possibly a memory map)
    x_sq: Any  # (n,) float64, ‖x_i‖²
    backend: Backend
    options: FitOptions
    code_tol: float
    callback: ProgressCallback | None
    checkpoint: str | None

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])


@dataclass
class Clock:
    """Elapsed time that survives a resume, plus the checkpoint schedule."""

    before: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    last_checkpoint: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return self.before + time.perf_counter() - self.started

    def checkpoint_due(self, interval: float) -> bool:
        return time.perf_counter() - self.last_checkpoint >= interval


def _report(problem: Problem, history: list[Progress], record: Progress) -> bool:
    """Append `record` and ask the callback; False means the user cancelled."""
    history.append(record)
    if problem.callback is None:
        return True
    return problem.callback(record) is not False


def _history_arrays(history: list[Progress]) -> dict[str, np.ndarray]:
    table = np.array(
        [[r.iteration, r.epoch, r.objective, r.elapsed_s, r.max_gap] for r in history],
        dtype=np.float64,
    ).reshape(-1, 5)
    return {"history": table}


def _history_from(table: np.ndarray, estimate: bool = False) -> list[Progress]:
    return [
        Progress(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), estimate)
        for r in table
    ]


def _load(problem: Problem, mode: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    import os

    if problem.checkpoint is None or not os.path.exists(problem.checkpoint):
        return None
    arrays, meta = load_checkpoint(problem.checkpoint)
    expected = {"mode": mode, "n_samples": problem.n_samples, "n_features": int(problem.X.shape[1])}
    found = {key: meta.get(key) for key in expected}
    if found != expected:
        raise InvalidInputError(
            f"checkpoint {problem.checkpoint} belongs to another fit: {found} != {expected}"
        )
    return arrays, meta


def batch_dictionary_step(backend: Backend, A: Any, B: Any, W: Any, o: FitOptions) -> Any:
    """The dictionary step of a batch iteration: passes until W settles (it is cheap)."""
    return update_dictionary(
        backend,
        A,
        B,
        W,
        positive=o.positive_dictionary,
        dictionary_penalty=o.dictionary_penalty,
        n_passes=BATCH_W_PASSES,
        tol=BATCH_W_TOL,
    )


def relative_decrease(previous: float, value: float) -> float:
    """(previous − value) / |previous|, or 1 before there is a previous value."""
    if not math.isfinite(previous):
        return 1.0
    return (previous - value) / max(abs(previous), 1e-300)


def fit_batch(problem: Problem, W0: np.ndarray) -> FitResult:
    """Batch block coordinate descent from the initial dictionary W0 (k, p)."""
    backend, o, xp = problem.backend, problem.options, problem.backend.xp
    X = problem.X
    dtype = X.dtype
    n = problem.n_samples
    x_sq_sum = float(problem.x_sq.sum())
    W = backend.asarray(W0, dtype)
    H = None
    history: list[Progress] = []
    iteration, previous = 0, math.inf
    clock = Clock()
    resumed = _load(problem, "batch")
    if resumed is not None:
        arrays, meta = resumed
        W, H = backend.asarray(arrays["W"], dtype), backend.asarray(arrays["H"], dtype)
        history = _history_from(arrays["history"])
        iteration, previous, clock.before = meta["iteration"], meta["previous"], meta["elapsed"]

    def save() -> None:
        if problem.checkpoint is None:
            return
        arrays = {"W": backend.to_numpy(W), **_history_arrays(history)}
        if H is not None:
            arrays["H"] = backend.to_numpy(H)
        meta = {
            "mode": "batch",
            "n_samples": n,
            "n_features": int(X.shape[1]),
            "iteration": iteration,
            "previous": previous,
            "elapsed": clock.elapsed(),
        }
        save_checkpoint(problem.checkpoint, arrays, meta)
        clock.last_checkpoint = time.perf_counter()

    stop: StopReason = "max_iter"
    while iteration < o.max_iter:
        step = solve_codes(
            backend,
            X,
            W,
            o.alpha,
            H0=H,
            solver=o.code_solver,
            tol=problem.code_tol,
            max_iter=o.code_max_iter,
            positive=o.positive_codes,
            x_sq=problem.x_sq,
        )
        H = step.codes
        A = xp.zeros((H.shape[1], H.shape[1]), dtype=xp.float64)
        B = xp.zeros((H.shape[1], X.shape[1]), dtype=xp.float64)
        add_statistics(backend, A, B, H, X)
        dead = dead_atoms(A, xp)
        W = batch_dictionary_step(backend, A, B, W, o)
        if dead.shape[0]:
            W = reseed_atoms(backend, W, dead, X, H, step.residual_sq, o.positive_dictionary)
        value = objective_from_statistics(
            x_sq_sum,
            A,
            B,
            W,
            float(xp.abs(H).sum(dtype=xp.float64)),
            o.alpha,
            n,
            o.dictionary_penalty,
        )
        iteration += 1
        record = Progress(iteration, float(iteration), value, clock.elapsed(), step.max_gap)
        decrease = relative_decrease(previous, value)
        previous = value
        if not _report(problem, history, record):
            stop = "cancelled"
            break
        if o.tol > 0 and decrease < o.tol and step.certified:
            stop = "converged"
            break
        if o.time_limit is not None and clock.elapsed() >= o.time_limit:
            stop = "time_limit"
            break
        if clock.checkpoint_due(o.checkpoint_interval):
            save()
    save()
    return FitResult(
        backend.to_numpy(W),
        None if H is None else backend.to_numpy(H),
        history,
        iteration,
        stop,
        backend.name,
        # J(H, W) of the returned pair, from the last iteration's statistics: no extra pass
        history[-1].objective if history else math.nan,
    )


@dataclass
class OnlineState:
    """Everything an online fit needs to continue exactly where it stopped."""

    W: Any
    W_average: Any
    A: Any
    B: Any
    batches: int = 0  # mini-batches processed since the start
    epoch: int = 0  # completed epochs
    position: int = 0  # next mini-batch within the current epoch
    rng_state: Any = None  # generator state before this epoch's shuffle
    W_epoch_start: Any = None
    objective_sum: float = 0.0  # sum of per-sample batch objectives since the last report
    objective_count: int = 0
    max_gap: float = 0.0
    weight: float = 0.0  # total weight in A and B: Σ of the forgetting factors' products
    # (n, k) float32 latest codes of every sample, or None (see WARM_START_BYTES). Once the
    # running statistics' memory reaches half the data set, sum_A = Σ h hᵀ and sum_B = Σ h xᵀ
    # (float64) over these codes replace A and B; None until then.
    codes: Any = None
    sum_A: Any = None
    sum_B: Any = None


def statistics_memory(seen: int, batch_size: int, n_components: int) -> float:
    """θ, about how many recent samples the running statistics remember after `seen` samples.

    Mairal et al. (2009, §3.4.3), SPAMS and scikit-learn use θ = m² + t after t mini-batches of
    m samples, which for mini-batches of a thousand samples is a memory of many epochs: W then
    answers codes of long-gone dictionaries and moves slowly. Here the memory starts at one
    mini-batch (at least MEMORY_PER_ATOM samples per atom, so that A is not dominated by noise)
    and grows with the samples seen: it follows the recent codes while W moves fast and averages
    over more of them as W settles.
    """
    return max(batch_size, MEMORY_PER_ATOM * n_components) + MEMORY_GROWTH * seen


def forgetting_factor(memory: float, m: int) -> float:
    """β for folding a mini-batch of m samples into A and B: A ← β·A + (1/m)·Σ h hᵀ keeps an
    exponentially fading memory of about `memory` samples."""
    return (memory + 1 - m) / (memory + 1)


def fit_online(
    problem: Problem, W0: np.ndarray, rng: np.random.Generator, return_codes: bool
) -> FitResult:
    """Online dictionary learning over shuffled mini-batches, `max_iter` epochs at most."""
    backend, o, xp = problem.backend, problem.options, problem.backend.xp
    X = problem.X
    dtype = X.dtype
    n, p = X.shape
    k = W0.shape[0]
    b = min(o.batch_size, n)
    per_epoch = math.ceil(n / b)
    report_every = max(1, per_epoch // 10)
    W = backend.asarray(W0, dtype)
    state = OnlineState(
        W=W,
        W_average=W.copy(),
        A=xp.zeros((k, k), dtype=xp.float64),
        B=xp.zeros((k, p), dtype=xp.float64),
        rng_state=rng.bit_generator.state,
        W_epoch_start=W.copy(),
    )
    if n * k * 4 <= WARM_START_BYTES:
        state.codes = xp.zeros((n, k), dtype=xp.float32)
    history: list[Progress] = []
    clock = Clock()
    resumed = _load(problem, "online")
    if resumed is not None:
        arrays, meta = resumed
        for name in ("W", "W_average", "W_epoch_start"):
            setattr(state, name, backend.asarray(arrays[name], dtype))
        for name in ("A", "B"):
            setattr(state, name, backend.asarray(arrays[name], xp.float64))
        if "codes" in arrays:
            state.codes = backend.asarray(arrays["codes"], xp.float32)
        if "sum_A" in arrays:
            state.sum_A = backend.asarray(arrays["sum_A"], xp.float64)
            state.sum_B = backend.asarray(arrays["sum_B"], xp.float64)
        for name in (
            "batches",
            "epoch",
            "position",
            "rng_state",
            "objective_sum",
            "objective_count",
            "max_gap",
            "weight",
        ):
            setattr(state, name, meta[name])
        history = _history_from(arrays["history"], estimate=True)
        clock.before = meta["elapsed"]

    def save() -> None:
        if problem.checkpoint is None:
            return
        arrays = {
            name: backend.to_numpy(getattr(state, name))
            for name in ("W", "W_average", "A", "B", "W_epoch_start")
        }
        for name in ("codes", "sum_A", "sum_B"):
            if getattr(state, name) is not None:
                arrays[name] = backend.to_numpy(getattr(state, name))
        meta = {
            "mode": "online",
            "n_samples": n,
            "n_features": int(p),
            "elapsed": clock.elapsed(),
            **{
                name: getattr(state, name)
                for name in (
                    "batches",
                    "epoch",
                    "position",
                    "rng_state",
                    "objective_sum",
                    "objective_count",
                    "max_gap",
                    "weight",
                )
            },
        }
        save_checkpoint(problem.checkpoint, {**arrays, **_history_arrays(history)}, meta)
        clock.last_checkpoint = time.perf_counter()

    def output() -> Any:
        return state.W_average if o.averaging is not None else state.W

    stop: StopReason = "max_iter"
    while state.epoch < o.max_iter and stop == "max_iter":
        rng.bit_generator.state = state.rng_state
        order = rng.permutation(n)
        while state.position < per_epoch:
            rows = np.sort(order[state.position * b : (state.position + 1) * b])
            # the one host→device copy of the mini-batch's row indices (on CuPy)
            _online_step(problem, state, backend.asarray(rows, xp.int64), b)
            state.position += 1
            state.batches += 1
            end_of_epoch = state.position == per_epoch
            if end_of_epoch:
                state.epoch += 1
                state.position = 0
                state.rng_state = rng.bit_generator.state
            if end_of_epoch or state.batches % report_every == 0:
                record = Progress(
                    state.batches,
                    state.batches / per_epoch,
                    state.objective_sum / max(state.objective_count, 1),
                    clock.elapsed(),
                    state.max_gap,
                    estimate=True,
                )
                state.objective_sum, state.objective_count, state.max_gap = 0.0, 0, 0.0
                if not _report(problem, history, record):
                    stop = "cancelled"
            if stop == "max_iter" and o.time_limit is not None and clock.elapsed() >= o.time_limit:
                stop = "time_limit"
            if stop != "max_iter" or end_of_epoch:
                break
            if clock.checkpoint_due(o.checkpoint_interval):
                save()
        if state.position == 0:
            # An epoch just ended: move the reference even when the fit stops here (cancelled,
            # time limit), so that a resumed fit measures the next epoch as an uninterrupted one.
            W_now = output()
            change = float(xp.linalg.norm(W_now - state.W_epoch_start))
            state.W_epoch_start = W_now.copy()
            if stop == "max_iter" and change <= o.tol * max(float(xp.linalg.norm(W_now)), 1e-300):
                stop = "converged"
        if clock.checkpoint_due(o.checkpoint_interval):
            save()
    save()
    dictionary = output()
    codes, value = _final_codes(problem, dictionary, return_codes)
    return FitResult(
        backend.to_numpy(dictionary), codes, history, state.batches, stop, backend.name, value
    )


def _online_step(problem: Problem, state: OnlineState, index: Any, batch_size: int) -> None:
    """Code the mini-batch X[index] (m, p), fold it into A and B, update W and its average.

    `index` (m,) int64 row indices on the backend.
    """
    backend, o, xp = problem.backend, problem.options, problem.backend.xp
    Xb = problem.X[index]
    warm = None if state.codes is None else state.codes[index]
    step = solve_codes(
        backend,
        Xb,
        state.W,
        o.alpha,
        H0=warm,
        solver=o.code_solver,
        tol=problem.code_tol,
        max_iter=o.code_max_iter,
        positive=o.positive_codes,
        x_sq=problem.x_sq[index],
    )
    Hb = step.codes
    m = Xb.shape[0]
    memory = statistics_memory(state.batches * batch_size, batch_size, Hb.shape[1])
    if state.codes is not None:
        new = Hb.astype(xp.float32)
        state.codes[index] = new
        if state.sum_A is not None:
            # Exact incremental statistics (Mairal et al. 2010, §3.4, finite training sets):
            # each sample's previous contribution is replaced by its new one, so sum_A and sum_B
            # are the batch statistics of the latest codes, with nothing stale averaged in.
            add_statistics(backend, state.sum_A, state.sum_B, new, Xb, 1.0, H_old=warm)
        elif state.epoch > 0 and memory >= problem.n_samples / 2:
            # A contribution to the exact sums of every sample's latest codes is on average half
            # an epoch old, n/2 samples, about the average age in a fading memory of n/2: from
            # here on the exact sums are as fresh and carry no sampling noise, and the fit
            # settles on a stationary point of the batch problem.
            state.sum_A, state.sum_B = _statistics_of_codes(problem, state.codes)
    if state.sum_A is None:
        beta = forgetting_factor(memory, m)
        state.A *= beta
        state.B *= beta
        add_statistics(backend, state.A, state.B, Hb, Xb, 1.0 / m)
        state.weight = beta * state.weight + 1.0
        A, B, weight = state.A, state.B, state.weight
    else:
        A, B, weight = state.sum_A, state.sum_B, float(problem.n_samples)
    dead = dead_atoms(A, xp)
    state.W = update_dictionary(
        backend,
        A,
        B,
        state.W,
        positive=o.positive_dictionary,
        dictionary_penalty=_scaled_penalty(o, problem.n_samples, weight),
        n_passes=ONLINE_W_PASSES,
    )
    if dead.shape[0]:
        state.W = reseed_atoms(
            backend, state.W, dead, Xb, Hb, step.residual_sq, o.positive_dictionary
        )
    if o.averaging is not None:
        state.W_average = (1 - o.averaging) * state.W_average + o.averaging * state.W
    value = 0.5 * float(step.residual_sq.sum()) + o.alpha * float(xp.abs(Hb).sum(dtype=xp.float64))
    state.objective_sum += value / m
    state.objective_count += 1
    state.max_gap = max(state.max_gap, step.max_gap)


def _statistics_of_codes(problem: Problem, codes: Any) -> tuple[Any, Any]:
    """Σ h hᵀ (k, k) and Σ h xᵀ (k, p), float64, over every sample's codes (n, k) and X, in
    chunks of rows (X may be a memory map)."""
    xp = problem.backend.xp
    k, p = codes.shape[1], problem.X.shape[1]
    A = xp.zeros((k, k), dtype=xp.float64)
    B = xp.zeros((k, p), dtype=xp.float64)
    for start in range(0, problem.n_samples, ENCODE_CHUNK):
        rows = slice(start, start + ENCODE_CHUNK)
        add_statistics(problem.backend, A, B, codes[rows], problem.X[rows])
    return A, B


def _scaled_penalty(o: FitOptions, n_samples: int, weight: float) -> float | None:
    """λ_W on the scale of the running statistics.

    A and B are weighted sums of per-batch averages with total weight `weight`, so A / weight
    is a per-sample average and the per-sample penalty λ_W / n_samples scales by `weight`.
    """
    if o.dictionary_penalty is None:
        return None
    return o.dictionary_penalty * weight / n_samples


def _final_codes(problem: Problem, W: Any, keep: bool) -> tuple[np.ndarray | None, float]:
    """The codes of every sample on the final W (k, p) and their true objective J / n_samples.

    Coded in chunks of rows, so that memory stays bounded when the codes are not kept; from a
    cold start, so that they are exactly what `encode(X, W)` gives. Returns (host codes (n, k)
    or None unless `keep`, objective).
    """
    backend, o = problem.backend, problem.options
    n = problem.n_samples
    codes = np.empty((n, W.shape[0]), dtype=problem.X.dtype) if keep else None
    total = 0.0
    for start in range(0, n, ENCODE_CHUNK):
        rows = slice(start, start + ENCODE_CHUNK)
        chunk = backend.asarray(problem.X[rows], problem.X.dtype)
        step = solve_codes(
            backend,
            chunk,
            W,
            o.alpha,
            solver=o.code_solver,
            tol=problem.code_tol,
            max_iter=o.code_max_iter,
            positive=o.positive_codes,
            x_sq=problem.x_sq[rows],
        )
        total += objective_sum(chunk, step.codes, W, o.alpha)
        if codes is not None:
            codes[rows] = backend.to_numpy(step.codes)
    return codes, (total + penalty_term(W, o.dictionary_penalty)) / n
