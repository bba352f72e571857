"""A scikit-learn estimator over the same code as `solvers.fit` and `solvers.encode`."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from .api import encode, fit
from .options import DEFAULTS
from .result import ProgressCallback
from .sparse_transform import SparseCodingMixin


class SparseDictionaryLearning(SparseCodingMixin, BaseEstimator):
    """Dictionary learning by block coordinate descent, on NumPy or CuPy.

    Minimises ½‖X − HW‖²_F + α‖H‖₁ with ‖W_j‖₂ ≤ 1, the scaling of scikit-learn's
    `DictionaryLearning`. After `fit`: `components_` (n_components, n_features) is W,
    `n_iter_`, `stop_reason_`, `history_`, `n_features_in_`. `transform(X)` returns the codes
    (n_samples, n_components) of X on W, `inverse_transform(H)` H W, `get_feature_names_out()`
    `sparsedictionarylearning0`, … (so `set_output(transform="pandas")` works). The parameters
    are `solvers.FitOptions`' (with scikit-learn's names `positive_code`, `positive_dict`), but
    for `checkpoint_interval`: an estimator writes no checkpoints; `callback(progress)` is
    `solvers.fit`'s. scikit-learn's own estimators, parameter for parameter:
    `solvers.sklearn_estimators`.
    """

    # parameter → fit option, where scikit-learn's name is not the option's
    OPTION_NAMES: ClassVar[dict[str, str]] = {
        "positive_code": "positive_codes",
        "positive_dict": "positive_dictionary",
    }

    def __init__(
        self,
        n_components: int | None = None,
        *,
        alpha: float = DEFAULTS.alpha,
        mode: str = DEFAULTS.mode,
        backend: str = DEFAULTS.backend,
        code_solver: str = DEFAULTS.code_solver,
        max_iter: int = DEFAULTS.max_iter,
        tol: float = DEFAULTS.tol,
        batch_size: int | None = DEFAULTS.batch_size,
        init: Any = DEFAULTS.init,
        positive_code: bool = DEFAULTS.positive_codes,
        positive_dict: bool = DEFAULTS.positive_dictionary,
        dictionary_penalty: float | None = DEFAULTS.dictionary_penalty,
        time_limit: float | None = DEFAULTS.time_limit,
        random_state: int | None = DEFAULTS.random_state,
        code_tol: float | None = DEFAULTS.code_tol,
        code_max_iter: int = DEFAULTS.code_max_iter,
        averaging: float | None = DEFAULTS.averaging,
        polyak_burn_in: float | None = DEFAULTS.polyak_burn_in,
        dtype: str | None = DEFAULTS.dtype,
        callback: ProgressCallback | None = None,
    ) -> None:
        self.n_components = n_components
        self.alpha = alpha
        self.mode = mode
        self.backend = backend
        self.code_solver = code_solver
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.init = init
        self.positive_code = positive_code
        self.positive_dict = positive_dict
        self.dictionary_penalty = dictionary_penalty
        self.time_limit = time_limit
        self.random_state = random_state
        self.code_tol = code_tol
        self.code_max_iter = code_max_iter
        self.averaging = averaging
        self.polyak_burn_in = polyak_burn_in
        self.dtype = dtype
        self.callback = callback

    def fit(self, X: Any, y: Any = None) -> SparseDictionaryLearning:
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        n_components = self.n_components if self.n_components is not None else X.shape[1]
        random_state = self.random_state
        if isinstance(random_state, np.random.RandomState):
            random_state = int(random_state.randint(2**31 - 1))
        result = fit(
            X,
            n_components,
            init=self.init,
            alpha=self.alpha,
            mode=self.mode,
            backend=self.backend,
            code_solver=self.code_solver,
            max_iter=self.max_iter,
            tol=self.tol,
            batch_size=self.batch_size,
            positive_codes=self.positive_code,
            positive_dictionary=self.positive_dict,
            dictionary_penalty=self.dictionary_penalty,
            time_limit=self.time_limit,
            random_state=random_state,
            code_tol=self.code_tol,
            code_max_iter=self.code_max_iter,
            averaging=self.averaging,
            polyak_burn_in=self.polyak_burn_in,
            dtype=self.dtype,
            callback=self.callback,
            return_codes=False,
        )
        self.components_ = result.dictionary
        self.n_iter_ = result.n_iter
        self.stop_reason_ = result.stop_reason
        self.history_ = result.history
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return encode(
            X,
            self.components_.astype(X.dtype, copy=False),
            alpha=self.alpha,
            backend=self.backend,
            code_solver=self.code_solver,
            positive=self.positive_code,
            tol=self.code_tol,
            max_iter=self.code_max_iter,
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
