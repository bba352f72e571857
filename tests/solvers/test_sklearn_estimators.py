"""The scikit-learn drop-ins (`solvers.sklearn_estimators`): scikit-learn's estimator checks,
and the behaviours its dictionary-learning tests hold its own estimators to, written here for
these: shapes, reconstruction, transform algorithms, sign splitting, initialisation, partial
fits, feature names, convergence warnings, dtypes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.decomposition import sparse_encode
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_transformer_data_not_an_array,
    check_transformer_general,
    check_transformers_unfitted,
    parametrize_with_checks,
)

import solvers
from solvers.estimator import SparseDictionaryLearning
from solvers.sklearn_estimators import (
    DictionaryLearning,
    MiniBatchDictionaryLearning,
    SparseCoder,
)

N_SAMPLES, N_FEATURES = 10, 8
X = np.random.RandomState(0).randn(N_SAMPLES, N_FEATURES)


def _unit_atoms(k: int, seed: int = 0) -> np.ndarray:
    V = np.random.RandomState(seed).randn(k, N_FEATURES)
    return V / np.linalg.norm(V, axis=1, keepdims=True)


@parametrize_with_checks(
    [
        # scikit-learn checks its own DictionaryLearning with a lasso transform too: fit_transform
        # returns the fit's lasso codes, which OMP (the default transform) would not reproduce
        DictionaryLearning(3, max_iter=5, transform_algorithm="lasso_lars", random_state=0),
        MiniBatchDictionaryLearning(3, max_iter=5, batch_size=4, random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_sparse_coder_passes_the_transformer_checks():
    """The checks scikit-learn runs on its own SparseCoder (the full suite feeds data of any
    width, which a fixed dictionary refuses)."""
    coder = SparseCoder(np.random.RandomState(777).rand(40, 3))
    name = type(coder).__name__
    check_transformer_data_not_an_array(name, coder)
    check_transformer_general(name, coder)
    check_transformer_general(name, coder, readonly_memmap=True)
    check_transformers_unfitted(name, coder)


@pytest.mark.parametrize("n_components", [1, 5, 12])
def test_shapes(n_components):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", solvers.FitWarning)  # 12 atoms for 10 samples
        batch = DictionaryLearning(n_components, random_state=0).fit(X)
        online = MiniBatchDictionaryLearning(n_components, batch_size=4, max_iter=5).fit(X)
    for model in (batch, online):
        assert model.components_.shape == (n_components, N_FEATURES)
        assert model.transform(X).shape == (N_SAMPLES, n_components)


def test_reconstruction_omp_then_lasso_lars():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", solvers.FitWarning)
        model = DictionaryLearning(
            12, transform_algorithm="omp", transform_alpha=0.001, random_state=0
        ).fit(X)
    code = model.transform(X)
    np.testing.assert_array_almost_equal(code @ model.components_, X)
    np.testing.assert_array_almost_equal(model.inverse_transform(code), X)
    model.set_params(transform_algorithm="lasso_lars")
    code = model.transform(X)
    np.testing.assert_array_almost_equal(model.inverse_transform(code), X, decimal=2)
    with pytest.raises(ValueError, match=r"Expected 12, got 11\."):
        model.inverse_transform(code[:, :-1])


@pytest.mark.parametrize("algorithm", ["lars", "omp"])
def test_nonzero_coefs(algorithm):
    model = DictionaryLearning(
        4, transform_algorithm=algorithm, transform_n_nonzero_coefs=3, random_state=0
    ).fit(X)
    assert np.count_nonzero(model.transform(X[1:2])) == 3


def test_split_sign_halves_recombine():
    model = DictionaryLearning(5, transform_algorithm="threshold", random_state=0).fit(X)
    code = model.transform(X)
    model.split_sign = True
    split = model.transform(X)
    assert split.shape == (N_SAMPLES, 10) and np.all(split >= 0)
    np.testing.assert_array_almost_equal(split[:, :5] - split[:, 5:], code)
    np.testing.assert_array_almost_equal(model.inverse_transform(split), code @ model.components_)


@pytest.mark.parametrize("algorithm", ["lasso_lars", "lasso_cd", "threshold"])
@pytest.mark.parametrize("positive", [False, True])
def test_transform_algorithms_agree_with_sklearn_sparse_encode(algorithm, positive):
    """The same codes as scikit-learn's; for positive codes, whose LassoLars can stop off the
    solution, against its coordinate descent."""
    W = _unit_atoms(6, seed=1)
    coder = SparseCoder(
        W, transform_algorithm=algorithm, transform_alpha=0.1, positive_code=positive
    )
    ours = coder.transform(X)
    reference = "lasso_cd" if positive and algorithm == "lasso_lars" else algorithm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = sparse_encode(
            X, W, algorithm=reference, alpha=0.1, positive=positive, max_iter=10**5
        )
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    if positive:
        assert np.all(ours >= 0)


@pytest.mark.parametrize("algorithm", ["omp", "lars"])
def test_positive_codes_are_refused_where_the_algorithm_has_none(algorithm):
    coder = SparseCoder(_unit_atoms(4), transform_algorithm=algorithm, positive_code=True)
    with pytest.raises(ValueError, match="Positive constraint not supported"):
        coder.transform(X)


def test_max_iter_zero_keeps_the_given_dictionary_exactly():
    V = np.random.RandomState(0).randn(12, N_FEATURES)  # not on the unit ball: kept as given
    for model in (
        MiniBatchDictionaryLearning(12, batch_size=4, max_iter=0, dict_init=V),
        DictionaryLearning(12, max_iter=0, dict_init=V),
    ):
        np.testing.assert_array_equal(model.fit(X).components_, V)


def test_code_init_gives_the_first_dictionary_step():
    """scikit-learn's loop updates the dictionary before the codes, so a code_init changes the
    first dictionary and hence the fit."""
    V = _unit_atoms(4, seed=2)
    H = np.random.RandomState(3).randn(N_SAMPLES, 4)
    plain = DictionaryLearning(4, dict_init=V, max_iter=1, random_state=0).fit(X)
    from_codes = DictionaryLearning(4, dict_init=V, code_init=H, max_iter=1, random_state=0)
    from_codes.fit(X)
    assert not np.allclose(plain.components_, from_codes.components_)
    with pytest.raises(ValueError, match="code_init has shape"):
        DictionaryLearning(4, code_init=H[:, :3]).fit(X)


def test_partial_fit_counts_steps_and_ignores_max_iter():
    V = _unit_atoms(12)
    model = MiniBatchDictionaryLearning(12, alpha=1, dict_init=V, max_iter=3, random_state=0)
    for _ in range(10):
        for sample in X:
            model.partial_fit(sample[np.newaxis, :])
    assert model.n_steps_ == 100
    assert model.components_.shape == (12, N_FEATURES)
    assert np.all(np.linalg.norm(model.components_, axis=1) <= 1 + 1e-12)
    assert not np.all(sparse_encode(X, model.components_, alpha=1) == 0)


def test_sparse_coder_fit_clone_and_errors():
    V = _unit_atoms(12)
    coder = SparseCoder(V, transform_algorithm="lasso_lars", transform_alpha=0.001)
    code = coder.fit_transform(X)
    assert coder.n_features_in_ == N_FEATURES and coder.n_components_ == 12
    assert np.sqrt(np.sum((code @ V - X) ** 2)) < 0.1
    np.testing.assert_allclose(coder.inverse_transform(code), code @ V)
    cloned = clone(coder)
    assert cloned.dictionary is not coder.dictionary
    np.testing.assert_allclose(cloned.transform(X), coder.transform(X))
    with pytest.raises(ValueError, match="Dictionary and X have different numbers of features"):
        SparseCoder(V).fit(np.ones((3, N_FEATURES + 1)))


@pytest.mark.parametrize(
    "estimator",
    [
        SparseCoder(np.random.RandomState(1).uniform(size=(N_FEATURES, N_FEATURES))),
        DictionaryLearning(),
        MiniBatchDictionaryLearning(batch_size=4, max_iter=10),
        SparseDictionaryLearning(max_iter=5),
    ],
    ids=lambda e: type(e).__name__,
)
def test_feature_names_and_pandas_output(estimator):
    pd = pytest.importorskip("pandas")
    estimator = clone(estimator).fit(X)
    name = type(estimator).__name__.lower()
    expected = [f"{name}{i}" for i in range(N_FEATURES)]
    np.testing.assert_array_equal(estimator.get_feature_names_out(), expected)
    with config_context(transform_output="pandas"):
        frame = estimator.transform(X)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == expected


def _ricker_dictionary() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's test_max_iter problem: a multi-width Ricker wavelet dictionary (84 atoms
    of 256 samples) and a step signal."""
    resolution, n_components = 256, 256 // 3
    x = np.linspace(0, resolution - 1, resolution)
    atoms = []
    for width in (10, 50, 100, 500):
        for centre in np.linspace(0, resolution - 1, n_components // 5):
            atom = (1 - (x - centre) ** 2 / width**2) * np.exp(
                -((x - centre) ** 2) / (2 * width**2)
            )
            atoms.append(atom / np.linalg.norm(atom))
    signal = np.where(x < resolution / 4, 3.0, -1.0).reshape(1, -1)
    return np.array(atoms), signal


def test_one_convergence_warning_per_call_when_codes_stop_short():
    D, signal = _ricker_dictionary()
    many = np.repeat(signal, 50, axis=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SparseCoder(D, transform_algorithm="lasso_cd", transform_max_iter=1).fit_transform(many)
    found = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(found) == 1 and issubclass(found[0].category, solvers.ConvergenceWarning)
    assert "50 of 50 rows" in str(found[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SparseCoder(D, transform_algorithm="lasso_cd", transform_max_iter=500).fit_transform(signal)


@pytest.mark.parametrize("algorithm", ["lasso_cd", "lasso_lars", "omp", "threshold"])
def test_float32_codes_match_float64_to_1e4(algorithm):
    W = _unit_atoms(6, seed=4)
    coder = SparseCoder(W, transform_algorithm=algorithm, transform_alpha=0.05)
    code64 = coder.transform(X)
    code32 = coder.transform(X.astype(np.float32))
    assert code32.dtype == np.float32
    np.testing.assert_allclose(code32, code64, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("model_class", [DictionaryLearning, MiniBatchDictionaryLearning])
def test_float32_fits_stay_float32(model_class):
    model = model_class(4, max_iter=5, random_state=0, transform_algorithm="lasso_cd")
    codes = model.fit(X.astype(np.float32)).transform(X.astype(np.float32))
    assert model.components_.dtype == np.float32 and codes.dtype == np.float32


def test_fit_algorithm_is_checked_and_callbacks_see_progress():
    with pytest.raises(ValueError, match="fit_algorithm"):
        DictionaryLearning(3, fit_algorithm="sgd").fit(X)
    seen: list[solvers.Progress] = []
    DictionaryLearning(3, max_iter=4, tol=0, callback=seen.append, random_state=0).fit(X)
    assert [p.iteration for p in seen] == [1, 2, 3, 4]
    ours: list[solvers.Progress] = []
    SparseDictionaryLearning(3, max_iter=3, tol=0, mode="batch", callback=ours.append).fit(X)
    assert len(ours) == 3


def test_our_estimator_inverts_its_codes():
    model = SparseDictionaryLearning(4, alpha=0.1, max_iter=10, random_state=0).fit(X)
    codes = model.transform(X)
    np.testing.assert_allclose(model.inverse_transform(codes), codes @ model.components_)
