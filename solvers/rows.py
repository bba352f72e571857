"""A block of rows of X and the code step on it: the part of block coordinate descent that runs
where the data is, in this process or on a Dask worker.

A `RowBlock` holds rows [start, start + m) of X on a backend, ‖x_i‖², and the latest codes of
every row (the warm start of their next code step, and what the exact statistics of an online
fit sum). A code step on some of its rows returns `BlockStats`: the sufficient statistics
A = HᵀH (k, k), B = HᵀX (k, p), ℓ1 and residual sums, the largest duality gap and the rows worst
reconstructed, which the outer loops (`solvers.batch`, `solvers.online`) sum over the blocks.

Every code step gives the block's codes a new version, drawn at random and returned with the
statistics: a caller that asks for codes (or for a change of its sums) by the version it was
given gets them only from that very state, never from a block rebuilt after its worker died or
from the copy a duplicated task left behind; those recode, or say that they were rebuilt.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .backends import Backend
from .certificates import objective_sum
from .codes import CodeStep, solve_codes
from .dictionary import add_statistics
from .options import FitOptions, default_code_tol, float64_code_step

# Bytes of work arrays a pass over every row of a block (final codes, exact sums, row norms)
# may hold at once, so that memory stays bounded for a memory-mapped X: a chunk of r rows
# takes about 24·(k + p)·r bytes (X in float64, C = X Wᵀ, the codes, the residuals).
PASS_BYTES = 64 * 2**20
# Rows coded between two looks at the clock when a step must stop at a time limit: about 20 to
# 80 ms of coding here (3 to 10 µs a row at k = 64 to 256), a small part of a limit of 0.5 s.
# Each part is a code step of its own (G = W Wᵀ, and on a GPU its largest eigenvalue), so a GPU,
# whose batched FISTA wants many rows at once, looks every GPU_CHECK_ROWS (not measured there).
CHECK_ROWS = 8192
GPU_CHECK_ROWS = 65536
# A batched FISTA code step holds about this many (rows, k) arrays of the working dtype (H, Y,
# the previous H, C = X Wᵀ, Y G, the prox's output, the checks' work) beside the rows of X; on
# a GPU the rows coded at once take at most DEVICE_FRACTION of the free device memory, so that
# batch mode and encode fit any number of rows (at k = 512 a step held ~36 KB a row).
FISTA_ROW_ARRAYS = 8
DEVICE_FRACTION = 0.25
# Online fits keep every row's latest codes (float32) to warm-start its next visit when a block's
# codes fit in this many bytes of host memory (on a GPU: DEVICE_FRACTION of its free memory, if
# more): a warm start finds the support in one pass instead of several, and FISTA's work per row
# falls by a third (benchmarks.fista_work).
WARM_START_BYTES = 128 * 2**20


class OutOfTime(Exception):
    """A code step stopped in the middle at its deadline; the block is as it was before."""


@dataclass(frozen=True)
class CodeSettings:
    """The code step's options: small and picklable, sent with every task."""

    alpha: float
    solver: str
    tol: float
    max_iter: int
    positive: bool

    @classmethod
    def of(cls, options: FitOptions, dtype_name: str, backend_name: str) -> CodeSettings:
        """The code step's settings of a fit with these options, on data of this dtype, on this
        backend ("numpy" or "cupy")."""
        tol = options.code_tol
        if tol is None:
            exact = float64_code_step(options.code_solver, backend_name)
            tol = default_code_tol(dtype_name, exact)
        return cls(
            options.alpha,
            options.code_solver,
            tol,
            options.code_max_iter,
            options.positive_codes,
        )


@dataclass(frozen=True)
class CodeSums:
    """The sufficient statistics of a code step over some rows.

    A (k, k) = Σ h hᵀ and B (k, p) = Σ h xᵀ, float64, over the coded rows, or with `replaced`
    the change of those sums when the rows' new codes replace their previous ones; `l1` = Σ‖h‖₁,
    `half_residual` = Σ ½‖x − hW‖²; `max_gap` the largest relative duality gap, `certified`
    every gap under the tolerance; `rebuilt`: codes of the version asked for were lost (a
    worker died), so `replaced` sums are not a change of the caller's sums.
    """

    A: Any
    B: Any
    l1: float
    half_residual: float
    max_gap: float
    certified: bool
    n_rows: int
    rebuilt: bool


@dataclass(frozen=True)
class BlockStats(CodeSums):
    """What a code step over some rows of one block gives the outer loop: its sums, `worst`
    (≤ k,) block-local indices of the largest residuals, `worst_residual` their ‖x − hW‖²,
    decreasing, and `version`, the block's codes' new version."""

    worst: np.ndarray
    worst_residual: np.ndarray
    version: int

    def on_host(self, backend: Backend) -> BlockStats:
        return replace(self, A=backend.to_numpy(self.A), B=backend.to_numpy(self.B))


class RowBlock:
    """Rows [start, start + m) of X on `backend`, with the latest codes of every row.

    X (m, p) in the working dtype; x_sq (m,) float64. `codes` (m, k) is None until a step keeps
    codes: in the working dtype for batch steps (they are also the returned codes), float32 for
    mini-batch steps, kept only under WARM_START_BYTES. `version` names the state that wrote
    them; `last` (rows or None for all, codes, residual_sq) is the latest step's, for re-seeding.
    """

    def __init__(self, start: int, X: Any, backend: Backend) -> None:
        self.start, self.X, self.backend = start, X, backend
        self.x_sq = squared_row_norms(backend, X)
        self.warm_start_bytes = warm_start_bytes(backend)
        self.codes: Any = None
        self.version = -1
        self.last: tuple[Any, Any, Any] | None = None

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    def keeps_codes(self, k: int) -> bool:
        return self.n_rows * k * 4 <= self.warm_start_bytes

    def code(
        self,
        W: Any,
        cfg: CodeSettings,
        rows: Any,
        *,
        expected: int | None = None,
        replaced: bool = False,
        deadline: Callable[[], bool] | None = None,
    ) -> BlockStats:
        """Code the rows (all, or sorted block-local indices on the backend) on W (k, p), warm
        from their latest codes, and keep the new codes under a new version. `expected`: the
        version the caller was last given (another one marks the stats `rebuilt`); `replaced`
        (kept codes only): return the change of the sums rather than the sums. `deadline()`,
        asked every CHECK_ROWS rows, True: raise `OutOfTime`, the block unchanged."""
        xp, k = self.backend.xp, int(W.shape[0])
        rebuilt = expected is not None and self.version != expected
        if rows is None:
            warm = self.codes if self.codes is not None and self.codes.shape[1] == k else None
        else:
            if self.codes is None and self.keeps_codes(k):
                self.codes = xp.zeros((self.n_rows, k), dtype=xp.float32)
            warm = None if self.codes is None else self.codes[rows]
        step = self._solve(W, cfg, rows, warm, deadline)
        if rows is None:
            self.codes = step.codes
        elif self.codes is not None:
            new = step.codes.astype(xp.float32)
            self.codes[rows] = new
        self.version = secrets.randbits(62)
        self.last = (rows, step.codes, step.residual_sq)
        A = xp.zeros((k, k), dtype=xp.float64)
        B = xp.zeros((k, self.X.shape[1]), dtype=xp.float64)
        X = self.X if rows is None else self.X[rows]
        if replaced and rows is not None and self.codes is not None:
            # Exact incremental statistics (Mairal et al. 2010, §3.4): each row's previous
            # contribution is replaced by its new one; the float32 codes are what is summed.
            add_statistics(self.backend, A, B, new, X, 1.0, H_old=warm)
        else:
            add_statistics(self.backend, A, B, step.codes, X)
        return self._stats(step, A, B, rows, rebuilt)

    def _stats(
        self, step: CodeStep, A: Any, B: Any, rows: np.ndarray | None, rebuilt: bool
    ) -> BlockStats:
        xp, k = self.backend.xp, int(A.shape[0])
        residual = step.residual_sq
        m = int(residual.shape[0])
        # the k worst rows in O(m) where the residuals are; only those k come to the host
        top = xp.argpartition(-residual, k - 1)[:k] if m > k else xp.arange(m)
        worst = self.backend.to_numpy(residual[top])
        order = np.argsort(-worst, kind="stable")
        local = top if rows is None else rows[top]
        return BlockStats(
            A=A,
            B=B,
            l1=float(xp.abs(step.codes).sum(dtype=xp.float64)),
            half_residual=0.5 * float(residual.sum()),
            max_gap=step.max_gap,
            certified=step.certified,
            n_rows=m,
            worst=np.asarray(self.backend.to_numpy(local), dtype=np.int64)[order],
            worst_residual=worst[order],
            version=self.version,
            rebuilt=rebuilt,
        )

    def _solve(
        self,
        W: Any,
        cfg: CodeSettings,
        rows: Any,
        warm: Any,
        deadline: Callable[[], bool] | None = None,
    ) -> CodeStep:
        X = self.X if rows is None else self.X[rows]
        x_sq = self.x_sq if rows is None else self.x_sq[rows]
        m = int(X.shape[0])
        if deadline is None:
            every = max(m, 1)
        else:
            every = GPU_CHECK_ROWS if self.backend.is_gpu else CHECK_ROWS
        every = min(every, code_rows(self.backend, cfg.solver, self.X.shape[1], W.shape[0]))
        parts = []
        for start in range(0, max(m, 1), every):
            part = slice(start, start + every)
            parts.append(
                _coded(
                    self.backend, X[part], W, cfg, None if warm is None else warm[part], x_sq[part]
                )
            )
            if deadline is not None and start + every < m and deadline():
                raise OutOfTime
        return parts[0] if len(parts) == 1 else CodeStep.joined(parts, self.backend.xp)

    def candidates(
        self, local: np.ndarray, W_coded: Any, cfg: CodeSettings, version: int
    ) -> tuple[Any, Any]:
        """(X rows (r, p), their codes (r, k)) for block-local indices `local`: the codes of
        step `version` when this block holds them, else the rows coded afresh on W_coded, the
        dictionary that step used."""
        local = np.asarray(local, dtype=np.int64)
        index = self.backend.asarray(local, np.int64)  # indices on the device of the arrays
        codes = None
        if self.last is not None and self.version == version:
            rows, last_codes, _ = self.last
            if rows is None:
                codes = last_codes[index]
            else:
                held = np.asarray(self.backend.to_numpy(rows))
                position = np.minimum(np.searchsorted(held, local), len(held) - 1)
                if np.array_equal(held[position], local):
                    codes = last_codes[self.backend.asarray(position, np.int64)]
        if codes is None:
            codes = self._solve(W_coded, cfg, index, None).codes
        return self.X[index], codes

    def step_codes(self, version: int, W_coded: Any, cfg: CodeSettings) -> Any:
        """Every row's codes (m, k) of batch step `version`, recoded on W_coded (warm from
        what the block holds) when the block no longer has them."""
        full = self.last is None or self.last[0] is None  # a batch step's, or restored ones
        if self.version == version and full and self.codes is not None:
            return self.codes
        return self._solve(W_coded, cfg, None, self.codes).codes

    def restore(self, codes: Any) -> int:
        """Take `codes` (m, k) from a checkpoint as the latest codes; returns their version."""
        self.codes = codes
        self.last = None
        self.version = secrets.randbits(62)
        return self.version

    def code_sums(self, k: int, p: int) -> tuple[Any, Any]:
        """Σ h hᵀ (k, k) and Σ h xᵀ (k, p), float64, over every row's latest codes (zeros for
        rows without any)."""
        xp = self.backend.xp
        A = xp.zeros((k, k), dtype=xp.float64)
        B = xp.zeros((k, p), dtype=xp.float64)
        if self.codes is None:
            return A, B
        every = pass_rows(p, k)
        for start in range(0, self.n_rows, every):
            rows = slice(start, start + every)
            add_statistics(self.backend, A, B, self.codes[rows], self.X[rows])
        return A, B

    def final_codes(self, W: Any, cfg: CodeSettings, keep: bool) -> tuple[Any, float]:
        """Codes of every row on W, certified as any code step's, `pass_rows` rows at a time
        so that memory stays bounded: (codes (m, k) on the backend or None unless `keep`,
        Σ ½‖x − hW‖² + α‖h‖₁). Warm-started from the rows' latest codes where the block
        holds them (an online fit's: on P1 and 12×12 patches this pass costs half of a cold
        one), from zero otherwise, as `encode(X, W)` does."""
        k = int(W.shape[0])
        warm = self.codes if self.codes is not None and self.codes.shape[1] == k else None
        parts, total = [], 0.0
        every = pass_rows(int(self.X.shape[1]), k)
        if self.backend.is_gpu:  # larger parts: a GPU's FISTA wants many rows at once
            every = code_rows(self.backend, cfg.solver, self.X.shape[1], k)
        for start in range(0, self.n_rows, every):
            rows = slice(start, start + every)
            H0 = None if warm is None else warm[rows]
            step = _coded(self.backend, self.X[rows], W, cfg, H0, self.x_sq[rows])
            total += objective_sum(self.X[rows], step.codes, W, cfg.alpha)
            if keep:
                parts.append(step.codes)
        codes = self.backend.xp.concatenate(parts) if keep and parts else None
        return codes, total


def _coded(backend: Backend, X: Any, W: Any, cfg: CodeSettings, warm: Any, x_sq: Any) -> CodeStep:
    """`solve_codes` of X (m, p) on W with the settings `cfg`, warm from `warm` (m, k) or 0."""
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


def pass_rows(n_features: int, n_components: int) -> int:
    """Rows per chunk of a pass over every row: PASS_BYTES of work arrays, 1024 to 65536."""
    return int(np.clip(PASS_BYTES // (24 * (n_features + n_components)), 1024, 65536))


def warm_start_bytes(backend: Backend) -> int:
    """The bytes a block's kept codes may take: WARM_START_BYTES of host memory on the CPU (an
    online fit over a memory-mapped file stays within file + 300 MB); on a GPU DEVICE_FRACTION
    of its free memory (at P2's 500,000 rows × 512 atoms the codes take 1 GB, which the host
    threshold turned warm starts off for)."""
    if not backend.is_gpu:
        return WARM_START_BYTES
    memory = backend.memory()
    assert memory is not None
    return max(WARM_START_BYTES, int(DEVICE_FRACTION * memory["free_bytes"]))


def code_rows(backend: Backend, solver: str, n_features: int, n_components: int) -> int:
    """Rows one code step may take at once. The compiled CPU solvers (cd, lars) hold one
    row's work per thread: no bound. FISTA holds FISTA_ROW_ARRAYS (rows, k) arrays: on the CPU
    `pass_rows` of them, on a GPU as many as DEVICE_FRACTION of its free memory holds
    (at least GPU_CHECK_ROWS)."""
    if not backend.is_gpu and solver in ("auto", "cd", "lars"):
        return 2**62
    per_row = 8 * (FISTA_ROW_ARRAYS * n_components + 2 * n_features)  # float64 at worst
    if not backend.is_gpu:
        return max(CHECK_ROWS, PASS_BYTES // per_row)
    memory = backend.memory()
    assert memory is not None
    return max(GPU_CHECK_ROWS, int(DEVICE_FRACTION * memory["free_bytes"]) // per_row)


def squared_row_norms(backend: Backend, X: Any, chunk: int | None = None) -> Any:
    """‖x_i‖² (n,) in float64, a chunk of rows at a time: a memory map is never copied whole."""
    chunk = chunk or pass_rows(int(X.shape[1]), 0)
    xp = backend.xp
    out = xp.empty(X.shape[0], dtype=xp.float64)
    for start in range(0, X.shape[0], chunk):
        block = xp.asarray(X[start : start + chunk], dtype=xp.float64)
        out[start : start + chunk] = xp.einsum("ij,ij->i", block, block)
    return out
