"""The dictionary step: W for fixed codes, from the sufficient statistics A = HᵀH, B = HᵀX.

    min_W ½ tr(Wᵀ A W) − tr(Bᵀ W)   s.t. ‖W_j‖₂ ≤ 1 (and W ≥ 0 when positive),
    or, with weight decay λ_W instead of the constraint, + ½ λ_W ‖W‖²_F.

Block coordinate descent over atoms (Mairal et al. 2009, Algorithm 2): the block of atom j has
Hessian A_jj·I, so its exact minimiser is the projection of W_j + (B_j − A_j W)/A_jj on the
feasible set, and each pass never raises the objective. The loop issues device operations only:
on CuPy nothing returns to the host inside it.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

from ._dictionary_kernel import accumulate_statistics, bcd_pass
from .backends import Backend
from .errors import FitWarning

# An atom whose A_jj is under this fraction of the mean diagonal is not used by any sample.
DEAD_ATOM_RATIO = 1e-10


def update_dictionary(
    backend: Backend,
    A: Any,
    B: Any,
    W: Any,
    *,
    positive: bool = False,
    dictionary_penalty: float | None = None,
    n_passes: int = 1,
    tol: float = 0.0,
) -> Any:
    """One to `n_passes` passes of block coordinate descent from W; returns the new W.

    A (k, k), B (k, p), W (k, p) on `backend`; W is not modified. With `tol` > 0 the passes stop
    once a pass changes W by less than tol·‖W‖_F (one host synchronisation per pass, not per
    atom). With a weight-decay penalty and no sign constraint the answer is closed form.
    """
    xp = backend.xp
    dtype = W.dtype
    if dictionary_penalty is not None and not positive:
        k = A.shape[0]
        A64 = A.astype(xp.float64) + dictionary_penalty * xp.eye(k, dtype=xp.float64)
        return xp.linalg.solve(A64, B.astype(xp.float64)).astype(dtype)
    W = W.copy()
    A = A.astype(dtype, copy=False)
    B = B.astype(dtype, copy=False)
    diagonal = xp.diagonal(A).copy()
    ridge = 0.0 if dictionary_penalty is None else dictionary_penalty
    # Unused atoms keep their value here; the caller re-seeds them.
    used = diagonal > DEAD_ATOM_RATIO * xp.maximum(xp.mean(diagonal), 1e-300)
    if not backend.is_gpu:
        return _passes_compiled(
            A, B, W, used, ridge, positive, dictionary_penalty is None, n_passes, tol
        )
    denominator = xp.where(used, diagonal + ridge, 1).astype(dtype)
    constrained = dictionary_penalty is None
    fused = _fused_pass_agrees(backend, np.dtype(dtype).char)
    A, B = xp.ascontiguousarray(A), xp.ascontiguousarray(B)
    for _ in range(n_passes):
        previous = W.copy() if tol > 0 else None
        if fused:
            backend.dictionary_pass(A, B, W, used, denominator, ridge, positive, constrained)
        else:
            _pass_by_atoms(xp, A, B, W, used, denominator, ridge, positive, constrained)
        if previous is not None:
            change = xp.sqrt(xp.sum((W - previous) ** 2))
            if float(change) <= tol * float(xp.sqrt(xp.sum(W * W))):
                break
    return W


def _pass_by_atoms(xp, A, B, W, used, denominator, ridge, positive, constrained) -> None:
    """The pass as array operations, atom after atom (about 13 launches each on a GPU)."""
    for j in range(W.shape[0]):
        # u = argmin over atom j alone: W_j + (B_j − A_j W − λ W_j) / (A_jj + λ)
        step = (B[j] - A[j] @ W - ridge * W[j]) / denominator[j]
        atom = W[j] + xp.where(used[j], step, 0)
        if positive:
            atom = xp.maximum(atom, 0)
        if constrained:
            atom = atom / xp.maximum(xp.sqrt(atom @ atom), 1)
        W[j] = atom


@functools.cache
def _fused_pass_agrees(backend: Backend, dtype_char: str) -> bool:
    """Whether the GPU's one-launch pass (`Backend.dictionary_pass`) gives what the pass by
    atoms gives, on a small problem with unused atoms and p over one block's threads: checked
    once per process and dtype, and on a disagreement the pass by atoms is used, with a
    FitWarning that says so (the kernel has been compiled for GPUs this project never ran on)."""
    if not backend.is_gpu:
        return False
    xp, rng = backend.xp, np.random.default_rng(0)
    k, p = 9, 1100
    H = rng.standard_normal((40, k)) * (rng.random((40, k)) < 0.5)
    H[:, 3] = 0  # an unused atom
    A_host, B_host = H.T @ H, H.T @ rng.standard_normal((40, p))
    dtype = np.dtype(dtype_char)
    worst = 0.0
    for positive, ridge, constrained in ((False, 0.0, True), (True, 0.0, True), (True, 0.5, False)):
        A, B = (backend.asarray(a, dtype) for a in (A_host, B_host))
        W0 = backend.asarray(rng.standard_normal((k, p)) / np.sqrt(p), dtype)
        diagonal = xp.diagonal(A).copy()
        used = diagonal > 0
        denominator = xp.where(used, diagonal + ridge, 1).astype(dtype)
        fused, by_atoms = W0.copy(), W0.copy()
        backend.dictionary_pass(A, B, fused, used, denominator, ridge, positive, constrained)
        _pass_by_atoms(xp, A, B, by_atoms, used, denominator, ridge, positive, constrained)
        scale = float(xp.abs(by_atoms).max())
        worst = max(worst, float(xp.abs(fused - by_atoms).max()) / max(scale, 1e-30))
    if worst <= (1e-4 if dtype == np.float32 else 1e-10):
        return True
    warnings.warn(
        FitWarning(
            f"the GPU's fused dictionary pass differs from the pass by atoms by {worst:.2g} "
            "(relative); the pass by atoms is used"
        ),
        stacklevel=2,
    )
    return False


def _passes_compiled(A, B, W, used, ridge, positive, constrained, n_passes, tol):
    """The same passes on the CPU, compiled: one call per pass instead of k NumPy round trips."""
    A = np.ascontiguousarray(A)
    B = np.ascontiguousarray(B)
    for _ in range(n_passes):
        change = bcd_pass(A, B, W, used, float(ridge), bool(positive), bool(constrained))
        if tol > 0 and change <= tol * float(np.linalg.norm(W)):
            break
    return W


def add_statistics(
    backend: Backend,
    A: Any,
    B: Any,
    H: Any,
    X: Any,
    sign: float = 1.0,
    H_old: Any = None,
) -> None:
    """A += sign·HᵀH, B += sign·HᵀX in place; A (k, k), B (k, p) float64, H (m, k), X (m, p).

    With H_old (m, k), the codes H replace H_old in the sums: A, B also lose H_oldᵀH_old and
    H_oldᵀX (one pass over X for both). On the CPU a compiled loop over the non-zeros of H
    (codes are sparse); on a GPU dense matrix products, which is what the device is fast at.
    """
    if not backend.is_gpu:
        old = np.zeros((0, H.shape[1])) if H_old is None else np.ascontiguousarray(H_old)
        accumulate_statistics(
            A, B, np.ascontiguousarray(H), np.ascontiguousarray(X), sign, old, -sign
        )
        return
    xp = backend.xp
    X64 = X.astype(xp.float64)
    for codes, factor in ((H, sign), (H_old, -sign)):
        if codes is not None:
            H64 = codes.astype(xp.float64)
            A += factor * (H64.T @ H64)
            B += factor * (H64.T @ X64)


def dead_atoms(A: Any, xp: Any) -> Any:
    """Indices of atoms no sample uses (A_jj ≈ 0), as an integer array on A's device."""
    diagonal = xp.diagonal(A)
    return xp.nonzero(diagonal <= DEAD_ATOM_RATIO * xp.maximum(xp.mean(diagonal), 1e-300))[0]


def reseed_atoms(
    backend: Backend, W: Any, dead: Any, X: Any, H: Any, residual_sq: Any, positive: bool = False
) -> Any:
    """Replace dead atoms by the normalised residuals of the worst-reconstructed samples.

    W (k, p), dead (m,) indices, X (n, p), H (n, k), residual_sq (n,). The objective does not
    change: no sample uses a dead atom. Returns the new W.
    """
    xp = backend.xp
    m = int(dead.shape[0])
    if m == 0:
        return W
    worst = xp.argsort(-residual_sq)[:m]
    residual = X[worst] - H[worst] @ W
    if positive:
        residual = xp.maximum(residual, 0)
    norms = xp.sqrt(xp.sum(residual * residual, axis=1, keepdims=True))
    # A sample reconstructed exactly gives no direction; such atoms stay as they are.
    replacement = xp.where(norms > 0, residual / xp.maximum(norms, 1e-30), W[dead[: len(worst)]])
    W = W.copy()
    W[dead[: replacement.shape[0]]] = replacement.astype(W.dtype)
    return W


def penalised_reseed(
    backend: Backend,
    W: Any,
    W_ridge: Any,
    dead: Any,
    residual_sq: np.ndarray,
    alpha: float,
    penalty: float,
) -> Any:
    """Rescale `reseed_atoms`' unit-norm atoms for the weight-decay objective (+ ½λ‖W‖²).

    A unit atom adds ½λ to J, so re-seeding could raise it. Atom t takes the residual r of the
    t-th worst sample (‖r‖² = residual_sq[t]); scaled to s, with that sample's code ‖r‖/s on
    it, J changes by ½λs² + α‖r‖/s − ½‖r‖², least at s = (α‖r‖/λ)^(1/3). Where that least
    change is negative the atom is kept at that scale (the next code step can only do better
    than that code, so J falls); elsewhere the ridge step's atom (zero, as no sample uses it)
    stays. W, W_ridge (k, p) on the backend, dead (m,) indices.
    """
    xp = backend.xp
    norms = np.sqrt(np.asarray(residual_sq, dtype=np.float64)[: int(dead.shape[0])])
    scale = np.cbrt(alpha * norms / penalty)
    change = 0.5 * penalty * scale**2 + alpha * norms / np.maximum(scale, 1e-300) - 0.5 * norms**2
    chosen = dead[: norms.shape[0]]
    factor = backend.asarray(np.where(change < 0, scale, 0.0)[:, None], W.dtype)
    keep = backend.asarray((change < 0)[:, None], bool)
    W = W.copy()
    W[chosen] = xp.where(keep, W[chosen] * factor, W_ridge[chosen])
    return W
