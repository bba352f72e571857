"""Fixtures of the solver tests: the backend fixture (one for every backend test) and small,
deterministic problems with known structure."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.decomposition import sparse_encode
from sklearn.exceptions import ConvergenceWarning

import solvers
from solvers.backends import Backend


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Every backend this machine can run; an unavailable one is a clean skip."""
    try:
        return solvers.get_backend(request.param)
    except solvers.BackendUnavailableError as exc:
        pytest.skip(f"backend {request.param!r} is not available here: {exc.reason}")


def _make_data(
    seed: int = 0,
    n: int = 120,
    p: int = 16,
    k: int = 8,
    density: float = 0.3,
    noise: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """X (n, p) = H W + noise, with W (k, p) of unit-norm atoms and H sparse; returns (X, W)."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((k, p))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    H = rng.standard_normal((n, k)) * (rng.random((n, k)) < density)
    X = H @ W + noise * rng.standard_normal((n, p))
    return X, W


@pytest.fixture(scope="session")
def make_data() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    return _make_data


def _lars_reference(X: np.ndarray, W: np.ndarray, alpha: float, positive: bool) -> np.ndarray:
    """scikit-learn's LassoLars codes: the reference of the same problem, same scaling."""
    with warnings.catch_warnings():
        # LARS may warn on degenerate directions; the comparisons that follow are the judge.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sparse_encode(X, W, algorithm="lasso_lars", alpha=alpha, positive=positive)


@pytest.fixture(scope="session")
def lars_reference() -> Callable[..., np.ndarray]:
    return _lars_reference


def _primal_dual_gaps(
    X: np.ndarray, H: np.ndarray, W: np.ndarray, alpha: float, positive: bool = False
) -> np.ndarray:
    """Per-row lasso duality gaps computed from X directly (not from G and C).

    P(h) = ½‖x − hW‖² + α‖h‖₁; dual point θ = s·r with r = x − hW scaled into the feasible set
    {θ : |Wθ|_∞ ≤ α} (positive: max(Wθ) ≤ α); D(θ) = ½‖x‖² − ½‖x − θ‖².
    """
    R = X - H @ W
    Q = R @ W.T
    bound = Q.max(axis=1) if positive else np.abs(Q).max(axis=1)
    s = np.where(bound > alpha, alpha / np.maximum(bound, 1e-300), 1.0)[:, None]
    theta = s * R
    primal = 0.5 * np.sum(R * R, axis=1) + alpha * np.abs(H).sum(axis=1)
    dual = 0.5 * np.sum(X * X, axis=1) - 0.5 * np.sum((X - theta) ** 2, axis=1)
    return primal - dual


@pytest.fixture(scope="session")
def primal_dual_gaps() -> Callable[..., np.ndarray]:
    return _primal_dual_gaps


def _kkt_violation(
    X: np.ndarray, H: np.ndarray, W: np.ndarray, alpha: float, positive: bool = False
) -> tuple[float, float]:
    """(excess on the zero set, error on the support), both relative to α.

    With q = W(x − hW) for a row: |q_j| ≤ α where h_j = 0 (positive: q_j ≤ α) and
    q_j = α·sign(h_j) where h_j ≠ 0. Returns max(|q_j|/α − 1) over zeros (≤ 0 when satisfied)
    and max |q_j − α·sign(h_j)|/α over the support.
    """
    Q = (X - H @ W) @ W.T
    zero = H == 0
    on_zero = Q if positive else np.abs(Q)
    excess = np.max(np.where(zero, on_zero / alpha - 1.0, -np.inf), initial=-np.inf)
    error = np.max(np.where(zero, 0.0, np.abs(Q - alpha * np.sign(H)) / alpha), initial=0.0)
    return float(excess), float(error)


@pytest.fixture(scope="session")
def kkt_violation() -> Callable[..., tuple[float, float]]:
    return _kkt_violation
