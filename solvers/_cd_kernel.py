"""Compiled Gram-based coordinate descent for the lasso code step (CPU).

One row of H is one independent lasso sharing G = W Wᵀ; rows run in parallel threads with the
GIL released. Per row the kernel keeps q = c − G h (the correlation of the residual with every
atom, W r), so a coordinate update costs O(1) when it leaves h_j unchanged and O(k) when it
moves it. Sweeps alternate one full pass with passes over the non-zero coordinates only, and the
row stops as soon as its duality gap, computed in float64 from q in O(k), is under tol·‖x‖².
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Active-set passes between two full passes over all coordinates.
_ACTIVE_PASSES = 8


@njit(cache=True, nogil=True, inline="always")
def _row_gap(h, q, c, x_sq, alpha, positive):  # pragma: no cover - compiled
    """(gap, ‖r‖²) of one row from h, q = c − G h and c, in float64."""
    hc = 0.0
    hq = 0.0
    l1 = 0.0
    dual_norm = 0.0
    for j in range(h.shape[0]):
        hc += h[j] * c[j]
        hq += h[j] * q[j]
        l1 += abs(h[j])
        v = q[j] if positive else abs(q[j])
        if v > dual_norm:
            dual_norm = v
    r_sq = max(x_sq - hc - hq, 0.0)
    scale = alpha / dual_norm if dual_norm > alpha else 1.0
    primal = 0.5 * r_sq + alpha * l1
    dual = scale * (x_sq - hc) - 0.5 * scale * scale * r_sq
    return max(primal - dual, 0.0), r_sq


@njit(cache=True, nogil=True, inline="always")
def _update(j, h, q, G, alpha, positive):  # pragma: no cover - compiled
    """Exact minimisation over h_j; returns |Δh_j|."""
    g_jj = G[j, j]
    if g_jj <= 0.0:
        return 0.0
    old = h[j]
    z = old + q[j] / g_jj
    threshold = alpha / g_jj
    if positive:
        new = z - threshold if z > threshold else 0.0
    elif z > threshold:
        new = z - threshold
    elif z < -threshold:
        new = z + threshold
    else:
        new = 0.0
    delta = new - old
    if delta != 0.0:
        h[j] = new
        for m in range(h.shape[0]):
            q[m] -= delta * G[j, m]
    return abs(delta)


@njit(parallel=True, cache=True, nogil=True)
def cd_rows(
    G, C, x_sq, H, alpha, tol, max_sweeps, positive, gaps, residual_sq, sweeps
):  # pragma: no cover
    """Solve every row of H in place.

    G (k, k) float64, C (n, k) float64, x_sq (n,) float64, H (n, k) any float dtype (warm start,
    overwritten). Outputs: gaps (n,) relative gaps gap/‖x‖², residual_sq (n,) ‖x − hW‖²,
    sweeps (n,) passes used. A row whose ‖x‖² is 0 gets h = 0.
    """
    n, k = C.shape
    for i in prange(n):
        h = np.empty(k)
        q = np.empty(k)
        c = np.empty(k)
        for j in range(k):
            h[j] = H[i, j]
            c[j] = C[i, j]
            q[j] = c[j]
        for j in range(k):
            if h[j] != 0.0:
                for m in range(k):
                    q[m] -= h[j] * G[j, m]
        active = np.empty(k, dtype=np.int64)
        target = tol * x_sq[i]
        gap, r_sq = _row_gap(h, q, c, x_sq[i], alpha, positive)
        used = 0
        while gap > target and used < max_sweeps:
            for j in range(k):
                _update(j, h, q, G, alpha, positive)
            used += 1
            gap, r_sq = _row_gap(h, q, c, x_sq[i], alpha, positive)
            n_active = 0
            for j in range(k):
                if h[j] != 0.0:
                    active[n_active] = j
                    n_active += 1
            for _ in range(_ACTIVE_PASSES):
                if gap <= target or used >= max_sweeps or n_active == 0:
                    break
                moved = 0.0
                for a in range(n_active):
                    moved = max(moved, _update(active[a], h, q, G, alpha, positive))
                used += 1
                gap, r_sq = _row_gap(h, q, c, x_sq[i], alpha, positive)
                if moved == 0.0:
                    break
        if x_sq[i] <= 0.0:
            for j in range(k):
                h[j] = 0.0
            gap = 0.0
            r_sq = 0.0
        for j in range(k):
            H[i, j] = h[j]
        gaps[i] = gap / x_sq[i] if x_sq[i] > 0.0 else 0.0
        residual_sq[i] = r_sq
        sweeps[i] = used
