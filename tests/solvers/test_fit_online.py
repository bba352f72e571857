"""Online dictionary learning (Mairal et al. 2009): progress, averaging, resume, weight decay."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import solvers
from solvers.certificates import lasso_gaps
from solvers.checkpoint import load_checkpoint
from solvers.online import statistics_memory

ALPHA = 0.3
K = 10
BATCH = 16


@pytest.fixture(scope="module")
def X(make_data):
    return make_data(seed=0, n=200, p=20, k=K)[0]


@pytest.fixture(scope="module")
def batch_objective(X):
    result = solvers.fit(X, K, alpha=ALPHA, max_iter=100, random_state=0)
    return solvers.objective(X, result.codes, result.dictionary, ALPHA)


def epoch_means(result: solvers.FitResult) -> np.ndarray:
    """Mean of the reported mini-batch objectives over each epoch."""
    epochs = np.array([math.ceil(r.epoch - 1e-9) for r in result.history])
    values = np.array([r.objective for r in result.history])
    return np.array([values[epochs == e].mean() for e in np.unique(epochs)])


def test_online_descends_to_near_the_batch_objective(X, batch_objective):
    result = solvers.fit(
        X, K, alpha=ALPHA, mode="online", batch_size=BATCH, max_iter=20, tol=0.0, random_state=0
    )
    per_epoch = math.ceil(X.shape[0] / BATCH)
    assert result.stop_reason == "max_iter"
    assert result.n_iter == 20 * per_epoch
    assert result.history[-1].epoch == pytest.approx(20.0)
    final = solvers.objective(X, result.codes, result.dictionary, ALPHA)
    assert final <= batch_objective * 1.01
    # The mini-batch objectives fall: the last epoch is well under the first.
    means = epoch_means(result)
    assert means[-1] < 0.9 * means[0]
    assert np.all(np.linalg.norm(result.dictionary, axis=1) <= 1 + 1e-12)
    # The returned codes are the lasso codes on the returned dictionary (warm-started from the
    # latest codes, so equal to a cold encode's to the certified tolerance, not to the bit).
    W = result.dictionary
    x_sq = np.einsum("ij,ij->i", X, X)
    gaps, _ = lasso_gaps(W @ W.T, X @ W.T, x_sq, result.codes, ALPHA, False)
    assert np.all(gaps <= 1e-10 * x_sq + 1e-15)
    codes = solvers.encode(X, W, alpha=ALPHA)
    cold = solvers.objective(X, codes, W, ALPHA)
    assert final == pytest.approx(cold, rel=1e-9)
    np.testing.assert_allclose(result.codes, codes, atol=1e-4)


def test_averaging(X, batch_objective):
    options = dict(alpha=ALPHA, mode="online", batch_size=BATCH, max_iter=20, random_state=0)
    last = solvers.fit(X, K, **options)
    # γ = 1: the average is the last iterate, exactly.
    one = solvers.fit(X, K, averaging=1.0, **options)
    np.testing.assert_array_equal(one.dictionary, last.dictionary)
    averaged = solvers.fit(X, K, averaging=0.2, **options)
    assert not np.allclose(averaged.dictionary, last.dictionary)
    # A convex combination of feasible dictionaries is feasible, and it is a good dictionary.
    assert np.all(np.linalg.norm(averaged.dictionary, axis=1) <= 1 + 1e-12)
    final = solvers.objective(X, averaged.codes, averaged.dictionary, ALPHA)
    assert final <= batch_objective * 1.02


def test_same_random_state_gives_identical_results(X):
    options = dict(alpha=ALPHA, mode="online", batch_size=BATCH, max_iter=2)
    a = solvers.fit(X, K, random_state=5, **options)
    b = solvers.fit(X, K, random_state=5, **options)
    np.testing.assert_array_equal(a.dictionary, b.dictionary)
    np.testing.assert_array_equal(a.codes, b.codes)
    assert [r.objective for r in a.history] == [r.objective for r in b.history]
    c = solvers.fit(X, K, random_state=6, **options)
    assert not np.array_equal(a.dictionary, c.dictionary)


@pytest.mark.parametrize("stop_at", ["mid_epoch", "end_of_epoch"])
def test_checkpoint_resume_gives_the_uninterrupted_answer(X, tmp_path, stop_at):
    options = dict(
        alpha=ALPHA, mode="online", batch_size=BATCH, max_iter=30, tol=2e-2, random_state=3
    )
    full = solvers.fit(X, K, **options)
    per_epoch = math.ceil(X.shape[0] / BATCH)
    epochs = full.n_iter // per_epoch
    # The loose tol makes the uninterrupted fit converge after a few epochs; cancelling at the
    # end of the epoch before also checks that the resumed fit measures that epoch's change
    # from the right reference.
    assert full.stop_reason == "converged" and 3 <= epochs < 30
    cancel_after = (epochs - 1) * per_epoch
    if stop_at == "mid_epoch":
        cancel_after -= per_epoch // 2
    path = tmp_path / "online.npz"
    first = solvers.fit(
        X, K, checkpoint=path, callback=lambda p: p.iteration < cancel_after, **options
    )
    assert first.stop_reason == "cancelled" and first.n_iter == cancel_after
    resumed = solvers.fit(X, K, checkpoint=path, **options)
    assert resumed.stop_reason == full.stop_reason
    assert resumed.n_iter == full.n_iter
    np.testing.assert_allclose(resumed.dictionary, full.dictionary, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(resumed.codes, full.codes, rtol=1e-10, atol=1e-12)
    assert [r.iteration for r in resumed.history] == [r.iteration for r in full.history]
    np.testing.assert_allclose(
        [r.objective for r in resumed.history], [r.objective for r in full.history], rtol=1e-10
    )
    # A batch fit does not resume from an online checkpoint.
    with pytest.raises(solvers.InvalidInputError, match="another fit"):
        solvers.fit(X, K, checkpoint=path, **{**options, "mode": "batch"})


def test_exact_statistics_take_over_once_the_memory_reaches_half_the_data(X, tmp_path):
    """The running statistics fade until their memory (`statistics_memory`) reaches half the
    data set; from then on they are exact sums over every sample's latest codes. After epochs of
    incremental replacements those sums must still equal the batch statistics of the stored
    codes, and a fit cancelled just before the switch must resume to the uninterrupted answer."""
    n = X.shape[0]
    per_epoch = math.ceil(n / BATCH)
    switch_batch = next(t for t in range(10**6) if statistics_memory(t * BATCH, BATCH, K) >= n / 2)
    epochs = switch_batch // per_epoch + 3  # every sample is replaced twice after the switch
    options = dict(
        alpha=ALPHA, mode="online", batch_size=BATCH, max_iter=epochs, tol=0.0, random_state=0
    )
    full_path = tmp_path / "full.npz"
    full = solvers.fit(X, K, checkpoint=full_path, **options)
    arrays, _ = load_checkpoint(full_path)
    codes = arrays["codes"].astype(np.float64)
    np.testing.assert_allclose(arrays["sum_A"], codes.T @ codes, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(arrays["sum_B"], codes.T @ X, rtol=1e-9, atol=1e-9)

    path = tmp_path / "cut.npz"
    cancel_at = switch_batch - 2
    first = solvers.fit(
        X, K, checkpoint=path, callback=lambda p: p.iteration < cancel_at, **options
    )
    assert first.stop_reason == "cancelled" and first.n_iter == cancel_at
    assert "sum_A" not in load_checkpoint(path)[0]
    resumed = solvers.fit(X, K, checkpoint=path, **options)
    assert resumed.n_iter == full.n_iter
    np.testing.assert_allclose(resumed.dictionary, full.dictionary, rtol=1e-10, atol=1e-12)


def test_stop_reasons(X):
    options = dict(alpha=ALPHA, mode="online", batch_size=BATCH, random_state=0)
    timed = solvers.fit(X, K, max_iter=50, tol=0.0, time_limit=1e-9, **options)
    assert timed.stop_reason == "time_limit" and timed.n_iter == 1
    assert timed.codes.shape == (X.shape[0], K)
    cancelled = solvers.fit(X, K, max_iter=50, callback=lambda p: False, **options)
    assert cancelled.stop_reason == "cancelled" and cancelled.n_iter == 1
    capped = solvers.fit(X, K, max_iter=1, tol=0.0, **options)
    assert capped.stop_reason == "max_iter"
    assert capped.n_iter == math.ceil(X.shape[0] / BATCH)


def test_weight_decay_matches_batch(X):
    """With ½λ‖W‖² the online statistics must carry the same penalty as the batch problem:
    the atoms settle at the batch fit's scale instead of growing with the number of epochs."""
    lam = 5.0
    batch = solvers.fit(X, K, alpha=ALPHA, max_iter=100, dictionary_penalty=lam, random_state=0)
    online = solvers.fit(
        X,
        K,
        alpha=ALPHA,
        mode="online",
        batch_size=BATCH,
        max_iter=20,
        dictionary_penalty=lam,
        random_state=0,
    )
    batch_value = solvers.objective(X, batch.codes, batch.dictionary, ALPHA, lam)
    online_value = solvers.objective(X, online.codes, online.dictionary, ALPHA, lam)
    assert online_value <= batch_value * 1.05
    assert np.linalg.norm(batch.dictionary, axis=1).max() > 1
    np.testing.assert_allclose(
        np.linalg.norm(online.dictionary), np.linalg.norm(batch.dictionary), rtol=0.15
    )


def test_online_fit_on_backend(backend, X):
    result = solvers.fit(
        X.astype(np.float32),
        K,
        alpha=ALPHA,
        backend=backend.name,
        code_solver="fista",
        mode="online",
        batch_size=BATCH,
        max_iter=5,
        tol=0.0,
        random_state=0,
    )
    assert result.backend == backend.name
    assert type(result.dictionary) is np.ndarray and result.dictionary.dtype == np.float32
    assert type(result.codes) is np.ndarray and result.codes.dtype == np.float32
    means = epoch_means(result)
    assert means[-1] < means[0]
    assert np.all(np.linalg.norm(result.dictionary.astype(np.float64), axis=1) <= 1 + 1e-6)


@pytest.mark.parametrize("penalty", [None, 2.0])
def test_the_reported_objective_is_the_true_one_not_the_running_estimate(X, penalty):
    """`FitResult.objective` is J / n_samples of the returned dictionary and codes, whatever the
    mode; the history's online records are estimates and say so."""
    result = solvers.fit(
        X, K, alpha=ALPHA, mode="online", batch_size=BATCH, max_iter=3, random_state=0,
        dictionary_penalty=penalty,
    )  # fmt: skip
    true = solvers.objective(X, result.codes, result.dictionary, ALPHA, penalty)
    assert result.objective == pytest.approx(true, rel=1e-9)
    assert all(record.estimate for record in result.history)
    assert result.history[-1].objective != pytest.approx(true, rel=1e-6)  # a different number
    # Without codes returned, the objective is still that of the codes `encode` gives.
    bare = solvers.fit(
        X, K, alpha=ALPHA, mode="online", batch_size=BATCH, max_iter=3, random_state=0,
        dictionary_penalty=penalty, return_codes=False,
    )  # fmt: skip
    assert bare.codes is None
    codes = solvers.encode(X, bare.dictionary, alpha=ALPHA)
    expected = solvers.objective(X, codes, bare.dictionary, ALPHA, penalty)
    assert bare.objective == pytest.approx(expected, rel=1e-9)


def test_a_resumed_online_fit_labels_its_history_as_estimates(X, tmp_path):
    path = tmp_path / "fit.npz"
    options = dict(alpha=ALPHA, mode="online", batch_size=BATCH, random_state=0)
    solvers.fit(X, K, max_iter=1, checkpoint=path, **options)
    resumed = solvers.fit(X, K, max_iter=2, checkpoint=path, **options)
    assert len(resumed.history) > 10 and all(r.estimate for r in resumed.history)


def _recorded_iterates(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """Every dictionary iterate an online fit computes, in order (its dictionary steps)."""
    import solvers.online

    iterates: list[np.ndarray] = []
    step = solvers.online.update_dictionary

    def recording(*args: Any, **kwargs: Any) -> Any:
        W = step(*args, **kwargs)
        iterates.append(np.array(W))
        return W

    monkeypatch.setattr(solvers.online, "update_dictionary", recording)
    return iterates


def _well_posed(seed: int = 0) -> np.ndarray:
    """800 rows from 6 atoms in 12 dimensions: every atom in use, none re-seeded."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((6, 12))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    return (rng.standard_normal((800, 6)) * (rng.random((800, 6)) < 0.5)) @ D


def test_polyak_burn_in_returns_the_uniform_average_after_it(monkeypatch):
    X = _well_posed()
    iterates = _recorded_iterates(monkeypatch)
    result = solvers.fit(
        X,
        6,
        alpha=0.1,
        mode="online",
        batch_size=200,
        max_iter=3,
        tol=0.0,
        polyak_burn_in=1.5,
        random_state=0,
        return_codes=False,
    )
    assert len(iterates) == 12  # 3 epochs of 4 mini-batches
    # after 1.5 epochs = 6 steps: the average of iterates 7..12
    np.testing.assert_allclose(result.dictionary, np.mean(iterates[6:], axis=0), atol=1e-12)
    assert not np.allclose(result.dictionary, iterates[-1])


def test_exponential_averaging_returns_the_exponential_average(monkeypatch):
    X = _well_posed(1)
    W0 = solvers.fit(
        X,
        6,
        alpha=0.1,
        mode="online",
        batch_size=200,
        max_iter=1,
        tol=0.0,
        random_state=0,
        return_codes=False,
    ).dictionary
    iterates = _recorded_iterates(monkeypatch)
    result = solvers.fit(
        X,
        6,
        init=W0,
        alpha=0.1,
        mode="online",
        batch_size=200,
        max_iter=2,
        tol=0.0,
        averaging=0.3,
        random_state=0,
        return_codes=False,
    )
    average = W0.copy()
    for W in iterates:
        average = 0.7 * average + 0.3 * W
    np.testing.assert_allclose(result.dictionary, average, atol=1e-12)


def test_two_averages_at_once_are_refused():
    with pytest.raises(solvers.InvalidInputError, match="two averages"):
        solvers.fit(_well_posed(), 4, averaging=0.1, polyak_burn_in=1.0)
