"""Where the code steps of a fit run: the one thing the outer loops leave open.

The batch and online loops (`solvers.batch`, `solvers.online`) hold W, the running statistics
and the stopping rules; an executor holds X as `RowBlock`s and codes rows on W, returning the
summed sufficient statistics (`StepStats`). `InProcess` keeps one block in this process, on
NumPy or CuPy; `solvers.distributed.DaskExecutor` keeps row chunks on the workers of a Dask
cluster. Both run the same block code, so they give the same fit up to the order in which
floating-point sums are taken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .backends import Backend
from .dictionary import reseed_atoms
from .rows import BlockStats, CodeSettings, CodeSums, RowBlock


@dataclass(frozen=True)
class StepStats(CodeSums):
    """A code step's sums over the blocks, taken in block order, on the executor's backend;
    `worst`: (‖x − hW‖², block, block-local row) of the rows worst reconstructed, decreasing,
    at most k."""

    worst: list[tuple[float, int, int]]

    @classmethod
    def total(cls, parts: list[tuple[int, BlockStats]], k: int) -> StepStats:
        """The sum of (block index, stats) pairs, taken in the order given."""
        A, B = parts[0][1].A, parts[0][1].B  # a step's own arrays: added to, never shared
        if len(parts) > 1:
            A, B = A.copy(), B.copy()
        for _, stats in parts[1:]:
            A += stats.A
            B += stats.B
        ranked = sorted(
            (
                (-float(r), block, int(local))
                for block, s in parts
                for local, r in zip(s.worst, s.worst_residual, strict=True)
            ),
        )[:k]
        return cls(
            A=A,
            B=B,
            l1=sum(s.l1 for _, s in parts),
            half_residual=sum(s.half_residual for _, s in parts),
            max_gap=max(s.max_gap for _, s in parts),
            certified=all(s.certified for _, s in parts),
            n_rows=sum(s.n_rows for _, s in parts),
            worst=[(-r, block, local) for r, block, local in ranked],
            rebuilt=any(s.rebuilt for _, s in parts),
        )


class Executor(Protocol):
    """What the outer loops ask of the place where X lives (see `InProcess`)."""

    backend: Backend  # where W, A and B live during the fit
    kind: str  # names the checkpoints it writes: those of another kind cannot be resumed
    stops_inside: bool  # whether `code` heeds its deadline in the middle of a step
    n_samples: int
    n_features: int
    dtype: np.dtype
    x_sq_sum: float

    def code(
        self,
        W: Any,
        rows: np.ndarray | None = None,
        *,
        replaced: bool = False,
        deadline: Callable[[], bool] | None = None,
    ) -> StepStats:
        """Code the rows (sorted global indices; None: all) on W (k, p), warm-started; where
        `stops_inside`, raise `solvers.rows.OutOfTime` when `deadline()` turns True in the
        middle, nothing changed."""

    def reseed(self, W: Any, dead: Any, step: StepStats, W_coded: Any, positive: bool) -> Any:
        """W with its dead atoms replaced by the residuals of step's worst rows."""

    def keeps_codes(self, k: int) -> bool:
        """Whether every row's latest codes are kept (the exact statistics need them)."""

    def code_sums(self, k: int) -> tuple[Any, Any]:
        """Σ h hᵀ, Σ h xᵀ over every row's latest codes."""

    def step_codes(self, W_coded: Any) -> Any:
        """The codes (n, k) of the latest step over all rows (coded on W_coded), on the host."""

    def final_codes(self, W: Any, keep: bool) -> tuple[Any, float]:
        """(codes (n, k) on W, warm from the rows' latest codes where kept, or None unless
        `keep`; Σ ½‖x − hW‖² + α‖h‖₁)."""

    def state(self, checkpoint: str) -> dict[str, np.ndarray]:
        """The codes for a checkpoint at `checkpoint`: arrays for its `.npz` (or written
        beside it)."""

    def restore(self, arrays: dict[str, np.ndarray], checkpoint: str) -> None:
        """Take back the codes `state` saved."""


class InProcess:
    """The whole of X as one block in this process, on `backend` (NumPy or CuPy).

    X (n, p) in the working dtype; for NumPy possibly a memory map, for CuPy copied to the
    device once.
    """

    kind = ""
    stops_inside = True

    def __init__(self, X: Any, backend: Backend, code: CodeSettings, codes_name: str) -> None:
        self.backend, self.settings = backend, code
        self.block = RowBlock(0, backend.asarray(X, X.dtype), backend)
        self.n_samples, self.n_features = (int(d) for d in X.shape)
        self.dtype = np.dtype(X.dtype)
        self.x_sq_sum = float(self.block.x_sq.sum())
        self._codes_name = codes_name  # what the checkpoint calls the codes ("H", "codes")

    def code(
        self,
        W: Any,
        rows: np.ndarray | None = None,
        *,
        replaced: bool = False,
        deadline: Callable[[], bool] | None = None,
    ) -> StepStats:
        # the one host→device copy of a mini-batch's row indices (on CuPy)
        index = None if rows is None else self.backend.asarray(rows, np.int64)
        stats = self.block.code(W, self.settings, index, replaced=replaced, deadline=deadline)
        return StepStats.total([(0, stats)], int(W.shape[0]))

    def reseed(self, W: Any, dead: Any, step: StepStats, W_coded: Any, positive: bool) -> Any:
        chosen = step.worst[: int(dead.shape[0])]
        local = np.array([row for _, _, row in chosen], dtype=np.int64)
        X, H = self.block.candidates(local, W_coded, self.settings, self.block.version)
        residual = self.backend.asarray(np.array([r for r, _, _ in chosen]), np.float64)
        return reseed_atoms(self.backend, W, dead, X, H, residual, positive)

    def keeps_codes(self, k: int) -> bool:
        return self.block.keeps_codes(k)

    def code_sums(self, k: int) -> tuple[Any, Any]:
        return self.block.code_sums(k, self.n_features)

    def step_codes(self, W_coded: Any) -> Any:
        if self.block.codes is None:
            return None
        codes = self.block.step_codes(self.block.version, W_coded, self.settings)
        return self.backend.to_numpy(codes)

    def final_codes(self, W: Any, keep: bool) -> tuple[Any, float]:
        codes, total = self.block.final_codes(W, self.settings, keep)
        return (None if codes is None else self.backend.to_numpy(codes)), total

    def state(self, checkpoint: str) -> dict[str, np.ndarray]:
        codes = self.block.codes
        return {} if codes is None else {self._codes_name: self.backend.to_numpy(codes)}

    def restore(self, arrays: dict[str, np.ndarray], checkpoint: str) -> None:
        if self._codes_name in arrays:
            codes = arrays[self._codes_name]
            dtype = self.dtype if self._codes_name == "H" else np.float32
            self.block.restore(self.backend.asarray(codes, dtype))
