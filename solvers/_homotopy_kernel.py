"""Compiled lasso homotopy (LARS-lasso) for the cold start of one row of the code step (CPU).

From h = 0 the homotopy follows the solution path of min_h ½‖x − hW‖² + λ‖h‖₁ as λ falls from
‖c‖∞ to α (Efron et al. 2004; Osborne et al. 2000): along each segment the active atoms A keep
|q_A| = λ with their signs s_A, h_A moves along u = G_AA⁻¹ s_A and q = c − G h along
a = G[:, A] u, and a segment ends when an inactive atom's |q_j| reaches the falling λ (it
enters) or an active coefficient reaches zero (it leaves). The path's end is the exact
solution, so a row with a small support is solved in as many steps as it has atoms, where
coordinate descent over correlated atoms needs several passes and Newton steps.

The Cholesky factor L of G_AA grows by one row per entering atom, and w = L⁻¹ s_A with it; an
atom leaving (rare) rebuilds both. The path stops early, a valid point and an exact solution
for a larger λ, when its support outgrows `max_active` (the cost of a step grows with it, and
coordinate descent from there is cheap), after `max_steps` segments, or when an entering atom
is (nearly) a combination of the active ones; the caller's coordinate descent takes over.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# An entering atom whose Cholesky pivot is under this fraction of its diagonal entry is (nearly)
# a combination of the active atoms: the path stops there.
_PIVOT_FLOOR = 1e-10


# reassoc: the dot products of the forward substitution vectorise (their rounding changes,
# not the result's certificate); 2 to 3 % of a P1 encode with the entry steps' one division.
@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "reassoc"})
def _append(L, w, G, active, m, j, s_j):  # pragma: no cover - compiled
    """Row m of L for atom j (active[:m] already in L) and w_m of w = L⁻¹ s_A; False when
    the pivot is too small."""
    squares = 0.0
    for a in range(m):
        total = G[active[a], j]
        for t in range(a):
            total -= L[a, t] * L[m, t]
        value = total / L[a, a]
        L[m, a] = value
        squares += value * value
    pivot = G[j, j] - squares
    if pivot <= _PIVOT_FLOOR * G[j, j]:
        return False
    d = np.sqrt(pivot)
    L[m, m] = d
    total = s_j
    for t in range(m):
        total -= L[m, t] * w[t]
    w[m] = total / d
    return True


@njit(cache=True, nogil=True, error_model="numpy")
def _direction(L, w, m, u):  # pragma: no cover - compiled
    """u = L⁻ᵀ w = G_AA⁻¹ s_A, by columns: each inner loop runs along a contiguous row of L."""
    for t in range(m):
        u[t] = w[t]
    for t in range(m - 1, -1, -1):
        value = u[t] / L[t, t]
        u[t] = value
        for r in range(t):
            u[r] -= L[t, r] * value


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _correlation_direction(G, active, u, m, a_dir):  # pragma: no cover - compiled
    """a = G[:, A] u (k,), four rows of G per sweep over a (each sweep loads and stores a)."""
    k = a_dir.shape[0]
    for j in range(k):
        a_dir[j] = 0.0
    t = 0
    while t + 3 < m:
        u0, u1, u2, u3 = u[t], u[t + 1], u[t + 2], u[t + 3]
        g0, g1, g2, g3 = G[active[t]], G[active[t + 1]], G[active[t + 2]], G[active[t + 3]]
        for j in range(k):
            a_dir[j] += (u0 * g0[j] + u1 * g1[j]) + (u2 * g2[j] + u3 * g3[j])
        t += 4
    while t < m:
        u0, g0 = u[t], G[active[t]]
        for j in range(k):
            a_dir[j] += u0 * g0[j]
        t += 1


@njit(cache=True, nogil=True, error_model="numpy")
def _entry_steps(q, a_dir, sign, lam, positive, steps):  # pragma: no cover - compiled
    """steps[j]: how far along the segment inactive atom j's |q_j − γ a_j| reaches λ − γ
    (∞ when it does not, and for active atoms). Branch-free, so that it vectorises."""
    for j in range(q.shape[0]):
        qj = q[j]
        aj = a_dir[j]
        # Of (λ − q)/(1 − a) (q rising to λ) and (λ + q)/(1 + a) (falling to −λ), the smaller
        # positive one, with one division: when both denominators are positive the first is
        # the smaller exactly when λa < q (cross-multiplied); a ≥ 1 leaves only the second,
        # a ≤ −1 only the first.
        use_up = positive or (aj <= -1.0) or (aj < 1.0 and lam * aj < qj)
        num = lam - qj if use_up else lam + qj
        den = 1.0 - aj if use_up else 1.0 + aj
        step = num / den
        steps[j] = step if (step > 0.0 and sign[j] == 0.0) else np.inf


@njit(cache=True, nogil=True, error_model="numpy")
def _first_smallest(steps):  # pragma: no cover - compiled
    """argmin of steps (k,), whose entries are > 0 or +∞: compared as their int64 bit patterns,
    which order positive floats as the floats, the minimum is found by a vectorised integer
    reduction (a float one does not vectorise here) and its index by a search."""
    bits = steps.view(np.int64)
    smallest = bits[0]
    for j in range(1, bits.shape[0]):
        value = bits[j]
        smallest = value if value < smallest else smallest
    for j in range(bits.shape[0]):
        if bits[j] == smallest:
            return j
    return 0


@njit(cache=True, nogil=True, error_model="numpy")
def homotopy(h, q, G, alpha, positive, max_active, max_steps, L, work, active):  # pragma: no cover
    """Follow the path from h = 0 (q = c on entry) towards λ = α; h and q are updated in place.

    Buffers: L (k, k) and work (5, k) float64, active (k,) int64. Returns (reached, segments):
    reached is True when the path got to α (h is then the solution up to rounding), False when
    it stopped early; segments, how many it followed (at most max_steps).
    """
    k = h.shape[0]
    w, u, a_dir, steps, sign = work[0], work[1], work[2], work[3], work[4]
    lam = 0.0
    first = -1
    for j in range(k):
        sign[j] = 0.0
        value = q[j] if positive else abs(q[j])
        if value > lam:
            lam, first = value, j
    if lam <= alpha:
        return True, 0  # h = 0 is the solution
    sign[first] = 1.0 if q[first] > 0.0 else -1.0
    active[0] = first
    if not _append(L, w, G, active, 0, first, sign[first]):
        return False, 0
    m = 1
    left = -1  # the atom that just left may not re-enter at once (γ = 0 by rounding)
    for segment in range(1, max_steps + 1):
        _direction(L, w, m, u)
        _correlation_direction(G, active, u, m, a_dir)
        gamma = lam - alpha
        event = -1
        leaves = False
        for t in range(m):
            jt = active[t]
            if h[jt] * u[t] < 0.0 and -h[jt] / u[t] < gamma:
                gamma, event, leaves = -h[jt] / u[t], t, True
        _entry_steps(q, a_dir, sign, lam, positive, steps)
        if left >= 0:
            steps[left] = np.inf
        nearest = _first_smallest(steps)
        if steps[nearest] < gamma:
            gamma, event, leaves = steps[nearest], nearest, False
        for t in range(m):
            h[active[t]] += gamma * u[t]
        for j in range(k):
            q[j] -= gamma * a_dir[j]
        lam -= gamma
        left = -1
        if event < 0:
            return True, segment
        if leaves:
            gone = active[event]
            h[gone] = 0.0
            sign[gone] = 0.0
            for t in range(event, m - 1):
                active[t] = active[t + 1]
            m -= 1
            left = gone
            for t in range(m):  # L and w afresh: rare, and exact
                if not _append(L, w, G, active, t, active[t], sign[active[t]]):
                    return False, segment
            if m == 0:
                return False, segment
            continue
        if m >= max_active:
            return False, segment
        sign[event] = 1.0 if q[event] > 0.0 else -1.0
        active[m] = event
        if not _append(L, w, G, active, m, event, sign[event]):
            sign[event] = 0.0
            return False, segment
        m += 1
    return False, max_steps
