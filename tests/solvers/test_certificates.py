"""The certificates every stopping rule relies on: duality gaps, objective, W-step residual."""

from __future__ import annotations

import numpy as np
import pytest

import solvers
from solvers.backends import NUMPY
from solvers.codes import solve_codes

ALPHA = 0.4


@pytest.fixture(scope="module")
def problem(make_data):
    X, W = make_data(seed=1, n=80, p=15, k=10)
    return X, W


def _statistics(X: np.ndarray, W: np.ndarray):
    return W @ W.T, X @ W.T, np.sum(X * X, axis=1)


@pytest.mark.parametrize("positive", [False, True])
def test_gaps_match_primal_minus_dual_computed_from_X(problem, positive, primal_dual_gaps):
    X, W = problem
    rng = np.random.default_rng(0)
    G, C, x_sq = _statistics(X, W)
    for scale in (0.0, 0.01, 0.3, 3.0):  # from H = 0 to codes far too large
        H = scale * rng.standard_normal((X.shape[0], W.shape[0]))
        H *= rng.random(H.shape) < 0.5
        if positive:
            H = np.abs(H)
        gaps, residual_sq = solvers.lasso_gaps(G, C, x_sq, H, ALPHA, positive)
        independent = primal_dual_gaps(X, H, W, ALPHA, positive)
        assert np.all(gaps >= 0)
        np.testing.assert_allclose(gaps, independent, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(
            residual_sq, np.sum((X - H @ W) ** 2, axis=1), rtol=1e-10, atol=1e-10
        )
        if scale > 0:
            assert np.all(gaps > 0)  # random codes are nowhere optimal
        relative = solvers.relative_gaps(G, C, x_sq, H, ALPHA, positive)
        np.testing.assert_allclose(relative, gaps / x_sq, rtol=1e-12)


def test_gap_of_zero_codes_has_closed_form(problem):
    """h = 0: r = x, θ = s·x with s = min(1, α/‖Wx‖∞), gap = ½‖x‖²(1 − s)²."""
    X, W = problem
    G, C, x_sq = _statistics(X, W)
    gaps, _ = solvers.lasso_gaps(G, C, x_sq, np.zeros((X.shape[0], W.shape[0])), ALPHA)
    s = np.minimum(1.0, ALPHA / np.abs(C).max(axis=1))
    np.testing.assert_allclose(gaps, 0.5 * x_sq * (1 - s) ** 2, rtol=1e-12)


@pytest.mark.parametrize("positive", [False, True])
def test_gaps_vanish_at_the_optimum(problem, positive):
    X, W = problem
    G, C, x_sq = _statistics(X, W)
    H = solve_codes(
        NUMPY, X, W, ALPHA, solver="cd", tol=1e-15, max_iter=100_000, positive=positive
    ).codes
    gaps, _ = solvers.lasso_gaps(G, C, x_sq, H, ALPHA, positive)
    assert np.all(gaps >= 0)
    assert np.all(gaps <= 1e-13 * x_sq)
    # Exact closed form: orthonormal atoms, h = S_α(x Wᵀ).
    Q = np.linalg.qr(np.random.default_rng(2).standard_normal((15, 10)))[0].T
    c = X @ Q.T
    exact = np.maximum(c - ALPHA, 0) if positive else np.sign(c) * np.maximum(abs(c) - ALPHA, 0)
    gaps, _ = solvers.lasso_gaps(Q @ Q.T, c, x_sq, exact, ALPHA, positive)
    assert np.all(gaps <= 1e-13 * x_sq)


def test_relative_gaps_of_zero_rows_are_zero(problem):
    X, W = problem
    X = X.copy()
    X[3] = 0
    G, C, x_sq = _statistics(X, W)
    relative = solvers.relative_gaps(G, C, x_sq, np.zeros((X.shape[0], W.shape[0])), ALPHA)
    assert relative[3] == 0 and np.all(np.isfinite(relative))


def test_objective_is_the_documented_formula(problem):
    X, W = problem
    rng = np.random.default_rng(4)
    H = rng.standard_normal((X.shape[0], W.shape[0]))
    n = X.shape[0]
    expected = (0.5 * np.sum((X - H @ W) ** 2) + ALPHA * np.abs(H).sum()) / n
    assert solvers.objective(X, H, W, ALPHA) == pytest.approx(expected, rel=1e-13)
    penalised = expected + 0.5 * 0.7 * np.sum(W * W) / n
    assert solvers.objective(X, H, W, ALPHA, 0.7) == pytest.approx(penalised, rel=1e-13)
    # float32 inputs are evaluated in float64.
    value32 = solvers.objective(X.astype(np.float32), H.astype(np.float32), W, ALPHA)
    assert value32 == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("penalty", [None, 0.5])
def test_dictionary_residual_is_zero_exactly_at_a_known_minimiser(positive, penalty):
    """Interior minimiser W* of f(W) = ½tr(WᵀAW) − tr(BᵀW) (+ ½λ‖W‖²): B = (A + λI) W*."""
    rng = np.random.default_rng(5)
    H = rng.standard_normal((50, 4))
    A = H.T @ H
    W_star = np.abs(rng.standard_normal((4, 6)))
    W_star *= 0.5 / np.linalg.norm(W_star, axis=1, keepdims=True)
    B = (A + (penalty or 0.0) * np.eye(4)) @ W_star
    assert solvers.dictionary_residual(A, B, W_star, positive, penalty) <= 1e-12
    assert solvers.dictionary_residual(A, B, 0.9 * W_star, positive, penalty) > 1e-3
