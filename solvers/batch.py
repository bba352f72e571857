"""The batch outer loop of block coordinate descent, wherever its code steps run.

Every iteration codes all samples (warm-started from their previous codes, by the executor),
then updates W from A = HᵀH, B = HᵀX, re-seeds atoms no sample uses, and takes the objective
from the same statistics. It stops at `max_iter`, when the objective's relative decrease falls
under `tol` with every code certified, at the time limit, or when the callback says so. The
time limit is also checked inside a code step (`Run.code`): a step it stops is dropped, and the
last complete iteration's dictionary and codes are returned; the first iteration always ends.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .backends import Backend
from .certificates import objective_from_statistics
from .dictionary import dead_atoms, penalised_reseed, update_dictionary
from .options import FitOptions, StopReason
from .result import FitResult, Progress
from .rows import OutOfTime
from .run import Run

# Dictionary-step passes per batch iteration, stopped earlier once a pass moves W by less than
# this fraction: the W step is cheap next to the code step, so make it (nearly) exact.
BATCH_W_PASSES = 20
BATCH_W_TOL = 1e-7


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


def fit_batch(run: Run, W0: np.ndarray, return_codes: bool = True) -> FitResult:
    """Batch block coordinate descent from the initial dictionary W0 (k, p).

    The codes returned are those of the last code step, coded on the dictionary before the
    last dictionary step; the objective is theirs with the returned dictionary.
    """
    ex, o = run.executor, run.options
    backend = ex.backend
    W = W_coded = backend.asarray(W0, ex.dtype)
    iteration, previous = 0, math.inf
    resumed = run.load("batch")
    if resumed is not None:
        arrays, meta = resumed
        W = backend.asarray(arrays["W"], ex.dtype)
        W_coded = backend.asarray(arrays.get("W_coded", arrays["W"]), ex.dtype)
        iteration, previous = int(meta["iteration"]), float(meta["previous"])

    def save() -> None:
        meta = {"iteration": iteration, "previous": previous}
        run.save("batch", {"W": W, "W_coded": W_coded}, meta)

    stop: StopReason = "max_iter"
    first = resumed is None  # a step that must end: there is no earlier one to return
    while iteration < o.max_iter:
        try:
            step = run.code(W, complete=first and iteration == 0)
        except OutOfTime:  # the last complete iteration's W and codes are returned
            stop = "time_limit"
            break
        W_coded = W
        dead = dead_atoms(step.A, backend.xp)
        W = batch_dictionary_step(backend, step.A, step.B, W, o)
        # J of these codes and this dictionary, before re-seeding: dead atoms are unused, and
        # under weight decay zero, so the atoms that replace them only change J from the next
        # code step on, which then makes it smaller (`penalised_reseed`).
        value = objective_from_statistics(
            ex.x_sq_sum, step.A, step.B, W, step.l1, o.alpha, ex.n_samples, o.dictionary_penalty
        )
        if dead.shape[0]:
            W_ridge = W
            W = ex.reseed(W, dead, step, W_coded, o.positive_dictionary)
            if o.dictionary_penalty is not None:
                worst = np.array([r for r, _, _ in step.worst[: int(dead.shape[0])]])
                W = penalised_reseed(
                    backend, W, W_ridge, dead, worst, o.alpha, o.dictionary_penalty
                )
        iteration += 1
        decrease = relative_decrease(previous, value)
        previous = value
        if not run.report(
            Progress(iteration, float(iteration), value, run.elapsed(), step.max_gap)
        ):
            stop = "cancelled"
            break
        if o.tol > 0 and decrease < o.tol and step.certified:
            stop = "converged"
            break
        if run.must_stop():
            stop = "time_limit"
            break
        if run.checkpoint_due():
            save()
    save()
    return FitResult(
        backend.to_numpy(W),
        ex.step_codes(W_coded) if return_codes else None,
        run.history,
        iteration,
        stop,
        backend.name,
        # J(H, W) of the returned pair, from the last iteration's statistics: no extra pass
        run.history[-1].objective if run.history else math.nan,
    )
