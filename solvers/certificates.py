"""The objective and the optimality certificates that tests and stopping rules rely on.

Notation: X (n, p) data, H (n, k) codes, W (k, p) dictionary, G = W Wᵀ (k, k), C = X Wᵀ (n, k).
All certificates are computed in float64, also for float32 data: the gaps they certify are far
below float32's resolution of the objective.
"""

from __future__ import annotations

from typing import Any

from .backends import backend_of, to_host

# Rows of X handled at once by `objective`: X may be a memory map larger than memory.
OBJECTIVE_CHUNK = 65536


def objective(
    X: Any, codes: Any, dictionary: Any, alpha: float, dictionary_penalty: float | None = None
) -> float:
    """J(H, W) / n_samples, with J = ½‖X − HW‖²_F + α‖H‖₁ (+ ½·λ_W‖W‖²_F when given).

    Shapes: X (n, p), codes (n, k), dictionary (k, p); on one backend, or else all brought to
    the host. Returns a float, computed in float64, OBJECTIVE_CHUNK rows at a time.
    """
    if len({backend_of(a).name for a in (X, codes, dictionary)}) > 1:
        X, codes, dictionary = (to_host(a) for a in (X, codes, dictionary))
    xp = backend_of(X).xp
    W64 = xp.asarray(dictionary, dtype=xp.float64)
    value = penalty_term(W64, dictionary_penalty)
    for start in range(0, X.shape[0], OBJECTIVE_CHUNK):
        rows = slice(start, start + OBJECTIVE_CHUNK)
        value += objective_sum(X[rows], codes[rows], W64, alpha)
    return value / X.shape[0]


def penalty_term(dictionary: Any, dictionary_penalty: float | None) -> float:
    """½·λ_W‖W‖²_F in float64, or 0 without weight decay."""
    if dictionary_penalty is None:
        return 0.0
    xp = backend_of(dictionary).xp
    W64 = xp.asarray(dictionary, dtype=xp.float64)
    return 0.5 * dictionary_penalty * float(xp.sum(W64 * W64))


def objective_sum(X: Any, codes: Any, dictionary: Any, alpha: float) -> float:
    """½‖X − HW‖²_F + α‖H‖₁ of a block of rows, in float64 (the sum, not the mean)."""
    xp = backend_of(X).xp
    X64 = xp.asarray(X, dtype=xp.float64)
    H64 = xp.asarray(codes, dtype=xp.float64)
    residual = X64 - H64 @ xp.asarray(dictionary, dtype=xp.float64)
    return float(0.5 * xp.sum(residual * residual) + alpha * xp.sum(xp.abs(H64)))


def objective_from_statistics(
    x_sq_sum: float,
    A: Any,
    B: Any,
    W: Any,
    l1_sum: float,
    alpha: float,
    n_samples: int,
    dictionary_penalty: float | None = None,
) -> float:
    """J / n_samples from sufficient statistics, without touching X again.

    ‖X − HW‖² = ‖X‖² − 2⟨B, W⟩ + ⟨A, W Wᵀ⟩ with A = HᵀH (k, k), B = HᵀX (k, p). In float64.
    """
    xp = backend_of(W).xp
    A64 = xp.asarray(A, dtype=xp.float64)
    B64 = xp.asarray(B, dtype=xp.float64)
    W64 = xp.asarray(W, dtype=xp.float64)
    fit = x_sq_sum - 2.0 * xp.sum(B64 * W64) + xp.sum(A64 * (W64 @ W64.T))
    value = 0.5 * max(float(fit), 0.0) + alpha * l1_sum + penalty_term(W64, dictionary_penalty)
    return value / n_samples


def lasso_gaps(
    G: Any, C: Any, x_sq: Any, H: Any, alpha: float, positive: bool = False
) -> tuple[Any, Any]:
    """Per-row duality gaps of min_h ½‖x − hW‖² + α‖h‖₁ (h ≥ 0 when `positive`).

    G (k, k), C (n, k), x_sq (n,) = ‖x_i‖², H (n, k); float64 throughout. The dual point is the
    residual r scaled into the dual feasible set, θ = s·r with s = min(1, α / ‖W r‖_∞) (for
    non-negative codes the bound is on max(W r) alone). Everything follows from G and C:
    W r = C − H G, ‖r‖² = ‖x‖² − ⟨h, c⟩ − ⟨h, W r⟩, ⟨x, r⟩ = ‖x‖² − ⟨h, c⟩.
    Returns (gaps (n,), squared residual norms (n,)), both ≥ 0.
    """
    xp = backend_of(H).xp
    G64 = xp.asarray(G, dtype=xp.float64)
    C64 = xp.asarray(C, dtype=xp.float64)
    H64 = xp.asarray(H, dtype=xp.float64)
    x_sq = xp.asarray(x_sq, dtype=xp.float64)
    correlation = C64 - H64 @ G64
    h_dot_c = xp.sum(H64 * C64, axis=1)
    residual_sq = xp.maximum(x_sq - h_dot_c - xp.sum(H64 * correlation, axis=1), 0.0)
    x_dot_r = x_sq - h_dot_c
    if positive:
        dual_norm = xp.max(correlation, axis=1)
    else:
        dual_norm = xp.max(xp.abs(correlation), axis=1)
    scale = xp.where(dual_norm > alpha, alpha / xp.maximum(dual_norm, 1e-300), 1.0)
    primal = 0.5 * residual_sq + alpha * xp.sum(xp.abs(H64), axis=1)
    dual = scale * x_dot_r - 0.5 * scale * scale * residual_sq
    return xp.maximum(primal - dual, 0.0), residual_sq


def relative_gaps(G: Any, C: Any, x_sq: Any, H: Any, alpha: float, positive: bool = False) -> Any:
    """Per-row gaps divided by ‖x_i‖² (rows of zero norm count as converged)."""
    xp = backend_of(H).xp
    gaps, _ = lasso_gaps(G, C, x_sq, H, alpha, positive)
    x_sq = xp.asarray(x_sq, dtype=xp.float64)
    return xp.where(x_sq > 0, gaps / xp.maximum(x_sq, 1e-300), 0.0)


def dictionary_residual(
    A: Any, B: Any, W: Any, positive: bool = False, dictionary_penalty: float | None = None
) -> float:
    """Optimality residual of the dictionary step: ‖W − P(W − ∇f(W))‖_F, with ∇f = A W − B.

    P projects each atom on the unit ball (and the non-negative orthant when `positive`); with
    a weight-decay penalty ∇f gains λ_W·W and P is only the orthant (or the identity). Zero
    exactly at a minimiser of f(W) = ½ tr(Wᵀ A W) − tr(Bᵀ W) over the feasible set.
    A (k, k), B (k, p), W (k, p).
    """
    xp = backend_of(W).xp
    A64 = xp.asarray(A, dtype=xp.float64)
    W64 = xp.asarray(W, dtype=xp.float64)
    gradient = A64 @ W64 - xp.asarray(B, dtype=xp.float64)
    if dictionary_penalty is not None:
        gradient = gradient + dictionary_penalty * W64
    step = W64 - gradient
    if positive:
        step = xp.maximum(step, 0.0)
    if dictionary_penalty is None:
        norms = xp.sqrt(xp.sum(step * step, axis=1, keepdims=True))
        step = step / xp.maximum(norms, 1.0)
    return float(xp.sqrt(xp.sum((W64 - step) ** 2)))
