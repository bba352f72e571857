"""The scikit-learn estimator: scikit-learn's own checks, and agreement with solvers.fit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import solvers
from solvers.estimator import SparseDictionaryLearning


@parametrize_with_checks([SparseDictionaryLearning(max_iter=5, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_estimator_matches_fit_and_encode():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((120, 10))
    model = SparseDictionaryLearning(n_components=6, alpha=0.3, max_iter=15, random_state=1)
    codes = model.fit_transform(X)
    direct = solvers.fit(X, 6, alpha=0.3, max_iter=15, random_state=1)
    np.testing.assert_allclose(model.components_, direct.dictionary, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(codes, solvers.encode(X, direct.dictionary, alpha=0.3), atol=1e-10)
    assert model.n_iter_ == direct.n_iter
    assert model.stop_reason_ == direct.stop_reason


def test_transform_keeps_float32():
    X = np.random.default_rng(0).standard_normal((60, 8)).astype(np.float32)
    model = SparseDictionaryLearning(n_components=4, max_iter=3, random_state=0).fit(X)
    assert model.transform(X).dtype == np.float32


def test_bad_option_is_a_value_error():
    X = np.random.default_rng(0).standard_normal((20, 4))
    with pytest.raises(ValueError, match="alpha"):
        SparseDictionaryLearning(alpha=-1.0).fit(X)
