"""Batch block coordinate descent: descent, agreement with scikit-learn, stopping, resuming."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.decomposition import dict_learning
from sklearn.exceptions import ConvergenceWarning

import solvers
from solvers.backends import NUMPY
from solvers.codes import solve_codes
from solvers.init import initial_dictionary

ALPHA = 0.3
K = 8


@pytest.fixture(scope="module")
def X(make_data):
    return make_data(seed=0, n=150, p=16, k=K)[0]


def objectives(result: solvers.FitResult) -> np.ndarray:
    return np.array([record.objective for record in result.history])


def assert_monotone(values: np.ndarray, slack: float = 1e-12) -> None:
    increases = np.diff(values) / np.abs(values[1:])
    assert increases.max() <= slack, f"objective rose by {increases.max():.3g} (relative)"


@pytest.mark.parametrize(
    ("code_solver", "positive"),
    [("cd", False), ("fista", False), ("lars", False), ("cd", True)],
)
def test_batch_never_raises_the_objective(X, code_solver, positive):
    result = solvers.fit(
        X,
        K,
        alpha=ALPHA,
        max_iter=15,
        tol=0.0,
        code_solver=code_solver,
        code_tol=1e-14,
        positive_codes=positive,
        positive_dictionary=positive,
        random_state=0,
    )
    assert result.stop_reason == "max_iter" and result.n_iter == 15
    values = objectives(result)
    assert len(values) == 15 and values[-1] < values[0]
    assert_monotone(values)
    # The reported objective is the true one for the returned codes and dictionary.
    assert values[-1] == pytest.approx(
        solvers.objective(X, result.codes, result.dictionary, ALPHA), rel=1e-10
    )
    assert [r.iteration for r in result.history] == list(range(1, 16))
    assert all(r.max_gap <= 1e-14 for r in result.history)
    assert np.all(np.linalg.norm(result.dictionary, axis=1) <= 1 + 1e-12)
    if positive:
        assert result.codes.min() >= 0 and result.dictionary.min() >= 0


@pytest.mark.parametrize("n_iter", [1, 60])
def test_batch_reaches_sklearn_dict_learning_objective_or_lower(X, n_iter):
    """Same start, same number of iterations: our objective is scikit-learn's or lower.

    After one iteration this holds step by step (our code step is exact, our dictionary step
    runs passes until W settles where scikit-learn runs one). In between the two non-convex
    paths may cross (measured: either side ahead by up to ~1% around 10 iterations, and on
    some data they settle in different local minima); on this data both settle in the same
    minimum by 60 iterations, where ours is at least as low.
    """
    rng = np.random.default_rng(1)
    W0 = X[rng.choice(X.shape[0], K, replace=False)]
    W0 = W0 / np.linalg.norm(W0, axis=1, keepdims=True)
    with warnings.catch_warnings():
        # scikit-learn's coordinate descent may not reach its own tolerance in time.
        warnings.simplefilter("ignore", ConvergenceWarning)
        # dict_init is only used together with code_init (otherwise an SVD start is used).
        code, dictionary, _ = dict_learning(
            X,
            K,
            alpha=ALPHA,
            max_iter=n_iter,
            tol=0,
            method="cd",
            dict_init=W0.copy(),
            code_init=np.zeros((X.shape[0], K)),
            random_state=0,
        )
    theirs = solvers.objective(X, code, dictionary, ALPHA)
    result = solvers.fit(X, K, alpha=ALPHA, init=W0, max_iter=n_iter, tol=0.0)
    ours = solvers.objective(X, result.codes, result.dictionary, ALPHA)
    assert result.n_iter == n_iter
    assert ours <= theirs * (1 + 1e-9)
    if n_iter > 1:
        # The same minimum, not merely a lower one: the dictionaries match up to atom order.
        match = np.abs(result.dictionary @ dictionary.T).max(axis=1)
        np.testing.assert_allclose(match, 1.0, atol=1e-3)


def test_cancel_stops_cleanly(X):
    seen = []

    def callback(progress: solvers.Progress) -> bool:
        seen.append(progress)
        return progress.iteration < 3

    result = solvers.fit(X, K, alpha=ALPHA, max_iter=50, tol=0.0, callback=callback)
    assert result.stop_reason == "cancelled"
    assert result.n_iter == 3 and len(result.history) == 3 and len(seen) == 3
    assert seen == result.history
    assert result.codes.shape == (X.shape[0], K) and result.dictionary.shape == (K, X.shape[1])
    # None (or anything but False) does not cancel.
    result = solvers.fit(X, K, alpha=ALPHA, max_iter=3, tol=0.0, callback=lambda p: None)
    assert result.stop_reason == "max_iter"


def test_checkpoint_resume_gives_the_uninterrupted_answer(X, tmp_path):
    options = dict(alpha=ALPHA, max_iter=8, tol=0.0, random_state=7)
    full = solvers.fit(X, K, **options)
    path = tmp_path / "fit.npz"
    first = solvers.fit(X, K, checkpoint=path, callback=lambda p: p.iteration < 3, **options)
    assert first.stop_reason == "cancelled" and first.n_iter == 3
    assert path.exists()
    resumed = solvers.fit(X, K, checkpoint=path, **options)
    assert resumed.stop_reason == "max_iter" and resumed.n_iter == 8
    np.testing.assert_allclose(resumed.dictionary, full.dictionary, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(resumed.codes, full.codes, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(objectives(resumed), objectives(full), rtol=1e-10)
    assert [r.iteration for r in resumed.history] == list(range(1, 9))
    # A checkpoint of another problem is refused, with the reason.
    with pytest.raises(solvers.InvalidInputError, match="another fit"):
        solvers.fit(X[:, :-1], K, checkpoint=path, **options)


def test_same_random_state_gives_identical_results(X):
    a = solvers.fit(X, K, alpha=ALPHA, max_iter=5, random_state=11)
    b = solvers.fit(X, K, alpha=ALPHA, max_iter=5, random_state=11)
    np.testing.assert_array_equal(a.dictionary, b.dictionary)
    np.testing.assert_array_equal(a.codes, b.codes)
    c = solvers.fit(X, K, alpha=ALPHA, max_iter=5, random_state=12)
    assert not np.array_equal(a.dictionary, c.dictionary)


def test_float32_end_to_end(X, primal_dual_gaps):
    X32 = X.astype(np.float32)
    result = solvers.fit(X32, K, alpha=ALPHA, max_iter=10, random_state=0)
    assert result.dictionary.dtype == np.float32 and result.codes.dtype == np.float32
    assert all(r.max_gap <= 1e-6 for r in result.history)  # the float32 default code_tol
    values = objectives(result)
    assert_monotone(values, slack=1e-6)
    # Same run forced to float32 from float64 data; and close to the float64 run.
    forced = solvers.fit(X, K, alpha=ALPHA, max_iter=10, random_state=0, dtype="float32")
    np.testing.assert_array_equal(forced.dictionary, result.dictionary)
    double = solvers.fit(X, K, alpha=ALPHA, max_iter=10, random_state=0)
    assert values[-1] == pytest.approx(objectives(double)[-1], rel=1e-4)
    # The codes of the final dictionary are certified at 1e-6, recomputed in float64.
    codes = solvers.encode(X32, result.dictionary, alpha=ALPHA)
    W64 = result.dictionary.astype(np.float64)
    X64 = X32.astype(np.float64)
    gaps = primal_dual_gaps(X64, codes.astype(np.float64), W64, ALPHA)
    assert np.all(gaps <= 1.5e-6 * np.sum(X64 * X64, axis=1))


def test_weight_decay_variant(X):
    lam = 0.5
    result = solvers.fit(X, K, alpha=ALPHA, max_iter=15, tol=0.0, dictionary_penalty=lam)
    values = objectives(result)
    assert_monotone(values)
    # Atoms are no longer held in the unit ball, and the penalty is part of the objective.
    assert np.linalg.norm(result.dictionary, axis=1).max() > 1
    assert values[-1] == pytest.approx(
        solvers.objective(X, result.codes, result.dictionary, ALPHA, lam), rel=1e-10
    )
    # The dictionary is the exact ridge answer for the final codes.
    H = result.codes
    expected = np.linalg.solve(H.T @ H + lam * np.eye(K), H.T @ X)
    np.testing.assert_allclose(result.dictionary, expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 23])
def test_reseeding_under_weight_decay_never_raises_the_objective(X, seed):
    """A dead atom is zero under weight decay; a unit-norm replacement added ½λ to J (seed 23
    rose by 0.2 % at iteration 14). Replacements are scaled, or left out, so that J falls."""
    result = solvers.fit(
        X, K, alpha=ALPHA, max_iter=15, tol=0.0, dictionary_penalty=0.5, random_state=seed
    )
    assert_monotone(objectives(result))


def test_stop_reasons(X):
    loose = solvers.fit(X, K, alpha=ALPHA, max_iter=200, tol=1e-2, random_state=0)
    assert loose.stop_reason == "converged" and loose.n_iter < 200
    values = objectives(loose)
    assert (values[-2] - values[-1]) / values[-2] < 1e-2
    capped = solvers.fit(X, K, alpha=ALPHA, max_iter=2, tol=0.0, random_state=0)
    assert capped.stop_reason == "max_iter" and capped.n_iter == 2
    timed = solvers.fit(X, K, alpha=ALPHA, max_iter=1000, tol=0.0, time_limit=1e-9)
    assert timed.stop_reason == "time_limit" and timed.n_iter == 1
    assert timed.codes is not None and np.all(np.isfinite(timed.dictionary))
    assert all(np.diff([r.elapsed_s for r in loose.history]) >= 0)


def test_max_iter_stop_emits_no_warnings(X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = solvers.fit(
            X, K, alpha=ALPHA, max_iter=2, tol=0.0, code_max_iter=1, code_tol=1e-15
        )
    assert caught == []
    assert result.stop_reason == "max_iter"
    assert result.history[-1].max_gap > 1e-15  # the code step was cut short, silently


def test_data_init_draws_normalised_rows(X):
    n = X.shape[0]
    rows = np.random.default_rng(0).choice(n, K, replace=False)
    expected = X[rows] / np.linalg.norm(X[rows], axis=1, keepdims=True)
    W0 = initial_dictionary(X, K, "data", np.random.default_rng(0))
    np.testing.assert_allclose(W0, expected, rtol=1e-14)
    # Through the public API: init="data" with random_state=0 is init=expected.
    a = solvers.fit(X, K, alpha=ALPHA, max_iter=3, random_state=0)
    b = solvers.fit(X, K, alpha=ALPHA, max_iter=3, init=expected)
    np.testing.assert_allclose(a.dictionary, b.dictionary, rtol=1e-12, atol=1e-14)


def test_array_init_is_used_and_projected(X):
    rng = np.random.default_rng(3)
    W0 = 5.0 * rng.standard_normal((K, X.shape[1]))
    projected = W0 / np.linalg.norm(W0, axis=1, keepdims=True)
    np.testing.assert_allclose(
        initial_dictionary(X, K, W0, np.random.default_rng(0)), projected, rtol=1e-14
    )
    a = solvers.fit(X, K, alpha=ALPHA, max_iter=2, init=W0)
    b = solvers.fit(X, K, alpha=ALPHA, max_iter=2, init=projected)
    np.testing.assert_allclose(a.dictionary, b.dictionary, rtol=1e-12, atol=1e-14)
    # The first code step ran on W0: its codes are the lasso codes of X on W0.
    one = solvers.fit(X, K, alpha=ALPHA, max_iter=1, init=projected, code_tol=1e-14)
    codes = solve_codes(NUMPY, X, projected, ALPHA, tol=1e-14, max_iter=100_000).codes
    np.testing.assert_allclose(one.codes, codes, rtol=1e-8, atol=1e-10)


def test_svd_init_spans_the_top_singular_subspace(X):
    W0 = initial_dictionary(X, K, "svd", np.random.default_rng(0))
    assert W0.shape == (K, X.shape[1])
    np.testing.assert_allclose(np.linalg.norm(W0, axis=1), 1.0, rtol=1e-12)
    Vt = np.linalg.svd(X, full_matrices=False)[2][:K]
    # Same subspace: projecting W0 on the span of the top right singular vectors keeps it.
    np.testing.assert_allclose(W0 @ Vt.T @ Vt, W0, atol=1e-8)
    a = solvers.fit(X, K, alpha=ALPHA, max_iter=5, init="svd", random_state=0)
    b = solvers.fit(X, K, alpha=ALPHA, max_iter=5, init="svd", random_state=0)
    np.testing.assert_array_equal(a.dictionary, b.dictionary)
    assert_monotone(objectives(a))


def test_more_components_than_samples(make_data):
    """It runs, with a warning that names the consequence (the fit can memorise the data)."""
    X, _ = make_data(seed=4, n=6, p=10, k=3)
    with pytest.warns(solvers.FitWarning, match="n_components=15 is not smaller than n_samples=6"):
        result = solvers.fit(X, 15, alpha=0.1, max_iter=10, tol=0.0, random_state=0)
    assert result.dictionary.shape == (15, 10) and result.codes.shape == (6, 15)
    assert np.all(np.isfinite(result.dictionary)) and np.all(np.isfinite(result.codes))
    assert np.all(np.linalg.norm(result.dictionary, axis=1) <= 1 + 1e-12)
    assert np.all(np.linalg.norm(result.dictionary, axis=1) > 0.5)  # no empty atoms
    assert_monotone(objectives(result))


def test_integer_and_memory_mapped_data(X, tmp_path):
    ints = np.round(10 * X).astype(np.int32)
    result = solvers.fit(ints, K, alpha=ALPHA, max_iter=3, random_state=0)
    assert result.dictionary.dtype == np.float64
    as_float = solvers.fit(ints.astype(np.float64), K, alpha=ALPHA, max_iter=3, random_state=0)
    np.testing.assert_array_equal(result.dictionary, as_float.dictionary)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert isinstance(mapped, np.memmap)
    for mode in ("batch", "online"):
        options = dict(alpha=ALPHA, max_iter=3, random_state=0, mode=mode, batch_size=32)
        from_map = solvers.fit(mapped, K, **options)
        in_memory = solvers.fit(X, K, **options)
        np.testing.assert_array_equal(from_map.dictionary, in_memory.dictionary)
        np.testing.assert_array_equal(from_map.codes, in_memory.codes)


def test_return_codes_false(X):
    result = solvers.fit(X, K, alpha=ALPHA, max_iter=2, return_codes=False)
    assert result.codes is None and result.dictionary.shape == (K, X.shape[1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_fit_on_backend(backend, X, dtype):
    """The GPU path end to end (FISTA codes, device W step): descent, host arrays, dtype."""
    result = solvers.fit(
        X.astype(dtype),
        K,
        alpha=ALPHA,
        backend=backend.name,
        code_solver="fista",
        max_iter=10,
        tol=0.0,
        random_state=0,
    )
    assert result.backend == backend.name
    assert type(result.dictionary) is np.ndarray and result.dictionary.dtype == dtype
    assert type(result.codes) is np.ndarray and result.codes.dtype == dtype
    values = objectives(result)
    # FISTA stops anywhere under its gap tolerance, so allow rises of that size.
    assert_monotone(values, slack=1e-9 if dtype == np.float64 else 1e-5)
    assert values[-1] < values[0]
    reference = solvers.fit(X.astype(dtype), K, alpha=ALPHA, max_iter=10, tol=0.0, random_state=0)
    assert values[-1] == pytest.approx(objectives(reference)[-1], rel=1e-3)


def test_tol_zero_never_stops_on_convergence():
    # Once converged, rounding makes the objective tick up and down by ~1e-16; with tol = 0 the
    # fit must still run to max_iter (a user asking for N iterations gets N).
    X = np.random.default_rng(5).standard_normal((60, 6))
    result = solvers.fit(X, 3, alpha=0.5, max_iter=300, tol=0.0, random_state=0)
    assert result.stop_reason == "max_iter" and result.n_iter == 300


def test_the_reported_objective_is_that_of_the_returned_dictionary_and_codes(X):
    result = solvers.fit(X, K, alpha=ALPHA, max_iter=4, tol=0.0, random_state=0)
    true = solvers.objective(X, result.codes, result.dictionary, ALPHA)
    assert result.objective == pytest.approx(true, rel=1e-9)
    assert not any(record.estimate for record in result.history)
    # the last record is the same objective, computed from the statistics A and B
    assert result.history[-1].objective == pytest.approx(true, rel=1e-9)
