"""The public entry points: `fit` and `encode`, validating their inputs once, at the boundary."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from .auto import resolve_options
from .backends import Backend, get_backend
from .batch import fit_batch
from .codes import on_backend, resolve_code_solver, solve_codes
from .distributed import DaskExecutor, is_dask_array
from .errors import ConvergenceWarning, InvalidInputError
from .executors import InProcess
from .init import initial_dictionary
from .omp import omp_codes
from .online import fit_online
from .options import DEFAULTS, INITS, FitOptions, default_code_tol, float64_code_step
from .placement import backend_name
from .result import FitResult, ProgressCallback
from .rows import CodeSettings, code_rows
from .run import Run, clock
from .validation import (
    CastRows,
    check_matrix_header,
    checked_alpha,
    fit_options,
    npy_path,
    open_matrix,
    validate_data,
    validate_dictionary,
    warn_if_too_large,
    working_dtype,
)


def fit(
    X: Any,
    n_components: int,
    *,
    init: Any = "data",
    callback: ProgressCallback | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    return_codes: bool = True,
    executor: DaskExecutor | None = None,
    **options: Any,
) -> FitResult:
    """Learn a dictionary W (n_components, n_features) and codes H (n_samples, n_components).

    Minimises ½‖X − HW‖²_F + α‖H‖₁ subject to ‖W_j‖₂ ≤ 1 (or + ½λ_W‖W‖²_F with
    `dictionary_penalty`) by block coordinate descent. X (n_samples, n_features) is any real
    array, a memory map included, or the path of a `.npy` file. `init` is "data", "svd" or an
    (n_components, n_features) array. The other keyword options and their defaults are the
    fields of `FitOptions`; `mode="auto"` and `batch_size=None`, the defaults, are chosen from
    the problem (`solvers.auto`: online mini-batches of 8·k rows, at least 256 and at most
    max(1024, k), on the CPU; batch mode when one such mini-batch holds all the data), and
    `result.options` says what was chosen. `callback(progress)` runs after every outer
    iteration (online: every tenth of an epoch) and may return False to stop with stop_reason
    "cancelled".
    `checkpoint` is an .npz path: an existing one is resumed from, and it is rewritten every
    `checkpoint_interval` seconds and when the fit stops. `executor`: None fits in this
    process on `backend`; a `DaskExecutor` fits on its cluster (`backend` then names the
    workers' backend), the same loops over row chunks.
    """
    started = clock()  # a time limit counts from here: checks and initialisation included
    opts = fit_options(n_components, options)
    X = open_matrix(X)
    # An array is checked by initial_dictionary (before any work); a name is checked here.
    if isinstance(init, str) and init not in INITS:
        raise InvalidInputError(f"init must be 'data', 'svd' or an array; got {init!r}")
    rng = np.random.default_rng(opts.random_state)
    where = None if checkpoint is None else os.fspath(checkpoint)
    if executor is not None:
        return _fit_on_cluster(
            executor, X, int(n_components), init, rng, opts, callback, where, return_codes, started
        )
    X = validate_data(X, dtype=opts.dtype)
    warn_if_too_large(X.shape[0], int(n_components))
    backend = get_backend(opts.backend, opts.code_solver)
    opts = on_backend(opts, backend.name)
    W0 = initial_dictionary(X, int(n_components), init, rng, opts.positive_dictionary)
    opts = resolve_options(opts, X.shape[0], int(n_components), backend.is_gpu)
    code = CodeSettings.of(opts, X.dtype.name, backend.name)
    rows = InProcess(X, backend, code, "codes" if opts.mode == "online" else "H")
    with backend.compute_scope():
        return _loop(Run(rows, opts, callback, where, started=started), W0, rng, return_codes)


def _loop(run: Run, W0: np.ndarray, rng: np.random.Generator, return_codes: bool) -> FitResult:
    if run.options.mode == "online":
        result = fit_online(run, W0, rng, return_codes)
    else:
        result = fit_batch(run, W0, return_codes)
    result.options = run.options
    return result


def _fit_on_cluster(
    executor: DaskExecutor,
    X: Any,
    n_components: int,
    init: Any,
    rng: np.random.Generator,
    opts: FitOptions,
    callback: ProgressCallback | None,
    checkpoint: str | None,
    return_codes: bool,
    started: float,
) -> FitResult:
    """The fit over the executor's workers: a path's rows are read and checked there."""
    path = npy_path(X)
    if path is None and not is_dask_array(X):
        X = validate_data(X, dtype=opts.dtype)
    else:  # the values are checked where the rows are read
        check_matrix_header(X)
        if not all(isinstance(d, int | np.integer) for d in X.shape):
            raise InvalidInputError(
                f"X has an unknown shape {X.shape}; compute its chunk sizes first "
                "(dask: X.compute_chunk_sizes())"
            )
    warn_if_too_large(X.shape[0], n_components)
    workers = executor.workers()  # once: the backend's choice and the chunks' placement
    opts = on_backend(opts, backend_name(workers, opts.backend, opts.code_solver))
    dtype = working_dtype(X.dtype, opts.dtype)
    W0 = initial_dictionary(
        np.asarray(X, dtype=dtype) if init == "svd" else CastRows(X, dtype),
        n_components,
        init,
        rng,
        opts.positive_dictionary,
    )
    opts = resolve_options(opts, X.shape[0], n_components, opts.backend == "cupy")
    code = CodeSettings.of(opts, dtype.name, opts.backend)
    try:
        rows = executor.start(path or X, X.shape, dtype, opts.backend, code, workers)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    try:
        run = Run(rows, opts, callback, checkpoint, started=started)
        return _loop(run, W0.astype(dtype), rng, return_codes)
    finally:
        rows.close()


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
    n_nonzero_coefs: int | None = None,
    residual_tol: float | None = None,
) -> np.ndarray:
    """Codes (n_samples, n_components) of X (n_samples, n_features) on a fixed dictionary.

    The lasso solvers (`code_solver` "auto", "cd", "fista", "lars") solve, for each row,
    min_h ½‖x − hW‖² + α‖h‖₁ to a relative duality gap of `tol` (default by dtype); when some
    row stops short of it (`max_iter`), one `solvers.ConvergenceWarning` says how many and how
    far. `code_solver="omp"` is orthogonal matching pursuit (ℓ0, CPU; `solvers.omp`): at most
    `n_nonzero_coefs` atoms per row (default a tenth of the features), or, with `residual_tol`,
    atoms until ‖x − hW‖² ≤ residual_tol; it ignores alpha, positive, tol and max_iter.
    Returns a NumPy array in X's working dtype (float32 or float64).
    """
    alpha = checked_alpha(alpha)
    X = validate_data(X)
    W = validate_dictionary(dictionary, X.shape[1]).astype(X.dtype, copy=False)
    chosen = get_backend(backend, code_solver)
    if code_solver == "omp":
        if chosen.is_gpu:
            raise InvalidInputError("code_solver='omp' runs on the CPU only (backend='numpy')")
        return omp_codes(X, W, n_nonzero_coefs=n_nonzero_coefs, residual_tol=residual_tol)
    try:
        resolve_code_solver(code_solver, chosen)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    if tol is None:
        tol = default_code_tol(X.dtype.name, float64_code_step(code_solver, chosen.name))
    with chosen.compute_scope():
        codes, gaps, certified = _encoded(chosen, X, W, alpha, code_solver, tol, max_iter, positive)
    if not certified:
        warnings.warn(
            ConvergenceWarning(
                f"{int(np.count_nonzero(gaps > tol))} of {gaps.shape[0]} rows stopped at "
                f"max_iter={max_iter} short of their certificate: largest relative duality gap "
                f"{float(gaps.max()):.3g} > tol={tol:g}; raise max_iter for exact codes"
            ),
            stacklevel=2,
        )
    return codes


def _encoded(
    backend: Backend,
    X: np.ndarray,
    W: np.ndarray,
    alpha: float,
    solver: str,
    tol: float,
    max_iter: int,
    positive: bool,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(codes (n, k), relative gaps (n,), all certified) on the host, `code_rows` rows of X at a
    time on the backend: a GPU's memory bounds the part, never n."""
    every = code_rows(backend, solver, X.shape[1], W.shape[0])
    W_on = backend.asarray(W, X.dtype)
    codes, gaps, certified = [], [], True
    for start in range(0, X.shape[0], every):
        part = backend.asarray(X[start : start + every], X.dtype)
        step = solve_codes(
            backend, part, W_on, alpha, solver=solver, tol=tol, max_iter=max_iter,
            positive=positive,
        )  # fmt: skip
        codes.append(backend.to_numpy(step.codes))
        gaps.append(backend.to_numpy(step.gaps))
        certified = certified and step.certified
    if len(codes) == 1:
        return codes[0], gaps[0], certified
    return np.concatenate(codes), np.concatenate(gaps), certified
