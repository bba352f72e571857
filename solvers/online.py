"""The online outer loop (Mairal et al. 2009), wherever its code steps run.

Shuffled mini-batches update running statistics A, B with a fading memory that grows with the
samples seen (`statistics_memory`), then W by one pass of the dictionary step; once that memory
reaches half the data set, exact sums over every sample's latest codes take over (when the
executor keeps them). Optionally the returned dictionary is an exponential average of the
iterates. `max_iter` counts epochs; `tol` bounds the change of the dictionary over one. A time
limit stops the fit early enough for the final codes (their cost estimated from the code steps
so far), and inside a mini-batch's code step when that is long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .certificates import penalty_term
from .dictionary import dead_atoms, update_dictionary
from .options import FitOptions, StopReason
from .result import FitResult, Progress
from .rows import OutOfTime
from .run import Run

# Dictionary-step passes per mini-batch.
ONLINE_W_PASSES = 1
# The running statistics of an online fit remember about max(batch_size, MEMORY_PER_ATOM·k)
# samples plus MEMORY_GROWTH of all samples seen so far (`statistics_memory`). Measured on P1
# (benchmarks/p1.py, k = 128, mini-batches of 256 to 2048, three seeds): growth 0.03 to 0.06
# reaches a given F in the fewest epochs (more slows the start, less stalls); on the P2 dry
# run (k = 256, mini-batches of 256) a start of one mini-batch was too noisy, 8 per atom was not.
MEMORY_PER_ATOM = 8
MEMORY_GROWTH = 0.045

_ARRAYS = ("W", "W_average", "W_epoch_start", "A", "B")
_COUNTERS = (
    "batches",
    "epoch",
    "position",
    "rng_state",
    "objective_sum",
    "objective_count",
    "max_gap",
    "weight",
    "averaged",
)


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


@dataclass
class OnlineState:
    """Everything an online fit needs to continue exactly where it stopped (with the
    executor's codes). W (k, p) in the working dtype; A (k, k), B (k, p) float64."""

    W: Any
    W_average: Any
    W_epoch_start: Any
    A: Any
    B: Any
    rng_state: Any  # generator state before this epoch's shuffle
    batches: int = 0  # mini-batches processed since the start
    epoch: int = 0  # completed epochs
    position: int = 0  # next mini-batch within the current epoch
    objective_sum: float = 0.0  # sum of per-sample batch objectives since the last report
    objective_count: int = 0
    max_gap: float = 0.0
    weight: float = 0.0  # total weight in A and B: Σ of the forgetting factors' products
    averaged: int = 0  # iterates in W_average's uniform average (polyak_burn_in)
    # Once the running statistics' memory reaches half the data set, sum_A = Σ h hᵀ and
    # sum_B = Σ h xᵀ (float64) over every sample's latest codes replace A and B; None until then.
    sum_A: Any = None
    sum_B: Any = None

    def output(self, o: FitOptions) -> Any:
        """The dictionary a fit returns: the last iterate or the average its options name."""
        if o.averaging is not None or (o.polyak_burn_in is not None and self.averaged):
            return self.W_average
        return self.W


@dataclass(frozen=True)
class _Schedule:
    """The mini-batches of an epoch: their size, how many, and how often to report."""

    batch_size: int
    per_epoch: int
    report_every: int

    @classmethod
    def of(cls, n: int, batch_size: int) -> _Schedule:
        b = min(batch_size, n)
        per_epoch = math.ceil(n / b)
        return cls(b, per_epoch, max(1, per_epoch // 10))


def fit_online(
    run: Run, W0: np.ndarray, rng: np.random.Generator, return_codes: bool = True
) -> FitResult:
    """Online dictionary learning over shuffled mini-batches, `max_iter` epochs at most.

    The codes returned (unless not `return_codes`) and the objective are those of every sample
    coded on the returned dictionary (warm from its latest codes, certified to the code
    tolerance like every code step)."""
    ex, o = run.executor, run.options
    assert o.batch_size is not None, "resolve_options chooses it"
    schedule = _Schedule.of(ex.n_samples, o.batch_size)
    state = _start(run, W0, rng)
    stop: StopReason | None = None
    while stop is None and state.epoch < o.max_iter:
        stop = _epoch(run, state, rng, schedule)
        if state.position == 0:
            stop = _end_of_epoch(run, state, stop)
        if run.checkpoint_due():
            _save(run, state)
    _save(run, state)
    dictionary = state.output(o)
    codes, total = ex.final_codes(dictionary, return_codes)
    value = (total + penalty_term(dictionary, o.dictionary_penalty)) / ex.n_samples
    backend = ex.backend
    return FitResult(
        backend.to_numpy(dictionary),
        codes,
        run.history,
        state.batches,
        stop or "max_iter",
        backend.name,
        value,
    )


def _start(run: Run, W0: np.ndarray, rng: np.random.Generator) -> OnlineState:
    """The state at the first mini-batch, or the checkpoint's."""
    ex = run.executor
    backend, xp, k = ex.backend, ex.backend.xp, int(W0.shape[0])
    W = backend.asarray(W0, ex.dtype)
    state = OnlineState(
        W=W,
        W_average=W.copy(),
        W_epoch_start=W.copy(),
        A=xp.zeros((k, k), dtype=xp.float64),
        B=xp.zeros((k, ex.n_features), dtype=xp.float64),
        rng_state=rng.bit_generator.state,
    )
    resumed = run.load("online")
    if resumed is None:
        return state
    arrays, meta = resumed
    for name in (*_ARRAYS, "sum_A", "sum_B"):
        if name in arrays:
            dtype = ex.dtype if name.startswith("W") else xp.float64
            setattr(state, name, backend.asarray(arrays[name], dtype))
    for name in _COUNTERS:
        if name in meta:  # (a checkpoint of an older version lacks the newer counters)
            setattr(state, name, meta[name])
    return state


def _save(run: Run, state: OnlineState) -> None:
    arrays = {name: getattr(state, name) for name in _ARRAYS}
    if state.sum_A is not None:
        arrays.update(sum_A=state.sum_A, sum_B=state.sum_B)
    run.save("online", arrays, {name: getattr(state, name) for name in _COUNTERS})


def _epoch(
    run: Run, state: OnlineState, rng: np.random.Generator, schedule: _Schedule
) -> StopReason | None:
    """The mini-batches from `state.position` to the end of the epoch; the reason to stop when
    the fit must stop, None otherwise."""
    b, per_epoch = schedule.batch_size, schedule.per_epoch
    rng.bit_generator.state = state.rng_state
    order = rng.permutation(run.n_samples)
    while state.position < per_epoch:
        try:
            rows = np.sort(order[state.position * b : (state.position + 1) * b])
            minibatch_step(run, state, rows, b)
        except OutOfTime:  # the mini-batch left no trace
            return "time_limit"
        state.position += 1
        state.batches += 1
        end_of_epoch = state.position == per_epoch
        if end_of_epoch:
            state.epoch += 1
            state.position = 0
            state.rng_state = rng.bit_generator.state
        if end_of_epoch or state.batches % schedule.report_every == 0:
            if not _report(run, state, per_epoch):
                return "cancelled"
        # the final codes, a pass over every row, come within the limit too
        if run.must_stop(run.final_codes_seconds()):
            return "time_limit"
        if end_of_epoch:
            return None
        if run.checkpoint_due():
            _save(run, state)
    return None


def _report(run: Run, state: OnlineState, per_epoch: int) -> bool:
    record = Progress(
        state.batches,
        state.batches / per_epoch,
        state.objective_sum / max(state.objective_count, 1),
        run.elapsed(),
        state.max_gap,
        estimate=True,
    )
    state.objective_sum, state.objective_count, state.max_gap = 0.0, 0, 0.0
    return run.report(record)


def _end_of_epoch(run: Run, state: OnlineState, stop: StopReason | None) -> StopReason | None:
    """Move the epoch's reference dictionary, even when the fit stops here (cancelled, time
    limit), so that a resumed fit measures the next epoch as an uninterrupted one; converged
    when the dictionary moved by less than `tol` over the epoch."""
    o, xp = run.options, run.executor.backend.xp
    W_now = state.output(o)
    change = float(xp.linalg.norm(W_now - state.W_epoch_start))
    state.W_epoch_start = W_now.copy()
    if stop is None and change <= o.tol * max(float(xp.linalg.norm(W_now)), 1e-300):
        return "converged"
    return stop


def minibatch_step(
    run: Run, state: OnlineState, rows: np.ndarray, batch_size: int, seen: int | None = None
) -> None:
    """Code the mini-batch X[rows] (sorted indices), fold it into the statistics, update W
    and its average. `seen`: samples folded in before (default: batches × batch_size)."""
    ex, o = run.executor, run.options
    xp, k, n = ex.backend.xp, int(state.W.shape[0]), ex.n_samples
    before = state.batches * batch_size if seen is None else seen
    memory = statistics_memory(before, batch_size, k)
    exact = state.sum_A is not None
    step = run.code(state.W, rows, replaced=exact, ahead=run.final_codes_seconds())
    if exact and not step.rebuilt:
        state.sum_A += step.A
        state.sum_B += step.B
    elif exact or (state.epoch > 0 and memory >= n / 2 and ex.keeps_codes(k)):
        # A contribution to the exact sums of every sample's latest codes is on average half an
        # epoch old, n/2 samples, about the average age in a fading memory of n/2: from here on
        # the exact sums are as fresh and carry no sampling noise, and the fit settles on a
        # stationary point of the batch problem. (Also taken afresh when a block lost its codes.)
        state.sum_A, state.sum_B = ex.code_sums(k)
    m = int(rows.shape[0])
    if state.sum_A is None:
        beta = forgetting_factor(memory, m)
        state.A *= beta
        state.B *= beta
        state.A += step.A / m
        state.B += step.B / m
        state.weight = beta * state.weight + 1.0
        A, B, weight = state.A, state.B, state.weight
    else:
        A, B, weight = state.sum_A, state.sum_B, float(n)
    dead = dead_atoms(A, xp)
    W_coded = state.W
    state.W = update_dictionary(
        ex.backend,
        A,
        B,
        state.W,
        positive=o.positive_dictionary,
        dictionary_penalty=_scaled_penalty(o, n, weight),
        n_passes=ONLINE_W_PASSES,
    )
    if dead.shape[0]:
        state.W = ex.reseed(state.W, dead, step, W_coded, o.positive_dictionary)
    if o.averaging is not None:
        state.W_average = (1 - o.averaging) * state.W_average + o.averaging * state.W
    elif o.polyak_burn_in is not None:
        _polyak_average(state, o.polyak_burn_in * math.ceil(n / batch_size))
    state.objective_sum += (step.half_residual + o.alpha * step.l1) / m
    state.objective_count += 1
    state.max_gap = max(state.max_gap, step.max_gap)


def _polyak_average(state: OnlineState, burn_in_steps: float) -> None:
    """Fold the new iterate into the uniform average once the step just taken (the
    state.batches + 1-th) is past the burn-in: W̄_t = W̄_{t−1} + (W_t − W̄_{t−1}) / t."""
    if state.batches + 1 <= burn_in_steps:
        return
    state.averaged += 1
    if state.averaged == 1:
        state.W_average = state.W.copy()
    else:
        state.W_average = state.W_average + (state.W - state.W_average) / state.averaged


def _scaled_penalty(o: FitOptions, n_samples: int, weight: float) -> float | None:
    """λ_W on the scale of the running statistics.

    A and B are weighted sums of per-batch averages with total weight `weight`, so A / weight
    is a per-sample average and the per-sample penalty λ_W / n_samples scales by `weight`.
    """
    if o.dictionary_penalty is None:
        return None
    return o.dictionary_penalty * weight / n_samples
