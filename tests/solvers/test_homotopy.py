"""The lasso homotopy of a cold row (`_homotopy_kernel`): where it ends, and what it leaves the
coordinate descent when it stops early."""

from __future__ import annotations

import numpy as np
import pytest

from solvers._homotopy_kernel import homotopy
from solvers.backends import NUMPY
from solvers.codes import solve_codes


def _correlated_atoms(seed: int, k: int, p: int) -> np.ndarray:
    """k unit atoms in p dimensions, in clusters of four near-copies (correlation ~0.9)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k // 4, p))
    W = np.repeat(centres, 4, axis=0) + 0.35 * rng.standard_normal((k, p))
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def _follow(x: np.ndarray, W: np.ndarray, alpha: float, positive: bool, max_active: int):
    """(reached α, h, q = c − G h recomputed) of the homotopy for one row x."""
    k = W.shape[0]
    G = W @ W.T
    h, q = np.zeros(k), W @ x
    reached, _ = homotopy(
        h,
        q,
        G,
        alpha,
        positive,
        max_active,
        2 * k,
        np.empty((k, k)),
        np.empty((5, k)),
        np.empty(k, dtype=np.int64),
    )
    return reached, h, W @ x - G @ h


@pytest.mark.parametrize("positive", [False, True])
def test_the_path_ends_at_the_lasso_solution(positive, lars_reference):
    """Run to its end, the path is the lasso solution: the KKT conditions hold to rounding
    (|q_j| ≤ α off the support, q_j = α sign h_j on it) and it agrees with LassoLars."""
    W = _correlated_atoms(1, 32, 12)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 12))
    alpha = 0.3
    reference = lars_reference(X, W, alpha, positive)
    for x, expected in zip(X, reference, strict=True):
        reached, h, q = _follow(x, W, alpha, positive, max_active=32)
        assert reached
        on = h != 0
        assert np.all((q[~on] if positive else np.abs(q[~on])) <= alpha * (1 + 1e-9))
        np.testing.assert_allclose(q[on], alpha * np.sign(h[on]), rtol=1e-9)
        if positive:
            assert np.all(h >= 0)
        np.testing.assert_allclose(h, expected, atol=1e-6)


def test_a_path_stopped_by_its_support_size_is_the_solution_for_a_larger_alpha():
    """Stopped once max_active atoms are in, h is the exact lasso solution for the λ the
    path had reached (λ = max |q| > α): the warm start the passes take over from."""
    W = _correlated_atoms(3, 32, 24)
    x = np.random.default_rng(4).standard_normal(24) * 3
    reached, h, q = _follow(x, W, 0.01, False, max_active=6)
    assert not reached
    lam = np.max(np.abs(q))
    on = h != 0
    assert 0 < on.sum() <= 6 and lam > 0.01
    np.testing.assert_allclose(q[on], lam * np.sign(h[on]), rtol=1e-9)


def test_dependent_atoms_stop_the_path_and_the_passes_still_certify():
    """A duplicated atom cannot enter (its Cholesky pivot is 0): the path stops there, and the
    code step's passes finish the row to its certificate all the same."""
    rng = np.random.default_rng(5)
    W = rng.standard_normal((6, 10))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    W = np.vstack([W, W[:2]])  # atoms 6, 7 copy atoms 0, 1
    X = (rng.standard_normal((30, 6)) @ W[:6]) * 2
    step = solve_codes(NUMPY, X, W, 0.05, solver="cd", tol=1e-12, max_iter=100_000)
    assert step.certified


def test_dense_solutions_hand_over_to_the_passes_and_are_certified(lars_reference):
    """Small α on 16 atoms: supports of more than the homotopy's max(8, k/4) atoms, which the
    passes and Newton steps finish from the path's end."""
    W = _correlated_atoms(6, 16, 40)
    X = np.random.default_rng(7).standard_normal((50, 40)) * 2
    step = solve_codes(NUMPY, X, W, 0.01, solver="cd", tol=1e-12, max_iter=100_000)
    assert step.certified
    assert np.max(np.count_nonzero(step.codes, axis=1)) > 8
    np.testing.assert_allclose(step.codes, lars_reference(X, W, 0.01, False), atol=1e-6)
