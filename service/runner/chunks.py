"""The worker side of a data-parallel fit: row chunks of X and the tasks that code them.

A chunk is rows [start, stop) of X, loaded on the worker (from the shared `.npy` file by row
range, or from the block embedded in its task) and kept there across iterations as a Dask
result. Every task here is a pure function of its arguments up to the warm start: a chunk
remembers its latest codes to warm-start the next code step, and a chunk that Dask recomputes
after its worker died simply starts cold, which changes nothing but the time the lasso takes.
Only small statistics travel back: A = HᵀH (k, k), B = HᵀX (k, p) and a few scalars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import solvers
from solvers.backends import Backend
from solvers.codes import CodeStep, solve_codes
from solvers.dictionary import add_statistics


@dataclass(frozen=True)
class CodeSettings:
    """What a worker needs to code rows: the code step's options, picklable and small."""

    backend: str
    alpha: float
    solver: str
    tol: float
    max_iter: int
    positive: bool


@dataclass
class Chunk:
    """Rows [start, start + m) of X on a worker, with what warm-starts their next code step.

    X (m, p) in the working dtype on the backend; x_sq (m,) float64 ‖x_i‖². `codes` (m, k) are
    the latest codes of every row (or None before the first step / after a recompute);
    `last_rows`, `last_codes` (r, k), `last_residual` (r,) describe the latest step's rows
    (None: all rows), for re-seeding dead atoms, and `last_tag` names that step. Dask may hold
    stale copies of a chunk (one moved to balance work was coded there): warm starts from
    them are harmless, but codes are handed out only when their tag is the one asked for.
    """

    start: int
    X: Any
    x_sq: Any
    codes: Any = None
    last_rows: np.ndarray | None = None
    last_codes: Any = None
    last_residual: Any = None
    last_tag: int = -1

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])


@dataclass(frozen=True)
class ChunkStats:
    """What one chunk's code step sends back (host arrays, float64).

    A (k, k) = Σ h hᵀ, B (k, p) = Σ h xᵀ over the coded rows; `l1` = Σ‖h‖₁,
    `half_residual` = Σ ½‖x − hW‖²;
    `worst_rows` (≤ k,) chunk-local indices of the largest residuals, `worst_residual` their
    ‖x − hW‖², in decreasing order.
    """

    A: np.ndarray
    B: np.ndarray
    l1: float
    half_residual: float
    x_sq_sum: float
    max_gap: float
    certified: bool
    n_rows: int
    worst_rows: np.ndarray
    worst_residual: np.ndarray
    backend: str


def load_chunk(source: Any, start: int, stop: int, dtype: str, backend: str) -> Chunk:
    """Rows [start, stop) of the `.npy` file `source` (memory-mapped), or `source` itself when it
    is the block of rows already; validated (finite, real) and cast to `dtype`."""
    if isinstance(source, str):
        block = np.load(source, mmap_mode="r", allow_pickle=False)[start:stop]
    else:
        block = source
    X = solvers.validate_data(np.array(block), name=f"X[{start}:{stop}]", dtype=dtype)
    chosen = solvers.get_backend(backend)
    if not chosen.is_gpu:  # once per worker process; compiled once per install, under a lock
        solvers.compile_kernels([X.dtype])
    X_dev = chosen.asarray(X, X.dtype)
    X64 = X_dev.astype(chosen.xp.float64)
    x_sq = chosen.xp.einsum("ij,ij->i", X64, X64)
    return Chunk(start, X_dev, x_sq)


def _solve(chunk: Chunk, backend: Backend, W: Any, cfg: CodeSettings, rows: Any, warm: Any):
    X = chunk.X if rows is None else chunk.X[rows]
    x_sq = chunk.x_sq if rows is None else chunk.x_sq[rows]
    return solve_codes(
        backend,
        X,
        W,
        cfg.alpha,
        H0=warm,
        solver=cfg.solver,
        tol=cfg.tol,
        max_iter=cfg.max_iter,
        positive=cfg.positive,
        x_sq=x_sq,
    )


def code_chunk(
    chunk: Chunk, W: np.ndarray, cfg: CodeSettings, rows: np.ndarray | None, tag: int
) -> ChunkStats:
    """Code the chunk's rows (all, or the sorted local indices `rows`) on W (k, p).

    Warm-starts from the chunk's previous codes, stores the new ones on the chunk under `tag`,
    and returns the partial statistics of the coded rows.
    """
    backend = solvers.get_backend(cfg.backend)
    xp = backend.xp
    W_dev = backend.asarray(W, chunk.X.dtype)
    k = W.shape[0]
    if chunk.codes is None or chunk.codes.shape[1] != k:
        warm = None
        if rows is not None:
            chunk.codes = xp.zeros((chunk.n_rows, k), dtype=chunk.X.dtype)
    else:
        warm = chunk.codes if rows is None else chunk.codes[rows]
    step = _solve(chunk, backend, W_dev, cfg, rows, warm)
    if rows is None:
        chunk.codes = step.codes
    else:
        chunk.codes[rows] = step.codes
    chunk.last_rows, chunk.last_codes, chunk.last_residual = rows, step.codes, step.residual_sq
    chunk.last_tag = tag
    return _statistics(backend, chunk, step, rows, k)


def _statistics(
    backend: Backend, chunk: Chunk, step: CodeStep, rows: np.ndarray | None, k: int
) -> ChunkStats:
    xp = backend.xp
    H = step.codes
    X = chunk.X if rows is None else chunk.X[rows]
    x_sq = chunk.x_sq if rows is None else chunk.x_sq[rows]
    A = xp.zeros((k, k), dtype=xp.float64)
    B = xp.zeros((k, X.shape[1]), dtype=xp.float64)
    add_statistics(backend, A, B, H, X)
    residual = backend.to_numpy(step.residual_sq)
    order = np.argsort(-residual, kind="stable")[:k]
    local = order if rows is None else np.asarray(rows)[order]
    l1 = float(xp.abs(H).sum(dtype=xp.float64))
    return ChunkStats(
        A=backend.to_numpy(A),
        B=backend.to_numpy(B),
        l1=l1,
        half_residual=0.5 * float(residual.sum()),
        x_sq_sum=float(x_sq.sum()),
        max_gap=step.max_gap,
        certified=step.certified,
        n_rows=int(X.shape[0]),
        worst_rows=local.astype(np.int64),
        worst_residual=residual[order],
        backend=backend.name,
    )


def candidate_rows(
    chunk: Chunk, local: np.ndarray, W: np.ndarray, cfg: CodeSettings, tag: int
) -> tuple[np.ndarray, np.ndarray]:
    """(X rows (r, p), their codes (r, k)) for chunk-local indices `local`, on the host.

    The codes come from step `tag` when this copy of the chunk holds it; otherwise (a chunk
    recomputed or a stale copy) the rows are recoded on W, the dictionary that step used.
    """
    backend = solvers.get_backend(cfg.backend)
    local = np.asarray(local, dtype=np.int64)
    codes = None
    if chunk.last_codes is not None and chunk.last_tag == tag:
        if chunk.last_rows is None:
            codes = chunk.last_codes[local]
        else:
            position = np.searchsorted(chunk.last_rows, local)
            position = np.minimum(position, len(chunk.last_rows) - 1)
            if np.array_equal(np.asarray(chunk.last_rows)[position], local):
                codes = chunk.last_codes[position]
    if codes is None:
        W_dev = backend.asarray(W, chunk.X.dtype)
        codes = _solve(chunk, backend, W_dev, cfg, local, None).codes
    return backend.to_numpy(chunk.X[local]), backend.to_numpy(codes)


def chunk_codes(chunk: Chunk, W: np.ndarray, cfg: CodeSettings, tag: int | None) -> np.ndarray:
    """The chunk's codes (m, k) on W, on the host: those of step `tag` when this copy holds
    them (batch mode), else coded on W (warm from whatever codes the copy has, if any)."""
    backend = solvers.get_backend(cfg.backend)
    if tag is not None and chunk.last_tag == tag and chunk.last_rows is None:
        return backend.to_numpy(chunk.codes)
    W_dev = backend.asarray(W, chunk.X.dtype)
    warm = chunk.codes if tag is not None and chunk.last_rows is None else None
    return backend.to_numpy(_solve(chunk, backend, W_dev, cfg, None, warm).codes)
