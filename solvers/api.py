"""The public entry points: `fit` and `encode`, validating their inputs once, at the boundary."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .backends import get_backend
from .bcd import Problem, fit_batch, fit_online
from .codes import resolve_code_solver, solve_codes
from .errors import InvalidInputError
from .init import initial_dictionary
from .options import DEFAULTS, INITS, default_code_tol
from .result import FitResult, ProgressCallback
from .validation import (
    checked_alpha,
    fit_options,
    validate_data,
    validate_dictionary,
    warn_if_too_large,
)


def fit(
    X: Any,
    n_components: int,
    *,
    init: Any = "data",
    callback: ProgressCallback | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    return_codes: bool = True,
    **options: Any,
) -> FitResult:
    """Learn a dictionary W (n_components, n_features) and codes H (n_samples, n_components).

    Minimises ½‖X − HW‖²_F + α‖H‖₁ subject to ‖W_j‖₂ ≤ 1 (or + ½λ_W‖W‖²_F with
    `dictionary_penalty`) by block coordinate descent. X (n_samples, n_features) is any real
    array, a memory map included. `init` is "data", "svd" or an (n_components, n_features)
    array. The other keyword options and their defaults are the fields of `FitOptions`.
    `callback(progress)` runs after every outer iteration (online: every tenth of an epoch) and
    may return False to stop with stop_reason "cancelled". `checkpoint` is an .npz path: an
    existing one is resumed from, and it is rewritten every `checkpoint_interval` seconds and
    when the fit stops.
    """
    opts = fit_options(n_components, options)
    X = validate_data(X, dtype=opts.dtype)
    warn_if_too_large(X.shape[0], int(n_components))
    # An array is checked by initial_dictionary (before any work); a name is checked here.
    if isinstance(init, str) and init not in INITS:
        raise InvalidInputError(f"init must be 'data', 'svd' or an array; got {init!r}")
    backend = get_backend(opts.backend)
    try:
        resolve_code_solver(opts.code_solver, backend)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    rng = np.random.default_rng(opts.random_state)
    W0 = initial_dictionary(X, int(n_components), init, rng, opts.positive_dictionary)
    X_dev = backend.asarray(X, X.dtype)
    problem = Problem(
        X=X_dev,
        x_sq=squared_row_norms(backend, X_dev),
        backend=backend,
        options=opts,
        code_tol=opts.code_tol if opts.code_tol is not None else default_code_tol(X.dtype.name),
        callback=callback,
        checkpoint=None if checkpoint is None else os.fspath(checkpoint),
    )
    with backend.compute_scope():
        if opts.mode == "online":
            return fit_online(problem, W0, rng, return_codes)
        result = fit_batch(problem, W0)
    if not return_codes:
        result.codes = None
    return result


def squared_row_norms(backend: Any, X: Any, chunk: int = 65536) -> Any:
    """‖x_i‖² (n,) in float64, a chunk of rows at a time: a memory map is never copied whole."""
    xp = backend.xp
    out = xp.empty(X.shape[0], dtype=xp.float64)
    for start in range(0, X.shape[0], chunk):
        block = xp.asarray(X[start : start + chunk], dtype=xp.float64)
        out[start : start + chunk] = xp.einsum("ij,ij->i", block, block)
    return out


def encode(
    X: Any,
    dictionary: Any,
    *,
    alpha: float = DEFAULTS.alpha,
    backend: str = "numpy",
    code_solver: str = "auto",
    positive: bool = False,
    tol: float | None = None,
    max_iter: int = DEFAULTS.code_max_iter,
) -> np.ndarray:
    """Codes (n_samples, n_components) of X (n_samples, n_features) on a fixed dictionary.

    Each row solves min_h ½‖x − hW‖² + α‖h‖₁ to a relative duality gap of `tol` (default by
    dtype). Returns a NumPy array in X's working dtype (float32 or float64).
    """
    alpha = checked_alpha(alpha)
    X = validate_data(X)
    W = validate_dictionary(dictionary, X.shape[1]).astype(X.dtype, copy=False)
    chosen = get_backend(backend)
    try:
        resolve_code_solver(code_solver, chosen)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    tol = default_code_tol(X.dtype.name) if tol is None else tol
    with chosen.compute_scope():
        step = solve_codes(
            chosen,
            chosen.asarray(X, X.dtype),
            chosen.asarray(W, X.dtype),
            alpha,
            solver=code_solver,
            tol=tol,
            max_iter=max_iter,
            positive=positive,
        )
    return chosen.to_numpy(step.codes)
