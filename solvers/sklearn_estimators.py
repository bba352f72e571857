"""Drop-in replacements for scikit-learn's `DictionaryLearning`, `MiniBatchDictionaryLearning`
and `SparseCoder`: the same names, parameters, defaults and fitted attributes, on this
project's solvers.

    from solvers.sklearn_estimators import DictionaryLearning   # instead of sklearn.decomposition

What differs, and why:

- the lasso of the fit is solved to a certified duality gap (1e-10) whichever `fit_algorithm`
  ("lars" or "cd") is named: both name the same problem, and this project's solver is faster
  and exact, so the parameter is checked but does not change the result;
- `callback(progress)` is called after every iteration (online: every tenth of an epoch) with a
  `solvers.Progress` (scikit-learn passes its loop's `locals()`), and may return False to stop;
- `MiniBatchDictionaryLearning` stops when the dictionary moves by less than `tol` over an epoch
  (relative; `max_no_improvement` is accepted and not used). Shuffled (the default), it is
  `solvers.fit` in online mode; with `shuffle=False` its epochs are the steps `partial_fit`
  takes, in the rows' order. `partial_fit` takes X in mini-batches of `batch_size` rows (one
  step for a piece no larger), so `n_steps_` counts those; `_A`, `_B` are the statistics it
  goes on from;
- `n_jobs` and `verbose` are accepted and not used: the compiled kernels use every core.

Extra keyword parameters: `backend` ("numpy", "cupy" or "auto"), `dtype`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_random_state, validate_data

from .api import encode, fit
from .backends import get_backend
from .batch import batch_dictionary_step
from .init import initial_dictionary
from .options import DEFAULTS
from .result import FitResult
from .sparse_transform import SparseCodingMixin
from .streaming import OnlineModel, partial_fit, start_model
from .validation import validate_dictionary

_FIT_ALGORITHMS = ("lars", "cd")


def _seed(random_state: Any) -> int:
    """An int seed for `solvers.fit` from scikit-learn's random_state (None, int, RandomState)."""
    return int(check_random_state(random_state).randint(2**31 - 1))


def _check_fit_algorithm(name: str) -> None:
    if name not in _FIT_ALGORITHMS:
        raise ValueError(f"fit_algorithm must be 'lars' or 'cd'; got {name!r}")


class _DictionaryLearner(SparseCodingMixin, BaseEstimator):
    """What both learners share: the initial dictionary and the fitted attributes."""

    def _start(self, X: np.ndarray, k: int) -> Any:
        """`init` for solvers.fit: dict_init as given (checked), else the SVD of X."""
        dict_init = self.dict_init
        if dict_init is None:
            return "svd"
        return validate_dictionary(dict_init, X.shape[1], k).astype(np.float64)

    def _initial(self, X: np.ndarray, k: int, seed: int) -> np.ndarray:
        """(k, p) float64: dict_init exactly as given, else the SVD start solvers.fit takes."""
        start = self._start(X, k)
        if not isinstance(start, str):
            return start
        positive = self.positive_dict
        return initial_dictionary(X, k, start, np.random.default_rng(seed), positive)

    def _kept(self, X: np.ndarray, k: int, seed: int) -> np.ndarray:
        """The dictionary of max_iter=0: the initial one, in X's dtype."""
        return self._initial(X, k, seed).astype(X.dtype)

    def _options(self, seed: int) -> dict[str, Any]:
        """The fit options both learners pass the same way (under the library's names)."""
        p: Any = self
        return {
            "alpha": p.alpha,
            "positive_codes": p.positive_code,
            "positive_dictionary": p.positive_dict,
            "random_state": seed,
            "backend": p.backend,
            "dtype": p.dtype,
        }

    def _set_fitted(self, result: FitResult, n_samples: int) -> None:
        self.components_ = result.dictionary
        self.error_ = [r.objective * n_samples for r in result.history]
        self.stop_reason_ = result.stop_reason
        self.history_ = result.history

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class DictionaryLearning(_DictionaryLearner):
    """Batch dictionary learning: scikit-learn's `DictionaryLearning` on this project's solvers
    (see the module docstring for what differs). After `fit`: `components_` (k, p), `error_`
    (the objective ½‖X − HW‖²_F + α‖H‖₁ after each iteration), `n_iter_`, `n_features_in_`.
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        alpha: float = 1,
        max_iter: int = 1000,
        tol: float = 1e-8,
        fit_algorithm: str = "lars",
        transform_algorithm: str = "omp",
        transform_n_nonzero_coefs: int | None = None,
        transform_alpha: float | None = None,
        n_jobs: int | None = None,
        code_init: Any = None,
        dict_init: Any = None,
        callback: Any = None,
        verbose: bool = False,
        split_sign: bool = False,
        random_state: Any = None,
        positive_code: bool = False,
        positive_dict: bool = False,
        transform_max_iter: int = 1000,
        backend: str = "numpy",
        dtype: str | None = None,
    ) -> None:
        self.n_components = n_components
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.fit_algorithm = fit_algorithm
        self.transform_algorithm = transform_algorithm
        self.transform_n_nonzero_coefs = transform_n_nonzero_coefs
        self.transform_alpha = transform_alpha
        self.n_jobs = n_jobs
        self.code_init = code_init
        self.dict_init = dict_init
        self.callback = callback
        self.verbose = verbose
        self.split_sign = split_sign
        self.random_state = random_state
        self.positive_code = positive_code
        self.positive_dict = positive_dict
        self.transform_max_iter = transform_max_iter
        self.backend = backend
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> DictionaryLearning:
        """Learn the dictionary of X (n_samples, n_features)."""
        _check_fit_algorithm(self.fit_algorithm)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        k = self.n_components if self.n_components is not None else X.shape[1]
        seed = _seed(self.random_state)
        if self.max_iter == 0:
            self.components_ = self._kept(X, k, seed)
            self.error_, self.n_iter_, self.stop_reason_, self.history_ = [], 0, "max_iter", []
            return self
        if self.code_init is None:
            start = self._start(X, k)
        else:
            start = self._dictionary_from_codes(X, k, seed)
        result = fit(
            X,
            k,
            init=start,
            mode="batch",
            max_iter=self.max_iter,
            tol=self.tol,
            callback=self.callback,
            return_codes=False,
            **self._options(seed),
        )
        self._set_fitted(result, X.shape[0])
        self.n_iter_ = result.n_iter
        return self

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Learn the dictionary; returns the lasso codes (n_samples, n_components) of X on it
        (whatever `transform_algorithm` says, as scikit-learn's: its loop ends on a code step),
        or with max_iter=0 the given `code_init` (else the transform)."""
        self.fit(X)
        if self.max_iter == 0:
            if self.code_init is not None:
                return np.asarray(self.code_init, dtype=self.components_.dtype)
            return self.transform(X)
        W = self.components_
        return encode(X, W, alpha=self.alpha, backend=self.backend, positive=self.positive_code)

    def _dictionary_from_codes(self, X: np.ndarray, k: int, seed: int) -> np.ndarray:
        """scikit-learn's loop updates the dictionary before the codes: with `code_init`, the
        first dictionary is the batch dictionary step from those codes (from dict_init or the
        SVD)."""
        H = np.asarray(self.code_init, dtype=np.float64)
        if H.shape != (X.shape[0], k):
            raise ValueError(f"code_init has shape {H.shape}; expected {(X.shape[0], k)}")
        A, B = H.T @ H, H.T @ np.asarray(X, dtype=np.float64)
        options = DEFAULTS.replace(positive_dictionary=self.positive_dict)
        W = batch_dictionary_step(get_backend("numpy"), A, B, self._initial(X, k, seed), options)
        return np.asarray(W)


class MiniBatchDictionaryLearning(_DictionaryLearner):
    """Online dictionary learning: scikit-learn's `MiniBatchDictionaryLearning` on this
    project's solvers (see the module docstring for what differs). After `fit` or
    `partial_fit`: `components_`, `n_steps_` (mini-batches), `n_iter_` (epochs, fit only).
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        alpha: float = 1,
        max_iter: int = 1000,
        fit_algorithm: str = "lars",
        n_jobs: int | None = None,
        batch_size: int = 256,
        shuffle: bool = True,
        dict_init: Any = None,
        transform_algorithm: str = "omp",
        transform_n_nonzero_coefs: int | None = None,
        transform_alpha: float | None = None,
        verbose: bool = False,
        split_sign: bool = False,
        random_state: Any = None,
        positive_code: bool = False,
        positive_dict: bool = False,
        transform_max_iter: int = 1000,
        callback: Any = None,
        tol: float = 1e-3,
        max_no_improvement: int | None = 10,
        backend: str = "numpy",
        dtype: str | None = None,
    ) -> None:
        self.n_components = n_components
        self.alpha = alpha
        self.max_iter = max_iter
        self.fit_algorithm = fit_algorithm
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.dict_init = dict_init
        self.transform_algorithm = transform_algorithm
        self.transform_n_nonzero_coefs = transform_n_nonzero_coefs
        self.transform_alpha = transform_alpha
        self.verbose = verbose
        self.split_sign = split_sign
        self.random_state = random_state
        self.positive_code = positive_code
        self.positive_dict = positive_dict
        self.transform_max_iter = transform_max_iter
        self.callback = callback
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.backend = backend
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> MiniBatchDictionaryLearning:
        _check_fit_algorithm(self.fit_algorithm)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        k = self.n_components if self.n_components is not None else X.shape[1]
        seed = _seed(self.random_state)
        self._stream: OnlineModel | None = None
        if self.max_iter == 0:
            self.components_ = self._kept(X, k, seed)
            self.n_steps_ = self.n_iter_ = 0
            self._A = np.zeros((k, k), dtype=X.dtype)
            self._B = np.zeros((k, X.shape[1]), dtype=X.dtype)
            return self
        if not self.shuffle:
            return self._fit_in_order(X, k, seed)
        result = fit(
            X,
            k,
            init=self._start(X, k),
            mode="online",
            batch_size=self.batch_size,
            max_iter=self.max_iter,
            tol=self.tol,
            callback=self.callback,
            **self._options(seed),
        )
        self._set_fitted(result, X.shape[0])
        self.n_steps_ = result.n_iter
        per_epoch = math.ceil(X.shape[0] / min(self.batch_size, X.shape[0]))
        self.n_iter_ = math.ceil(result.n_iter / per_epoch)
        # the statistics a partial_fit goes on from: averages over every sample's final codes
        H = np.asarray(result.codes, dtype=np.float64)
        self._A = (H.T @ H / X.shape[0]).astype(X.dtype)
        self._B = (H.T @ np.asarray(X, dtype=np.float64) / X.shape[0]).astype(X.dtype)
        return self

    def _fit_in_order(self, X: np.ndarray, k: int, seed: int) -> MiniBatchDictionaryLearning:
        """shuffle=False: epochs of mini-batches in the rows' order, each a step of the stream
        (as partial_fit would take them), until the dictionary moves by less than `tol` over
        an epoch (relative) or `max_iter` epochs."""
        stream = self._new_stream(X, k, self._start(X, k), seed)
        epochs = 0
        while epochs < self.max_iter:
            before = stream.dictionary
            partial_fit(X, stream)
            epochs += 1
            after = stream.dictionary
            if np.linalg.norm(after - before) <= self.tol * np.linalg.norm(after):
                break
        self._take(stream)
        self.n_iter_ = epochs
        return self

    def partial_fit(self, X: Any, y: Any = None) -> MiniBatchDictionaryLearning:
        """Learn on from the rows of X (a mini-batch, or several of `batch_size` rows), from
        the dictionary and statistics of the fit or partial fits before."""
        _check_fit_algorithm(self.fit_algorithm)
        first = not hasattr(self, "components_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=first)
        stream = getattr(self, "_stream", None)
        if stream is None:
            k = self.n_components if self.n_components is not None else X.shape[1]
            init = self._start(X, k) if first else self.components_
            stream = self._new_stream(X, k, init, _seed(self.random_state))
            if not first:  # after a fit: its statistics and step count
                stream.state.A = np.asarray(self._A, dtype=np.float64)
                stream.state.B = np.asarray(self._B, dtype=np.float64)
                stream.state.weight = 1.0
                stream.state.batches = self.n_steps_
        partial_fit(X, stream)
        self._take(stream)
        return self

    def _new_stream(self, X: np.ndarray, k: int, init: Any, seed: int) -> OnlineModel:
        return start_model(
            X,
            k,
            init,
            batch_size=self.batch_size,
            **self._options(seed),
        )

    def _take(self, stream: OnlineModel) -> None:
        self._stream = stream
        self.components_ = stream.dictionary
        self.n_steps_ = stream.n_steps
        self._A = np.asarray(stream.state.A).astype(stream.dtype)
        self._B = np.asarray(stream.state.B).astype(stream.dtype)


class SparseCoder(SparseCodingMixin, BaseEstimator):
    """Sparse coding on a fixed dictionary (k, p): scikit-learn's `SparseCoder`, on this
    project's solvers. Stateless: `transform` needs no `fit` (which only checks X)."""

    def __init__(
        self,
        dictionary: Any,
        *,
        transform_algorithm: str = "omp",
        transform_n_nonzero_coefs: int | None = None,
        transform_alpha: float | None = None,
        split_sign: bool = False,
        n_jobs: int | None = None,
        positive_code: bool = False,
        transform_max_iter: int = 1000,
    ) -> None:
        self.dictionary = dictionary
        self.transform_algorithm = transform_algorithm
        self.transform_n_nonzero_coefs = transform_n_nonzero_coefs
        self.transform_alpha = transform_alpha
        self.split_sign = split_sign
        self.n_jobs = n_jobs
        self.positive_code = positive_code
        self.transform_max_iter = transform_max_iter

    def _dictionary(self) -> np.ndarray:
        return np.asarray(self.dictionary)

    def fit(self, X: Any, y: Any = None) -> SparseCoder:
        X = validate_data(self, X)
        self.n_components_ = self._dictionary().shape[0]
        if X.shape[1] != self._dictionary().shape[1]:
            raise ValueError(
                "Dictionary and X have different numbers of features: "
                f"dictionary.shape: {self._dictionary().shape} X.shape: {X.shape}"
            )
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


__all__ = ["DictionaryLearning", "MiniBatchDictionaryLearning", "SparseCoder"]
