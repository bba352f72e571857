"""The code step: H for a fixed dictionary W, n independent lassos sharing G = W Wᵀ and C = X Wᵀ.

    min_h ½‖x_i − h W‖² + α‖h‖₁   (h ≥ 0 when positive), for every row x_i of X.

Solvers: `cd` (compiled Gram coordinate descent, CPU), `fista` (batched over rows, either
backend), `lars` (scikit-learn's LassoLars, exact reference, CPU). Every row is certified by
its duality gap in float64 and stops when gap ≤ tol·‖x_i‖².
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._cd_kernel import cd_rows
from .backends import Backend
from .certificates import lasso_gaps
from .errors import InvalidInputError
from .options import FitOptions
from .support_solve import finish_on_support

# FISTA checks its rows' gaps (and freezes the converged ones) every this many iterations;
# between two checks the loop runs on the device with no host synchronisation.
FISTA_CHECK_EVERY = 10


@dataclass
class CodeStep:
    """Codes and their certificates, on the backend they were computed on.

    codes (n, k) in the working dtype; gaps (n,) float64, gap_i / ‖x_i‖²; residual_sq (n,)
    float64, ‖x_i − h_i W‖²; certified: every gap ≤ tol.
    """

    codes: Any
    gaps: Any
    residual_sq: Any
    certified: bool

    @classmethod
    def joined(cls, parts: list[CodeStep], xp: Any) -> CodeStep:
        """The steps of consecutive row ranges as one."""
        return cls(
            xp.concatenate([p.codes for p in parts]),
            xp.concatenate([p.gaps for p in parts]),
            xp.concatenate([p.residual_sq for p in parts]),
            all(p.certified for p in parts),
        )

    @property
    def max_gap(self) -> float:
        return float(self.gaps.max()) if self.gaps.shape[0] else 0.0


def resolve_code_solver(code_solver: str, backend: Backend | str) -> str:
    """`auto` is `cd` on NumPy and `fista` on CuPy; `cd` and `lars` exist on the CPU only.
    `backend`: the backend or its name."""
    on_gpu = backend == "cupy" if isinstance(backend, str) else backend.is_gpu
    if code_solver == "auto":
        return "fista" if on_gpu else "cd"
    if on_gpu and code_solver in ("cd", "lars"):
        # A silent switch would hide a device→host copy of every matrix; say it instead.
        raise ValueError(f"code_solver={code_solver!r} runs on the CPU only; use 'fista' on cupy")
    return code_solver


def on_backend(opts: FitOptions, name: str) -> FitOptions:
    """`opts` on the backend `name` chosen for it ("auto" resolved), its code solver checked
    against it (InvalidInputError for cd or lars on cupy)."""
    try:
        resolve_code_solver(opts.code_solver, name)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    return opts.replace(backend=name)


def solve_codes(
    backend: Backend,
    X: Any,
    W: Any,
    alpha: float,
    *,
    H0: Any = None,
    solver: str = "auto",
    tol: float = 1e-10,
    max_iter: int = 1000,
    positive: bool = False,
    x_sq: Any = None,
) -> CodeStep:
    """Codes of X (n, p) on W (k, p), warm-started from H0 (n, k) when given.

    X, W, H0 live on `backend`; x_sq (n,) = ‖x_i‖² in float64 may be passed to avoid recomputing
    it. `max_iter` bounds coordinate sweeps (cd) or iterations (fista).
    """
    xp = backend.xp
    solver = resolve_code_solver(solver, backend)
    dtype = X.dtype
    shape = (X.shape[0], W.shape[0])
    if solver == "cd":  # the kernel's threads compute x_sq when it is not given
        H = np.empty(shape, dtype=dtype) if H0 is None else H0.astype(dtype)
        W64 = np.asarray(W, dtype=np.float64)
        return _cd(X, W64, x_sq, H, H0 is None, alpha, tol, max_iter, positive)
    if x_sq is None:
        X64 = xp.asarray(X, dtype=xp.float64)
        x_sq = xp.einsum("ij,ij->i", X64, X64)
    if solver == "lars":
        return _lars(X, W, alpha, x_sq, positive, tol)
    H = xp.zeros(shape, dtype=dtype) if H0 is None else H0.astype(dtype)
    if solver == "fista":
        return _fista(backend, X, W, x_sq, H, alpha, tol, max_iter, positive)
    raise ValueError(f"unknown code solver {solver!r}")


def _cd(X, W, x_sq, H, cold, alpha, tol, max_sweeps, positive) -> CodeStep:
    n = X.shape[0]
    gaps = np.empty(n)
    residual_sq = np.empty(n)
    sweeps = np.empty(n, dtype=np.int64)
    H = np.ascontiguousarray(H)
    cd_rows(
        X,
        W,
        W @ W.T,
        None if x_sq is None else np.ascontiguousarray(x_sq, dtype=np.float64),
        H,
        float(alpha),
        float(tol),
        int(max_sweeps),
        bool(positive),
        gaps,
        residual_sq,
        sweeps,
        cold,
    )
    return CodeStep(H, gaps, residual_sq, bool(np.all(gaps <= tol)))


def _fista(backend: Backend, X, W, x_sq, H, alpha, tol, max_iter, positive) -> CodeStep:
    """Batched FISTA with per-row adaptive restart; converged rows are frozen.

    All rows move together: one (n_active, k) × (k, k) product per iteration. Rows whose gap is
    under tol leave the active set at each check, so the work shrinks as rows converge; rows
    whose signs did not change since the last check are solved exactly on their support
    (`support_solve.finish_on_support`) and leave too when that solution is certified.
    """
    xp = backend.xp
    dtype = X.dtype
    # The products once, in float64 (the certificates need them so); the iterations use their
    # working-dtype copies.
    W64 = W.astype(xp.float64, copy=False)
    G64 = W64 @ W64.T
    C64 = X.astype(xp.float64, copy=False) @ W64.T
    G = G64.astype(dtype, copy=False)
    C = C64.astype(dtype, copy=False)
    # Lipschitz constant of the smooth part: the largest eigenvalue of G (tiny k × k problem).
    lipschitz = xp.linalg.eigvalsh(G64)[-1]
    lipschitz = xp.maximum(lipschitz, 1e-12)
    step = (1.0 / lipschitz).astype(dtype)
    threshold = (alpha / lipschitz).astype(dtype)
    n = X.shape[0]
    # A zero row's only solution is h = 0, and its relative gap reads 0 whatever h is, so a warm
    # start there would be certified as it stands: set it outright.
    H[x_sq <= 0] = 0
    gaps = xp.empty(n, dtype=xp.float64)
    residual_sq = xp.empty(n, dtype=xp.float64)
    # Each row's momentum (its extrapolated point Y and t) lives across the checks: a check only
    # freezes the converged rows, it does not restart the others.
    Y = H.copy()
    t = xp.ones((n, 1), dtype=dtype)
    active = xp.arange(n)
    signs = xp.zeros((n, H.shape[1]), dtype=xp.int8)  # each row's signs at the last check
    H_act = H.copy()  # the active rows' codes, carried between checks (one gather fewer each)
    done = 0
    while True:
        row_gaps, row_rsq = lasso_gaps(G64, C64[active], x_sq[active], H_act, alpha, positive)
        rel = xp.where(x_sq[active] > 0, row_gaps / xp.maximum(x_sq[active], 1e-300), 0.0)
        gaps[active] = rel
        residual_sq[active] = row_rsq
        still = rel > tol
        # Host synchronisations once per FISTA_CHECK_EVERY iterations only: how many rows
        # remain, and (the finishing step) their support sizes and how many it certified.
        active, H_act = active[still], H_act[still]
        if active.shape[0] and done < max_iter:
            left = _finish_settled(backend, H, H_act, G64, C64, x_sq, alpha, positive, tol,
                                   active, gaps, residual_sq, signs)  # fmt: skip
            active, H_act = active[left], H_act[left]
        if active.shape[0] == 0 or done >= max_iter:
            break
        Y_act = Y[active]
        t[active] = _fista_iterations(
            backend,
            H_act,
            Y_act,
            t[active],
            G,
            C[active],
            step,
            threshold,
            positive,
            min(FISTA_CHECK_EVERY, max_iter - done),
        )
        H[active] = H_act
        Y[active] = Y_act
        done += FISTA_CHECK_EVERY
    certified = bool((gaps <= tol).all())
    return CodeStep(H, gaps, residual_sq, certified)


def _finish_settled(
    backend, H, H_act, G64, C64, x_sq, alpha, positive, tol, active, gaps, residual_sq, signs
):
    """The rows of `active` (their codes H_act) whose signs are those of the last check
    (`signs` (n, k) int8, updated here) are tried by `finish_on_support`; those it certifies
    take its codes in H and leave. Returns the mask of the rows still active."""
    now = backend.xp.sign(H_act).astype(signs.dtype)
    settled = (now == signs[active]).all(axis=1)
    signs[active] = now
    taken, codes, row_gaps, row_rsq = finish_on_support(
        backend, H_act, G64, C64[active], x_sq[active], alpha, positive, tol, settled
    )
    done = active[taken]
    if done.shape[0]:
        H[done] = codes[taken]
        gaps[done] = row_gaps[taken]
        residual_sq[done] = row_rsq[taken]
    return ~taken


def _fista_iterations(backend: Backend, H, Y, t, G, C, step, threshold, positive, n_iter) -> Any:
    """`n_iter` FISTA iterations on the rows of H (m, k) from their extrapolated points Y (m, k)
    and momentum t (m, 1), H and Y in place, without host round trips; returns the new t.

    Restart (O'Donoghue & Candès 2015, gradient scheme): a row whose step goes against its
    momentum, ⟨Y − H⁺, H⁺ − H⟩ > 0, drops its momentum (t ← 1).
    """
    xp = backend.xp
    dtype = H.dtype
    H_new = xp.empty_like(H)
    YG = xp.empty_like(H)
    for _ in range(n_iter):
        xp.matmul(Y, G, out=YG)
        backend.prox_step(Y, YG, C, step, threshold, positive, H_new)
        restart = xp.sum((Y - H_new) * (H_new - H), axis=1, keepdims=True) > 0
        t_next = (1 + xp.sqrt(1 + 4 * t * t)) / 2
        beta = xp.where(restart, 0, (t - 1) / t_next).astype(dtype)
        t = xp.where(restart, 1, t_next).astype(dtype)
        backend.momentum_step(H_new, H, beta, Y)
        H, H_new = H_new, H
    if n_iter % 2 == 1:
        # After an odd number of swaps the newest iterate sits in the caller's other buffer.
        H_new[...] = H
    return t


def _lars(X, W, alpha, x_sq, positive, tol) -> CodeStep:
    """scikit-learn's LassoLars through `sparse_encode`: exact up to rounding, CPU only."""
    from sklearn.decomposition import sparse_encode

    X64 = np.asarray(X, dtype=np.float64)
    W64 = np.asarray(W, dtype=np.float64)
    with warnings.catch_warnings():
        # LARS warns when it hits degenerate directions; the gap below is the judge.
        warnings.simplefilter("ignore")
        H = sparse_encode(X64, W64, algorithm="lasso_lars", alpha=alpha, positive=positive)
    G = W64 @ W64.T
    gaps, residual_sq = lasso_gaps(G, X64 @ W64.T, x_sq, H, alpha, positive)
    rel = np.where(x_sq > 0, gaps / np.maximum(x_sq, 1e-300), 0.0)
    return CodeStep(H.astype(X.dtype), rel, residual_sq, bool(np.all(rel <= tol)))
