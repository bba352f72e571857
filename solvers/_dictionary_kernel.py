"""Compiled dictionary-step pass for the CPU (the CuPy path runs the same loop as device ops).

One pass of block coordinate descent over atoms (Mairal et al. 2009, Algorithm 2), in place.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._threads import run_ranges


@njit(cache=True, nogil=True, error_model="numpy")
def bcd_pass(A, B, W, used, ridge, positive, constrained):  # pragma: no cover - compiled
    """Update every atom of W (k, p) once from A (k, k), B (k, p); returns ‖ΔW‖_F.

    Atom j becomes the projection of W_j + (B_j − A_j W − λ W_j) / (A_jj + λ) on the feasible
    set: the non-negative orthant when `positive`, then the unit ball when `constrained`.
    Atoms with used[j] False are left as they are.
    """
    k, p = W.shape
    atom = np.empty(p, dtype=W.dtype)
    change = 0.0
    for j in range(k):
        if not used[j]:
            continue
        denominator = A[j, j] + ridge
        for f in range(p):
            atom[f] = B[j, f] - ridge * W[j, f]
        for i in range(k):
            a = A[j, i]
            if a != 0.0:
                for f in range(p):
                    atom[f] -= a * W[i, f]
        norm_sq = 0.0
        for f in range(p):
            value = W[j, f] + atom[f] / denominator
            if positive and value < 0.0:
                value = 0.0
            atom[f] = value
            norm_sq += value * value
        scale = 1.0
        if constrained and norm_sq > 1.0:
            scale = 1.0 / np.sqrt(norm_sq)
        for f in range(p):
            value = atom[f] * scale
            change += (value - W[j, f]) ** 2
            W[j, f] = value
    return np.sqrt(change)


# Rows per chunk of the parallel statistics kernel, and at most this many chunk-local sums
# (contiguous runs of chunks): fixed, so that the order of the sums (and the result to the last
# bit) depends neither on the number of threads nor, for the memory, on the number of rows.
_STAT_CHUNK = 256
_STAT_SLOTS = 16


@njit(cache=True, nogil=True, error_model="numpy")
def _add_rows(A, B, H, X, sign, first, stop, support):  # pragma: no cover - compiled
    """A += sign·H[r]ᵀH[r], B += sign·H[r]ᵀX[r] for rows r in first..stop-1, over non-zeros."""
    k = H.shape[1]
    p = X.shape[1]
    for i in range(first, stop):
        n_support = 0
        for j in range(k):
            if H[i, j] != 0.0:
                support[n_support] = j
                n_support += 1
        for a in range(n_support):
            ja = support[a]
            value = sign * np.float64(H[i, ja])
            for b in range(n_support):
                A[ja, support[b]] += value * np.float64(H[i, support[b]])
            for f in range(p):
                B[ja, f] += value * np.float64(X[i, f])


@njit(cache=True, nogil=True, error_model="numpy")
def _add_run(A, B, H, X, sign, H_old, sign_old, first, stop):  # pragma: no cover - compiled
    """Rows first..stop-1 of `accumulate_statistics`, into A (k, k) and B (k, p)."""
    support = np.empty(H.shape[1], dtype=np.int64)
    _add_rows(A, B, H, X, sign, first, stop, support)
    if H_old.shape[0] == H.shape[0]:
        _add_rows(A, B, H_old, X, sign_old, first, stop, support)


def accumulate_statistics(A, B, H, X, sign, H_old, sign_old):
    """A += sign·HᵀH + sign_old·H_oldᵀH_old and B += sign·HᵀX + sign_old·H_oldᵀX, touching
    only the non-zeros of each row (H_old may have 0 rows: no second term).

    A (k, k) and B (k, p) float64, H and H_old (m, k), X (m, p). Codes are sparse (a handful
    of non-zeros out of k), so this costs O(m·(nnz² + nnz·p)) instead of the dense
    O(m·k·(k + p)). Runs of rows go to the threads (`_threads.run_ranges`) into at most
    _STAT_SLOTS local sums, added in order.
    """
    m, k = H.shape
    p = X.shape[1]
    n_chunks = (m + _STAT_CHUNK - 1) // _STAT_CHUNK
    n_slots = min(n_chunks, _STAT_SLOTS)
    rows_per_slot = ((n_chunks + n_slots - 1) // max(n_slots, 1)) * _STAT_CHUNK
    local_A = np.zeros((n_slots, k, k))
    local_B = np.zeros((n_slots, k, p))

    def add(first: int, stop: int) -> None:
        slot = first // rows_per_slot
        _add_run(local_A[slot], local_B[slot], H, X, sign, H_old, sign_old, first, stop)

    run_ranges(add, m, rows_per_slot)
    for slot in range(n_slots):
        A += local_A[slot]
        B += local_B[slot]
