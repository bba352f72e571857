"""The dictionary step W: feasibility, monotonicity, closed forms, dead-atom reseeding."""

from __future__ import annotations

import numpy as np
import pytest

import solvers
from solvers.backends import NUMPY
from solvers.dictionary import add_statistics, dead_atoms, reseed_atoms, update_dictionary


def f(A: np.ndarray, B: np.ndarray, W: np.ndarray, penalty: float | None = None) -> float:
    """f(W) = ½ tr(Wᵀ A W) − tr(Bᵀ W) (+ ½λ‖W‖²)."""
    value = 0.5 * np.sum(W * (A @ W)) - np.sum(B * W)
    if penalty is not None:
        value += 0.5 * penalty * np.sum(W * W)
    return float(value)


def statistics(seed: int, n: int = 60, k: int = 6, p: int = 9, scale: float = 1.0):
    """A = HᵀH, B = HᵀX for random codes and data; the unconstrained optimum is far outside
    the unit ball when `scale` is large, so the constraint is active."""
    rng = np.random.default_rng(seed)
    H = rng.standard_normal((n, k)) * (rng.random((n, k)) < 0.6)
    X = scale * rng.standard_normal((n, p))
    W0 = rng.standard_normal((k, p))
    W0 /= np.linalg.norm(W0, axis=1, keepdims=True)
    return H.T @ H, H.T @ X, W0


def norms(W: np.ndarray) -> np.ndarray:
    return np.linalg.norm(W, axis=1)


@pytest.mark.parametrize("positive", [False, True])
def test_passes_never_raise_the_objective_and_stay_feasible(positive):
    A, B, W = statistics(0, scale=3.0)
    if positive:
        W = np.abs(W)
    values = [f(A, B, W)]
    for _ in range(40):
        W_next = update_dictionary(NUMPY, A, B, W, positive=positive)
        assert np.all(norms(W_next) <= 1 + 1e-12)
        if positive:
            assert W_next.min() >= 0
        values.append(f(A, B, W_next))
        W = W_next
    assert np.all(np.diff(values) <= 1e-12 * np.abs(values[1:]))
    assert values[-1] < values[0]
    # The constraint is active at the answer: some atoms sit on the sphere.
    assert np.any(norms(W) > 1 - 1e-9)


def test_input_dictionary_is_not_modified():
    A, B, W = statistics(1, scale=3.0)
    before = W.copy()
    update_dictionary(NUMPY, A, B, W, n_passes=3)
    np.testing.assert_array_equal(W, before)


@pytest.mark.parametrize("scale", [0.05, 30.0])
def test_single_atom_is_the_projected_least_squares_answer(scale):
    """k = 1: f(w) = ½·a‖w‖² − b·w, so w = b/a projected on the unit ball, in one pass."""
    rng = np.random.default_rng(2)
    h = rng.standard_normal((40, 1))
    X = scale * rng.standard_normal((40, 7))
    A, B = h.T @ h, h.T @ X
    w = B / A[0, 0]
    expected = w / max(1.0, float(np.linalg.norm(w)))
    W0 = np.full((1, 7), 1 / np.sqrt(7))
    W = update_dictionary(NUMPY, A, B, W0)
    np.testing.assert_allclose(W, expected, rtol=1e-12, atol=1e-15)
    assert (np.linalg.norm(w) > 1) == (scale > 1)  # both branches of the projection


def test_interior_unconstrained_optimum_is_reached():
    """When A⁻¹B has atoms of norm < 1 the constraint is inactive and W → A⁻¹B."""
    rng = np.random.default_rng(3)
    H = rng.standard_normal((80, 5))
    A = H.T @ H
    W_star = rng.standard_normal((5, 8))
    W_star *= rng.uniform(0.2, 0.9, (5, 1)) / np.linalg.norm(W_star, axis=1, keepdims=True)
    B = A @ W_star
    W0 = np.zeros((5, 8))
    W = update_dictionary(NUMPY, A, B, W0, n_passes=500)
    np.testing.assert_allclose(W, np.linalg.solve(A, B), rtol=1e-10, atol=1e-12)
    assert solvers.dictionary_residual(A, B, W) <= 1e-10


@pytest.mark.parametrize("positive", [False, True])
def test_many_passes_reach_a_minimiser(positive):
    A, B, W0 = statistics(4, scale=3.0)
    if positive:
        W0 = np.abs(W0)
    assert solvers.dictionary_residual(A, B, W0, positive) > 1e-2
    W = update_dictionary(NUMPY, A, B, W0, positive=positive, n_passes=3000)
    assert solvers.dictionary_residual(A, B, W, positive) <= 1e-8
    # A minimiser: no feasible point nearby does better.
    rng = np.random.default_rng(0)
    for _ in range(20):
        trial = W + 1e-3 * rng.standard_normal(W.shape)
        if positive:
            trial = np.maximum(trial, 0)
        trial /= np.maximum(norms(trial), 1)[:, None]
        assert f(A, B, trial) >= f(A, B, W) - 1e-12


def test_tol_stops_early_but_still_descends():
    A, B, W0 = statistics(5, scale=3.0)
    loose = update_dictionary(NUMPY, A, B, W0, n_passes=1000, tol=1e-2)
    tight = update_dictionary(NUMPY, A, B, W0, n_passes=1000, tol=0.0)
    assert f(A, B, tight) <= f(A, B, loose) <= f(A, B, W0)
    assert solvers.dictionary_residual(A, B, tight) < solvers.dictionary_residual(A, B, loose)


def test_weight_decay_is_ridge_regression():
    """With ½λ‖W‖² instead of the constraint: W = (A + λI)⁻¹ B, atoms may exceed norm 1."""
    A, B, W0 = statistics(6, scale=5.0)
    lam = 0.5
    W = update_dictionary(NUMPY, A, B, W0, dictionary_penalty=lam)
    np.testing.assert_allclose(W, np.linalg.solve(A + lam * np.eye(6), B), rtol=1e-12)
    assert norms(W).max() > 1
    assert solvers.dictionary_residual(A, B, W, dictionary_penalty=lam) <= 1e-10


def test_positive_weight_decay_reaches_its_minimiser():
    A, B, W0 = statistics(7, scale=5.0)
    lam = 0.5
    W = update_dictionary(
        NUMPY, A, B, np.abs(W0), positive=True, dictionary_penalty=lam, n_passes=3000
    )
    assert W.min() >= 0
    assert norms(W).max() > 1  # no unit-ball constraint under weight decay
    assert solvers.dictionary_residual(A, B, W, True, lam) <= 1e-8
    # Where the unconstrained ridge answer is non-negative, it is the answer.
    rng = np.random.default_rng(8)
    W_star = np.abs(rng.standard_normal((6, 9)))
    B_star = (A + lam * np.eye(6)) @ W_star
    W = update_dictionary(
        NUMPY, A, B_star, np.abs(W0), positive=True, dictionary_penalty=lam, n_passes=3000
    )
    np.testing.assert_allclose(W, W_star, rtol=1e-8, atol=1e-10)


def test_dead_atoms_are_found_and_reseeded_without_changing_the_objective(make_data):
    X, W = make_data(seed=9, n=50, p=12, k=6)
    rng = np.random.default_rng(9)
    H = rng.standard_normal((50, 6)) * (rng.random((50, 6)) < 0.5)
    H[:, [1, 4]] = 0.0  # atoms 1 and 4 are used by no sample
    A = H.T @ H
    dead = dead_atoms(A, np)
    np.testing.assert_array_equal(dead, [1, 4])
    # The dictionary step leaves unused atoms where they are.
    W_new = update_dictionary(NUMPY, A, H.T @ X, W)
    np.testing.assert_array_equal(W_new[[1, 4]], W[[1, 4]])
    residual_sq = np.sum((X - H @ W_new) ** 2, axis=1)
    reseeded = reseed_atoms(NUMPY, W_new, dead, X, H, residual_sq)
    # New atoms: the normalised residuals of the two worst-reconstructed samples.
    worst = np.argsort(-residual_sq)[:2]
    direction = X[worst] - H[worst] @ W_new
    np.testing.assert_allclose(reseeded[[1, 4]], direction / norms(direction)[:, None], rtol=1e-12)
    np.testing.assert_array_equal(reseeded[[0, 2, 3, 5]], W_new[[0, 2, 3, 5]])
    assert solvers.objective(X, H, reseeded, 0.3) == pytest.approx(
        solvers.objective(X, H, W_new, 0.3), rel=1e-14
    )
    # Positive: the replacement is kept in the non-negative orthant.
    positive = reseed_atoms(NUMPY, np.abs(W_new), dead, X, H, residual_sq, positive=True)
    assert positive.min() >= 0 and np.all(norms(positive) <= 1 + 1e-12)
    # Nothing dead: nothing changes.
    none = dead_atoms(A + np.eye(6), np)
    assert none.shape == (0,)
    assert reseed_atoms(NUMPY, W_new, none, X, H, residual_sq) is W_new


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dictionary_step_on_device_arrays(backend, dtype):
    """Same answer on every backend; the result stays on the device, in the working dtype."""
    A, B, W0 = statistics(10, scale=3.0)
    xp = backend.xp
    expected = update_dictionary(NUMPY, A, B, W0, n_passes=5)
    W = update_dictionary(
        backend,
        xp.asarray(A, dtype=dtype),
        xp.asarray(B, dtype=dtype),
        xp.asarray(W0, dtype=dtype),
        n_passes=5,
    )
    assert type(W) is type(xp.asarray(W0)) and W.dtype == dtype
    rtol = 1e-10 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(backend.to_numpy(W), expected, rtol=rtol, atol=rtol)
    assert np.all(norms(backend.to_numpy(W).astype(np.float64)) <= 1 + 1e-6)
    decayed = update_dictionary(
        backend,
        xp.asarray(A, dtype=dtype),
        xp.asarray(B, dtype=dtype),
        xp.asarray(W0, dtype=dtype),
        dictionary_penalty=0.5,
    )
    assert decayed.dtype == dtype
    np.testing.assert_allclose(
        backend.to_numpy(decayed), np.linalg.solve(A + 0.5 * np.eye(6), B), rtol=rtol, atol=rtol
    )


@pytest.mark.parametrize("n", [7, 600])
def test_statistics_replace_old_codes_by_new_ones_in_one_pass(n):
    """add_statistics(H, H_old=…) = A + HᵀH − H_oldᵀH_old, B + HᵀX − H_oldᵀX, whether the rows
    fit one chunk or several (600 rows: three parallel chunks)."""
    rng = np.random.default_rng(n)
    k, p = 9, 5
    H = rng.standard_normal((n, k)) * (rng.random((n, k)) < 0.3)
    H_old = (rng.standard_normal((n, k)) * (rng.random((n, k)) < 0.3)).astype(np.float32)
    X = rng.standard_normal((n, p))
    A0, B0 = rng.standard_normal((k, k)), rng.standard_normal((k, p))
    A, B = A0.copy(), B0.copy()
    add_statistics(NUMPY, A, B, H, X, 1.0, H_old=H_old)
    old = H_old.astype(np.float64)
    np.testing.assert_allclose(A, A0 + H.T @ H - old.T @ old, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(B, B0 + H.T @ X - old.T @ X, rtol=1e-12, atol=1e-12)
    A, B = A0.copy(), B0.copy()
    add_statistics(NUMPY, A, B, H, X, 0.5)
    np.testing.assert_allclose(A, A0 + 0.5 * H.T @ H, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(B, B0 + 0.5 * H.T @ X, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("positive", [False, True])
def test_the_gpu_pass_is_one_launch_and_agrees_with_the_pass_by_atoms(backend, positive):
    """On a GPU a pass is one fused kernel (`Backend.dictionary_pass`; it was ~13 launches per
    atom): its self-check passes, and a pass of it equals the compiled CPU pass, with atoms
    unused and more features than one block has threads."""
    from solvers import dictionary

    if not backend.is_gpu:
        pytest.skip("the fused pass is the GPU's; the CPU's is compiled by numba")
    assert dictionary._fused_pass_agrees(backend, "d") and dictionary._fused_pass_agrees(
        backend, "f"
    )
    rng = np.random.default_rng(3)
    H = rng.standard_normal((300, 40)) * (rng.random((300, 40)) < 0.2)
    H[:, 7] = 0
    X = rng.standard_normal((300, 1500))
    W0 = rng.standard_normal((40, 1500)) / 40
    A, B = H.T @ H, H.T @ X
    expected = update_dictionary(NUMPY, A, B, W0, positive=positive, n_passes=3)
    xp = backend.xp
    W = update_dictionary(
        backend, xp.asarray(A), xp.asarray(B), xp.asarray(W0), positive=positive, n_passes=3
    )
    np.testing.assert_allclose(backend.to_numpy(W), expected, rtol=1e-10, atol=1e-12)
