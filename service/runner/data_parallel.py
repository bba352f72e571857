"""Data-parallel fits on a Dask cluster, for data larger than one worker's memory.

X is split by rows into chunks that stay on the workers across iterations (`chunks.py`). Every
code step runs where the chunks are and sends back only the partial statistics A = HᵀH (k, k)
and B = HᵀX (k, p); the client sums them in chunk order (so results do not depend on which
worker finished first), takes the dictionary step with the same routine, passes and tolerance as
`solvers.fit`, and sends the new W (k, p) with the next round of tasks. Batch mode reaches the
objective of `solvers.fit` for the same options and seed to rounding; online mode splits each
mini-batch between the chunks that own its rows and folds it into running statistics on the
client, with the fading memory of `solvers.fit` (`solvers.bcd.statistics_memory`; no exact sums:
the client keeps no codes).

A worker that dies loses nothing that cannot be recomputed: a chunk is a Dask task reading its
row range from the `.npy` file (or a task holding the rows it embeds), and the codes it kept are
only a warm start.
"""

from __future__ import annotations

import itertools
import math
import os
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

import solvers
from solvers.errors import InvalidInputError
from solvers.init import initial_dictionary
from solvers.options import default_code_tol
from solvers.result import FitResult, ProgressCallback
from solvers.validation import fit_options, validate_data, warn_if_too_large

from .chunks import CodeSettings, chunk_codes, load_chunk
from .parallel_loops import Run, fit_batch_parallel, fit_online_parallel

# A chunk's target size: small enough that several fit in a worker next to their codes, large
# enough that a code step's compiled work dominates Dask's per-task overhead (~1 ms).
CHUNK_BYTES = 64 * 2**20
# Data-parallel is chosen automatically once X exceeds this fraction of one worker's memory.
MEMORY_FRACTION = 0.25


def should_use_data_parallel(
    n_bytes: int, worker_memory_bytes: float | None, requested: bool | None = None
) -> bool:
    """Whether a fit over X of `n_bytes` should be data-parallel.

    `requested` (a job option) wins when given; otherwise X must exceed MEMORY_FRACTION of the
    smallest worker's memory limit (None or 0: unlimited, so never automatically).
    """
    if requested is not None:
        return requested
    if not worker_memory_bytes:
        return False
    return n_bytes > MEMORY_FRACTION * worker_memory_bytes


def worker_memory(client: Any) -> float | None:
    """The smallest memory limit in bytes among the cluster's workers (None: unlimited/none)."""
    limits = [w.get("memory_limit") or 0 for w in client.scheduler_info()["workers"].values()]
    limits = [limit for limit in limits if limit > 0]
    return float(min(limits)) if limits else None


def default_n_chunks(n_rows: int, row_bytes: int, n_workers: int) -> int:
    """At least one chunk per worker, none over CHUNK_BYTES, never more chunks than rows."""
    by_size = math.ceil(n_rows * row_bytes / CHUNK_BYTES)
    return max(1, min(n_rows, max(n_workers, by_size)))


@dataclass
class _Source:
    """Rows of X as the client sees them: a memory-mapped `.npy` path or an in-memory array."""

    path: str | None
    X: np.ndarray  # memory map or array, in its stored dtype

    def block(self, start: int, stop: int) -> Any:
        """What a chunk task receives: the path (workers read the rows) or the rows themselves."""
        return self.path if self.path is not None else np.ascontiguousarray(self.X[start:stop])


class _CastRows:
    """X read row by row in the working dtype, for the initial dictionary ("data" init)."""

    def __init__(self, X: np.ndarray, dtype: np.dtype) -> None:
        self.X, self.dtype, self.shape = X, dtype, X.shape

    def __getitem__(self, rows: Any) -> np.ndarray:
        return np.asarray(self.X[rows]).astype(self.dtype)


def _open_source(X_source: Any) -> _Source:
    if isinstance(X_source, str | os.PathLike):
        path = os.fspath(X_source)
        try:
            X = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read {path} as a .npy matrix: {exc}") from exc
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0 or X.dtype.kind not in "biuf":
            raise InvalidInputError(f"{path} must hold a non-empty real 2-D matrix; got {X.shape}")
        return _Source(os.path.abspath(path), X)
    return _Source(None, validate_data(X_source))


def fit_data_parallel(
    client: Any,
    X_source: Any,
    n_components: int,
    *,
    n_chunks: int | None = None,
    init: Any = "data",
    callback: ProgressCallback | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    return_codes: bool = True,
    **options: Any,
) -> FitResult:
    """`solvers.fit` over the workers of the Dask `client`, X split by rows into `n_chunks`.

    X_source: path of a `.npy` file (n_samples, n_features) that every worker can read (the
    shared data directory), or an array (its chunks then travel inside their tasks). Options,
    `init`, `callback` (False → stop_reason "cancelled") and `checkpoint` (an `.npz`, resumed
    when it exists) mean what they mean for `solvers.fit`; a resumed batch fit starts its codes
    cold. Returns a FitResult with host arrays: dictionary (n_components, n_features), codes
    (n_samples, n_components) gathered from the workers, or None without `return_codes`, and
    their objective (NaN without codes).
    """
    opts = fit_options(n_components, options)
    source = _open_source(X_source)
    n, p = source.X.shape
    warn_if_too_large(n, int(n_components))
    dtype = solvers.working_dtype(source.X.dtype, opts.dtype)
    if not isinstance(init, str):
        init = solvers.validate_data(init, name="dictionary")
    elif init not in ("data", "svd"):
        raise InvalidInputError(f"init must be 'data', 'svd' or an array; got {init!r}")
    rng = np.random.default_rng(opts.random_state)
    rows_view: Any = (
        np.asarray(source.X, dtype=dtype) if init == "svd" else _CastRows(source.X, dtype)
    )
    W0 = initial_dictionary(rows_view, int(n_components), init, rng, opts.positive_dictionary)
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise InvalidInputError("the Dask cluster has no workers")
    count = n_chunks or default_n_chunks(n, p * dtype.itemsize, len(workers))
    bounds = np.linspace(0, n, min(count, n) + 1).astype(np.int64)
    token = uuid.uuid4().hex[:12]
    chunks = [
        client.submit(
            load_chunk,
            source.block(int(start), int(stop)),
            int(start),
            int(stop),
            dtype.name,
            opts.backend,
            key=f"sparsecoding-chunk-{token}-{c}",
            workers=[workers[c % len(workers)]],
            allow_other_workers=True,
        )
        for c, (start, stop) in enumerate(itertools.pairwise(bounds))
    ]
    cfg = CodeSettings(
        backend=opts.backend,
        alpha=opts.alpha,
        solver=opts.code_solver,
        tol=opts.code_tol if opts.code_tol is not None else default_code_tol(dtype.name),
        max_iter=opts.code_max_iter,
        positive=opts.positive_codes,
    )
    run = Run(
        client=client,
        chunks=chunks,
        starts=bounds[:-1],
        n_samples=n,
        n_features=p,
        options=opts,
        code=cfg,
        token=token,
        callback=callback,
        checkpoint=None if checkpoint is None else os.fspath(checkpoint),
    )
    try:
        if opts.mode == "online":
            result, W_codes, tag = fit_online_parallel(run, W0.astype(dtype), rng)
        else:
            result, W_codes, tag = fit_batch_parallel(run, W0.astype(dtype))
        if return_codes:
            parts = [
                client.submit(
                    chunk_codes, chunk, W_codes, cfg, tag, key=f"sparsecoding-codes-{token}-{c}"
                )
                for c, chunk in enumerate(chunks)
            ]
            result.codes = np.concatenate(client.gather(parts)).astype(dtype, copy=False)
            # the true J / n_samples of what is returned, as solvers.fit reports it
            result.objective = solvers.objective(
                source.X, result.codes, result.dictionary, opts.alpha, opts.dictionary_penalty
            )
        return result
    finally:
        client.cancel(chunks)
