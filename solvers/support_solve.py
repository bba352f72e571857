"""FISTA's finishing step: rows whose support has settled are solved exactly on it, batched.

FISTA finds a row's support (its nonzero coordinates and their signs) long before its iterates
converge on it: on P2-shaped patches with a learned dictionary, 95 % of the rows have the right
support and signs after 90 iterations while only 46 % are certified at 1e-6. On the right support
the lasso is a linear system, h_A = G_AA⁻¹ (c_A − α s_A) (as in LARS, homotopy methods and the
CPU kernel's Newton steps), so at every check each unfinished row with a small support is solved
on its current support, in float64, all such rows at once as a batch of small dense systems
(padded with the identity to the largest support of the batch); a row takes the solution when it
keeps the signs and its duality gap certifies it. The gap decides, so a wrong support costs only
the solve (a² for the gather, a³/3 for the factorisation, against 2k² per FISTA iteration).
Generic over the backend's array namespace: NumPy on the CPU, CuPy on a GPU.
"""

from __future__ import annotations

from typing import Any

from .backends import Backend
from .certificates import lasso_gaps

# Rows with more nonzero coordinates than this stay with FISTA: their systems would cost more
# than they save, and the batch's memory grows with the square of the largest support.
MAX_SUPPORT = 64
# Bytes of (rows, a, a) float64 systems one batch may hold.
BATCH_BYTES = 64 * 2**20
# Rows per batch when that many systems fit in BATCH_BYTES (sorted by size, a batch's largest
# support sets its padding).
_BATCH_ROWS = 4096
# Relative ridge on G_AA: a (nearly) dependent support gives a huge solution, which its gap then
# refuses, instead of a failed factorisation.
_RIDGE = 1e-12


def finish_on_support(
    backend: Backend,
    H: Any,
    G64: Any,
    C64: Any,
    x_sq: Any,
    alpha: float,
    positive: bool,
    tol: float,
    settled: Any,
) -> tuple[Any, Any, Any, Any]:
    """Try the exact solution on each row's current support.

    H (m, k) FISTA's iterates; G64 (k, k), C64 (m, k), x_sq (m,) float64. Returns (taken (m,)
    bool, codes (m, k) in H's dtype, their relative gaps (m,) and ‖r‖² (m,)); the gaps are
    those of the codes as returned (rounded to H's dtype), +inf for rows not taken.
    """
    xp = backend.xp
    m, k = H.shape
    nonzero = H != 0
    sizes = nonzero.sum(axis=1)
    taken = xp.zeros(m, dtype=bool)
    codes = xp.zeros((m, k), dtype=H.dtype)
    gaps = xp.full(m, xp.inf)
    residual_sq = xp.zeros(m, dtype=xp.float64)
    candidates = xp.nonzero(settled & (sizes > 0) & (sizes <= MAX_SUPPORT))[0]
    if candidates.shape[0] == 0:
        return taken, codes, gaps, residual_sq
    candidates = candidates[xp.argsort(sizes[candidates])]
    ordered = backend.to_numpy(sizes[candidates])  # one host synchronisation per check
    first = 0
    while first < ordered.shape[0]:
        # a batch: as many rows as BATCH_BYTES of systems of the largest size among them hold
        a = int(ordered[min(ordered.shape[0], first + _BATCH_ROWS) - 1])
        stop = min(ordered.shape[0], first + max(1, BATCH_BYTES // (8 * a * a)))
        a = int(ordered[stop - 1])
        rows = candidates[first:stop]
        first = stop
        solved, kept = _solve_on_support(xp, H[rows], nonzero[rows], sizes[rows], a, G64,
                                       C64[rows], alpha)  # fmt: skip
        # only solutions that kept their signs can be the lasso's: the others skip the gap
        rows, solved = rows[kept], solved[kept].astype(H.dtype)
        if rows.shape[0] == 0:
            continue
        row_gaps, row_rsq = lasso_gaps(G64, C64[rows], x_sq[rows], solved, alpha, positive)
        relative = row_gaps / xp.maximum(x_sq[rows], 1e-300)
        good = relative <= tol
        taken[rows] = good
        codes[rows] = solved
        gaps[rows] = xp.where(good, relative, xp.inf)
        residual_sq[rows] = row_rsq
    return taken, codes, gaps, residual_sq


def _solve_on_support(
    xp: Any, H: Any, nonzero: Any, sizes: Any, a: int, G64: Any, C64: Any, alpha: float
) -> tuple[Any, Any]:
    """(r, k) solutions on the rows' supports, and (r,) whether each kept its signs."""
    r, k = H.shape
    # the nonzero columns first (False sorts before True), padded up to a
    columns = xp.argsort(~nonzero, axis=1)[:, :a]
    valid = xp.arange(a)[None, :] < sizes[:, None]
    pair = valid[:, :, None] & valid[:, None, :]
    eye = xp.eye(a, dtype=xp.float64)
    systems = xp.where(pair, G64[columns[:, :, None], columns[:, None, :]], eye)
    diagonal = xp.arange(a)
    systems[:, diagonal, diagonal] *= 1.0 + _RIDGE
    lines = xp.arange(r)[:, None]
    signs = xp.sign(H[lines, columns]).astype(xp.float64)
    rhs = xp.where(valid, C64[lines, columns] - alpha * signs, 0.0)
    h_support = xp.linalg.solve(systems, rhs[:, :, None])[:, :, 0]
    kept = ((xp.sign(h_support) == signs) | ~valid).all(axis=1)
    solved = xp.zeros((r, k), dtype=xp.float64)
    solved[lines, columns] = xp.where(valid, h_support, 0.0)
    return solved, kept
