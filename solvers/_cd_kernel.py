"""Compiled Gram-based coordinate descent for the lasso code step (CPU).

One row of H is one independent lasso sharing G = W Wᵀ; chunks of rows run in parallel threads
with the GIL released (`_threads`). Per row the kernel keeps q = c − G h (the correlation of
the residual with every atom, W r), so a coordinate update costs O(1) when it leaves h_j
unchanged and O(k) when it moves it. The row stops as soon as its duality gap, computed in
float64 from q in O(k), is under tol·‖x‖².

Coordinate descent alone crawls when atoms are correlated (natural-image dictionaries are), so
a full pass that leaves the support and signs unchanged is followed by a Newton step on them:
h_A = G_AA⁻¹ (c_A − α s_A), the exact lasso solution if the support and signs are right (as in
LARS and homotopy methods). If some sign would flip, the step stops at the first coordinate that
reaches zero; along that segment the objective only decreases, so every round is a descent.

From a cold start, cyclic passes over correlated atoms let half of them into the support (on P1,
64 of 128 in the first pass for a final 30) and then spend many passes removing them again. So a
row that starts from h = 0 follows the lasso homotopy first (`_homotopy_kernel`): one segment
per atom entering or leaving, ending at the exact solution when the support is small, at the
exact solution for a larger α (a warm start for the passes) when it outgrows a quarter of the
atoms. A warm-started row goes straight to the passes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._homotopy_kernel import homotopy
from ._threads import run_ranges

# Newton steps follow a pass that moved at most this many coordinates in or out of the support
# (on a support still in motion they mostly factorise matrices the next pass makes obsolete).
_NEWTON_MAX_CHANGES = 0
_NEWTON_EVERY = 8
# `cd_rows` hands out ranges of this many rows, each with its own C = X Wᵀ product: large
# enough for an efficient product (P1 encode: 88 ms with 256 rows, 89 with 512 to 2048), small
# enough to share out a mini-batch among the threads; fixed, so that the ranges (and the
# rounding of each row's products) do not depend on the number of threads.
_PRODUCT_ROWS = 256
# A Cholesky pivot under this fraction of its diagonal entry means the active atoms are
# (nearly) linearly dependent: the Newton step is skipped and coordinate descent goes on.
_PIVOT_FLOOR = 1e-10
# A cold row's homotopy hands over to the passes once its support outgrows this fraction of
# the atoms (a step costs O(k · support), as a pass does, but moves one atom in or out), and
# after this many segments per atom; each segment counts as a sweep against `max_sweeps`.
_HOMOTOPY_MAX_ACTIVE = 0.25
_HOMOTOPY_STEPS_PER_ATOM = 2
# Numba-level inlining (inline="always") is kept for the one-line helpers of the inner
# coordinate loop; those called once per pass or per row are left to LLVM. Inlining them too
# cost a cold compile 1.1 s (float64) and 1.2 s (float32) more for no measurable speed-up (P1
# encode, median of 9: 0.100–0.111 s inlined, 0.103–0.108 s not).


@njit(cache=True, nogil=True, error_model="numpy")
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


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _minimiser(old, q_j, g_jj, alpha, positive):  # pragma: no cover - compiled
    """argmin over h_j alone of the row's objective, from h_j = old, q_j and G_jj > 0: the
    soft-thresholded coordinate step (clipped at 0 when positive)."""
    z = old + q_j / g_jj
    threshold = alpha / g_jj
    if z > threshold:
        return z - threshold
    if z < -threshold and not positive:
        return z + threshold
    return 0.0


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def _update(j, h, q, G, alpha, positive):  # pragma: no cover - compiled
    """Exact minimisation over h_j; returns |Δh_j|.

    The caller decides the common case before calling: a zero coordinate with |q_j| ≤ α stays
    zero (z = q_j / G_jj crosses the threshold α / G_jj exactly when q_j crosses α).
    """
    g_jj = G[j, j]
    if g_jj <= 0.0:
        return 0.0
    new = _minimiser(h[j], q[j], g_jj, alpha, positive)
    delta = new - h[j]
    if delta != 0.0:
        h[j] = new
        for m in range(h.shape[0]):
            q[m] -= delta * G[j, m]
    return abs(delta)


@njit(cache=True, nogil=True, error_model="numpy")
def _refresh(h, q, c, G):  # pragma: no cover - compiled
    """q = c − G h, from scratch, in O(k · nnz(h))."""
    k = h.shape[0]
    for m in range(k):
        q[m] = c[m]
    for j in range(k):
        if h[j] != 0.0:
            for m in range(k):
                q[m] -= h[j] * G[j, m]


@njit(cache=True, nogil=True, error_model="numpy")
def _newton_step(h, c, G, alpha, active, n_active, L, rhs):  # pragma: no cover - compiled
    """Move h towards the solution of the lasso restricted to the support `active` with its signs.

    L (k, k) and rhs (k,) are work buffers. Returns False when G_AA is numerically singular.
    """
    m = n_active
    # Cholesky of G_AA into L's lower triangle.
    for a in range(m):
        ja = active[a]
        for b in range(a + 1):
            jb = active[b]
            total = G[ja, jb]
            for t in range(b):
                total -= L[a, t] * L[b, t]
            if a == b:
                if total <= _PIVOT_FLOOR * G[ja, ja]:
                    return False
                L[a, a] = np.sqrt(total)
            else:
                L[a, b] = total / L[b, b]
    # rhs = c_A − α sign(h_A), then the two triangular solves.
    for a in range(m):
        j = active[a]
        rhs[a] = c[j] - (alpha if h[j] > 0.0 else -alpha)
    for a in range(m):
        total = rhs[a]
        for t in range(a):
            total -= L[a, t] * rhs[t]
        rhs[a] = total / L[a, a]
    for a in range(m - 1, -1, -1):
        total = rhs[a]
        for t in range(a + 1, m):
            total -= L[t, a] * rhs[t]
        rhs[a] = total / L[a, a]
    # Longest step in [0, 1] that keeps every sign: h + t (h_N − h).
    step = 1.0
    for a in range(m):
        j = active[a]
        if (h[j] > 0.0 and rhs[a] <= 0.0) or (h[j] < 0.0 and rhs[a] >= 0.0):
            step = min(step, h[j] / (h[j] - rhs[a]))
    for a in range(m):
        j = active[a]
        moved = h[j] + step * (rhs[a] - h[j])
        # The coordinates that reach zero at the step's end leave the support exactly.
        if (
            (h[j] > 0.0 and moved <= 0.0)
            or (h[j] < 0.0 and moved >= 0.0)
            or (step < 1.0 and abs(moved) <= 1e-15 * abs(h[j]))
        ):
            moved = 0.0
        h[j] = moved
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def _support(h, active):  # pragma: no cover - compiled
    """Write the indices of h's nonzero coordinates into `active`; returns how many."""
    n_active = 0
    for j in range(h.shape[0]):
        if h[j] != 0.0:
            active[n_active] = j
            n_active += 1
    return n_active


@njit(cache=True, nogil=True, error_model="numpy")
def _solve_rows(
    G, C, x_sq, H, cold, alpha, tol, max_sweeps, positive, gaps, residual_sq, sweeps
):  # pragma: no cover - compiled
    """The rows of C, one after the other, with one set of work buffers (`cd_rows`); `cold`:
    every row starts from h = 0, whatever H holds."""
    k = C.shape[1]
    h = np.empty(k)
    q = np.empty(k)
    c = np.empty(k)
    active = np.empty(k, dtype=np.int64)
    L = np.empty((k, k))
    rhs = np.empty(k)
    work = np.empty((5, k))
    max_active = max(8, int(_HOMOTOPY_MAX_ACTIVE * k))
    max_steps = min(_HOMOTOPY_STEPS_PER_ATOM * k, max_sweeps)
    for i in range(C.shape[0]):
        if x_sq[i] <= 0.0:  # x = 0: h = 0 is the solution, whatever the warm start says
            for j in range(k):
                H[i, j] = 0.0
            gaps[i] = 0.0
            residual_sq[i] = 0.0
            sweeps[i] = 0
            continue
        target = tol * x_sq[i]
        used = 0
        newton = True
        if cold:
            # The path from h = 0 (q = c). Each segment costs about a pass, and counts as one
            # against max_sweeps. A row with ‖c‖∞ ≤ α (h = 0 is its solution: no segment) has
            # gap 0 and ‖r‖² = ‖x‖² exactly, so nothing more is computed for it.
            for j in range(k):
                h[j] = 0.0
                c[j] = C[i, j]
                q[j] = c[j]
            _, used = homotopy(h, q, G, alpha, positive, max_active, max_steps, L, work, active)
            if used == 0 and _support(h, active) == 0:
                gap, r_sq = 0.0, x_sq[i]
            else:
                _refresh(h, q, c, G)
                gap, r_sq = _row_gap(h, q, c, x_sq[i], alpha, positive)
        else:
            for j in range(k):
                h[j] = H[i, j]
                c[j] = C[i, j]
            _refresh(h, q, c, G)
            gap, r_sq = _row_gap(h, q, c, x_sq[i], alpha, positive)
            if gap > target and _support(h, active) == 0:
                # a warm start of zeros: the path, as for a cold row
                _, used = homotopy(h, q, G, alpha, positive, max_active, max_steps, L, work, active)
                _refresh(h, q, c, G)
                gap, r_sq = _row_gap(h, q, c, x_sq[i], alpha, positive)
        while gap > target and used < max_sweeps:
            # One full pass; `changed` counts the coordinates that entered or left the support.
            changed = 0
            for j in range(k):
                # Zero coordinates that stay zero are decided here: a call per coordinate
                # would cost more than the test itself.
                if h[j] == 0.0 and (q[j] if positive else abs(q[j])) <= alpha:
                    continue
                was_zero = h[j] == 0.0
                _update(j, h, q, G, alpha, positive)
                if was_zero != (h[j] == 0.0):
                    changed += 1
            used += 1
            # Newton once the support has settled: on a support still in motion it would
            # mostly factorise matrices that the next pass makes obsolete. A pass that settled
            # it rarely reaches the gap alone, so its gap is not computed before the step. On
            # a support that never settles (a coordinate that keeps crossing zero, near-
            # dependent atoms), every _NEWTON_EVERY passes all the same: the step only descends.
            # A singular support (more atoms than the data's rank, duplicates) stops the steps
            # until the same period has passed: the support may have shrunk since.
            periodic = used % _NEWTON_EVERY == 0
            newton = newton or periodic
            if not (changed <= _NEWTON_MAX_CHANGES or periodic) or not newton:
                gap, r_sq = _row_gap(h, q, c, x_sq[i], alpha, positive)
                continue
            n_active = _support(h, active)
            if n_active == 0:
                gap, r_sq = _row_gap(h, q, c, x_sq[i], alpha, positive)
                continue
            newton = _newton_step(h, c, G, alpha, active, n_active, L, rhs)
            _refresh(h, q, c, G)
            gap, r_sq = _row_gap(h, q, c, x_sq[i], alpha, positive)
        for j in range(k):
            H[i, j] = h[j]
        gaps[i] = gap / x_sq[i]
        residual_sq[i] = r_sq
        sweeps[i] = used


def cd_rows(X, W, G, x_sq, H, alpha, tol, max_sweeps, positive, gaps, residual_sq, sweeps, cold):
    """Solve every row of H in place.

    X (n, p) any real dtype, W (k, p) and G = W Wᵀ (k, k) float64, x_sq (n,) float64 or None
    (then computed here), H (n, k) float32 or float64: the warm start, overwritten; with
    `cold` every row starts from 0 and H's contents are not read (it may come from np.empty).
    Outputs: gaps (n,) relative gaps gap/‖x‖², residual_sq (n,) ‖x − hW‖², sweeps (n,) full
    passes used. A row whose ‖x‖² is 0 gets h = 0.

    Ranges of rows go to the threads of `_threads.run_ranges` (the calling thread among them);
    each computes the rows of C = X Wᵀ (and of x_sq) of its range itself, just before coding
    them: the products run on every core with BLAS single-threaded, and their rows are still in
    cache when the kernel reads them. Each row's computation is the same whichever thread runs
    it.
    """
    n = X.shape[0]
    W_t = np.ascontiguousarray(W.T)

    def solve(first: int, stop: int) -> None:
        part = np.asarray(X[first:stop], dtype=np.float64)
        part_sq = np.einsum("ij,ij->i", part, part) if x_sq is None else x_sq[first:stop]
        # The kernel reads and writes float64 codes only: one specialisation to compile, not
        # one per dtype of H (each costs seconds on a fresh install); float32 codes go through
        # a float64 copy of the range.
        codes = H[first:stop]
        if codes.dtype != np.float64:
            codes = np.empty(codes.shape) if cold else codes.astype(np.float64)
        _solve_rows(
            G,
            part @ W_t,
            part_sq,
            codes,
            cold,
            alpha,
            tol,
            max_sweeps,
            positive,
            gaps[first:stop],
            residual_sq[first:stop],
            sweeps[first:stop],
        )
        if codes.dtype != H.dtype:
            H[first:stop] = codes

    run_ranges(solve, n, _PRODUCT_ROWS)
