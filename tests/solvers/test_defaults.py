"""What the defaults `mode="auto"` and `batch_size=None` choose (solvers.auto), on every surface,
and that options given explicitly are used exactly as given."""

from __future__ import annotations

import numpy as np
import pytest

import solvers
from solvers.auto import GPU_BATCH_SIZE, auto_batch_size, auto_mode, resolve_options
from solvers.estimator import SparseDictionaryLearning


def test_the_declared_defaults_are_the_automatic_ones():
    assert solvers.FitOptions().mode == "auto"
    assert solvers.FitOptions().batch_size is None


@pytest.mark.parametrize(
    ("n", "k", "gpu", "expected"),
    [
        (20000, 128, False, 1024),  # P1: 8 rows per atom
        (20000, 64, False, 512),
        (20000, 16, False, 256),  # at least 256
        (20000, 256, False, 1024),  # at most 1024 ...
        (20000, 2048, False, 2048),  # ... or k, for a large dictionary
        (600, 128, False, 600),  # never more rows than the data has
        (10**6, 512, True, GPU_BATCH_SIZE),  # larger on a GPU
        (10**6, 16384, True, 16384),
        (1, 4, False, 1),
    ],
)
def test_batch_size_rule(n, k, gpu, expected):
    assert auto_batch_size(n, k, gpu) == expected


def test_mode_rule_is_batch_only_when_one_mini_batch_holds_the_data():
    assert auto_mode(1024, 1024) == "batch"
    assert auto_mode(500, 1024) == "batch"
    assert auto_mode(1025, 1024) == "online"


def test_resolve_fills_in_only_what_was_left_to_it():
    chosen = resolve_options(solvers.FitOptions(), 5000, 64, gpu=False)
    assert (chosen.mode, chosen.batch_size) == ("online", 512)
    small = resolve_options(solvers.FitOptions(), 300, 64, gpu=False)
    assert (small.mode, small.batch_size) == ("batch", 300)
    # an explicit batch size decides the mode's rule too
    given = resolve_options(solvers.FitOptions(batch_size=100), 300, 64, gpu=False)
    assert (given.mode, given.batch_size) == ("online", 100)


@pytest.fixture(scope="module")
def X(make_data):
    return make_data(seed=1, n=1500, p=12, k=8)[0]


def test_a_default_fit_runs_online_in_mini_batches_of_the_rule(X):
    result = solvers.fit(X, 8, max_iter=2, random_state=0)
    assert result.options is not None
    assert (result.options.mode, result.options.batch_size) == ("online", 256)
    assert all(record.estimate for record in result.history)  # online records
    # six mini-batches per epoch (5 × 256 + 220 rows), two epochs
    assert result.n_iter == 12


def test_a_small_default_fit_is_a_batch_fit_that_converges(X):
    result = solvers.fit(X[:250], 8, max_iter=1000, random_state=0)
    assert result.options is not None and result.options.mode == "batch"
    assert result.stop_reason == "converged"
    assert not any(record.estimate for record in result.history)


@pytest.mark.parametrize(
    "given",
    [
        {"mode": "batch"},
        {"mode": "online"},
        {"mode": "online", "batch_size": 7},
        {"mode": "batch", "batch_size": 7},
        {"batch_size": 5000},  # more rows than the data: kept, and so batch mode
        {"mode": "online", "batch_size": 5000},
    ],
)
def test_explicit_options_are_never_overridden(X, given):
    result = solvers.fit(X, 8, max_iter=1, random_state=0, **given)
    assert result.options is not None
    for name, value in given.items():
        assert getattr(result.options, name) == value
    if "mode" in given:
        online = given["mode"] == "online"
        assert all(record.estimate == online for record in result.history)


def test_an_explicit_online_fit_of_one_mini_batch_stays_online(X):
    """mode="online" with a batch larger than the data is one mini-batch per epoch, as asked,
    not the batch loop."""
    result = solvers.fit(X, 8, mode="online", batch_size=5000, max_iter=3, random_state=0)
    assert result.n_iter == 3 and all(record.estimate for record in result.history)


def test_the_estimator_and_fit_choose_alike(X):
    """The estimator's defaults are fit's: the same dictionary from the same seed."""
    estimator = SparseDictionaryLearning(8, max_iter=2, random_state=0).fit(X)
    result = solvers.fit(X, 8, max_iter=2, random_state=0, return_codes=False)
    np.testing.assert_array_equal(estimator.components_, result.dictionary)
    assert estimator.n_iter_ == result.n_iter == 12


def test_defaults_are_deterministic_under_random_state(X):
    first = solvers.fit(X, 8, max_iter=2, random_state=3)
    second = solvers.fit(X, 8, max_iter=2, random_state=3)
    np.testing.assert_array_equal(first.dictionary, second.dictionary)
    np.testing.assert_array_equal(first.codes, second.codes)
