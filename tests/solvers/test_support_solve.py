"""FISTA's finishing step (`solvers.support_solve`): a row whose signs have settled is solved
exactly on its support, batched over rows, and takes that solution only when its duality gap
certifies it; FISTA then certifies its rows in far fewer iterations."""

from __future__ import annotations

import numpy as np
import pytest

import solvers.codes as codes
from solvers.backends import NUMPY
from solvers.codes import solve_codes
from solvers.support_solve import finish_on_support

ALPHA = 0.1


@pytest.fixture(scope="module")
def correlated():
    """Correlated atoms (groups of near-copies), rows with several active atoms each."""
    rng = np.random.default_rng(11)
    centres = rng.standard_normal((16, 24))
    W = np.repeat(centres, 4, axis=0) + 0.3 * rng.standard_normal((64, 24))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    X = rng.standard_normal((200, 24))
    exact = solve_codes(NUMPY, X, W, ALPHA, solver="cd", tol=1e-14).codes
    return X, W, exact


def _finish(X, W, H, settled, tol=1e-10):
    G, C = W @ W.T, X @ W.T
    x_sq = np.einsum("ij,ij->i", X, X)
    return finish_on_support(NUMPY, H, G, C, x_sq, ALPHA, False, tol, settled)


def test_the_right_support_and_signs_give_the_exact_codes(correlated):
    X, W, exact = correlated
    # any point with the solution's signs will do: the solve depends on the signs alone
    start = np.sign(exact) * 0.01
    taken, H, gaps, _ = _finish(X, W, start, np.ones(X.shape[0], bool))
    nonzero = np.abs(exact).sum(axis=1) > 0
    assert taken[nonzero].all() and np.all(gaps[taken] <= 1e-10)
    # near-copies of atoms: certified codes agree to about sqrt(gap / curvature)
    np.testing.assert_allclose(H[taken], exact[taken], rtol=1e-8, atol=1e-9)


def test_a_wrong_support_is_refused(correlated):
    X, W, exact = correlated
    missing = np.sign(exact) * 0.01
    rows = np.nonzero((exact != 0).sum(axis=1) >= 2)[0]
    first_atom = (exact[rows] != 0).argmax(axis=1)
    missing[rows, first_atom] = 0  # one atom of the support left out
    taken, _, gaps, _ = _finish(X, W, missing, np.ones(X.shape[0], bool))
    assert not taken[rows].any() and np.all(np.isinf(gaps[rows]))


def test_only_settled_rows_are_tried(correlated):
    X, W, exact = correlated
    settled = np.zeros(X.shape[0], bool)
    settled[::2] = True
    taken, _, _, _ = _finish(X, W, np.sign(exact) * 0.01, settled)
    assert not taken[1::2].any() and taken[::2].any()


def test_fista_certifies_the_same_codes_in_fewer_iterations(correlated, monkeypatch):
    X, W, exact = correlated
    counted = {"row_iterations": 0}
    iterate = codes._fista_iterations

    def counting(backend, H, *rest):
        counted["row_iterations"] += H.shape[0] * rest[-1]
        return iterate(backend, H, *rest)

    monkeypatch.setattr(codes, "_fista_iterations", counting)
    finished = solve_codes(NUMPY, X, W, ALPHA, solver="fista", tol=1e-10, max_iter=5000)
    with_finish = counted["row_iterations"]

    def nothing_taken(backend, H, *rest):  # the finishing step switched off
        return np.zeros(H.shape[0], bool), None, None, None

    monkeypatch.setattr(codes, "finish_on_support", nothing_taken)
    counted["row_iterations"] = 0
    plain = solve_codes(NUMPY, X, W, ALPHA, solver="fista", tol=1e-10, max_iter=5000)
    assert finished.certified and plain.certified
    np.testing.assert_allclose(finished.codes, exact, rtol=0, atol=1e-6)
    assert with_finish < 0.5 * counted["row_iterations"], (with_finish, counted)
