"""OMP as a code solver (`solvers.encode(..., code_solver="omp")`) and the one warning a lasso
encode gives when rows stop short of their certificate."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import orthogonal_mp

import solvers


def _problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((30, 20))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    X = rng.standard_normal((64, 20))
    return X, W


@pytest.mark.parametrize("n_nonzero_coefs", [1, 3, 7])
def test_omp_picks_that_many_atoms_and_agrees_with_sklearn(n_nonzero_coefs):
    X, W = _problem()
    H = solvers.encode(X, W, code_solver="omp", n_nonzero_coefs=n_nonzero_coefs)
    assert np.all(np.count_nonzero(H, axis=1) == n_nonzero_coefs)
    reference = orthogonal_mp(W.T, X.T, n_nonzero_coefs=n_nonzero_coefs).T
    np.testing.assert_allclose(H, reference, atol=1e-10)
    # least squares on its support: the residual is orthogonal to every chosen atom
    R = X - H @ W
    for r, h in zip(R, H, strict=True):
        assert np.max(np.abs(W[h != 0] @ r)) <= 1e-10


def test_omp_residual_tolerance_and_default_sparsity():
    X, W = _problem(1)
    H = solvers.encode(X, W, code_solver="omp", residual_tol=2.0)
    assert np.all(np.sum((X - H @ W) ** 2, axis=1) <= 2.0 + 1e-9)
    default = solvers.encode(X, W, code_solver="omp")  # a tenth of the 20 features
    assert np.all(np.count_nonzero(default, axis=1) == 2)
    H32 = solvers.encode(X.astype(np.float32), W, code_solver="omp", n_nonzero_coefs=3)
    assert H32.dtype == np.float32


def test_omp_errors_name_the_problem():
    X, W = _problem()
    with pytest.raises(solvers.InvalidInputError, match="n_nonzero_coefs must be between 1"):
        solvers.encode(X, W, code_solver="omp", n_nonzero_coefs=31)
    with pytest.raises(solvers.InvalidInputError, match="residual_tol"):
        solvers.encode(X, W, code_solver="omp", residual_tol=-1.0)


@pytest.mark.parametrize("code_solver", ["cd", "fista"])
def test_an_encode_stopped_short_warns_once(code_solver):
    X, W = _problem(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        solvers.encode(X, W, alpha=0.05, code_solver=code_solver, max_iter=1)
    found = [w for w in caught if issubclass(w.category, solvers.ConvergenceWarning)]
    assert len(found) == 1
    assert "of 64 rows stopped at max_iter=1" in str(found[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", solvers.ConvergenceWarning)
        tol = 1e-10 if code_solver == "cd" else 1e-6  # FISTA converges slowly to 1e-10
        solvers.encode(X, W, alpha=0.05, code_solver=code_solver, max_iter=100_000, tol=tol)


def test_float32_lasso_codes_are_certified_as_float64_ones():
    """The compiled solver works in float64 whatever the data's dtype: float32 codes are the
    float64 ones rounded, to 1e-4 relative and better."""
    X, W = _problem(3)
    H64 = solvers.encode(X, W, alpha=0.1)
    H32 = solvers.encode(X.astype(np.float32), W.astype(np.float32), alpha=0.1)
    scale = np.max(np.abs(H64))
    np.testing.assert_allclose(H32, H64, atol=1e-5 * scale, rtol=1e-4)
