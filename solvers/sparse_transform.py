"""The transform side of the scikit-learn estimators: scikit-learn's coding algorithms on a fixed
dictionary, sign splitting, the inverse transform and the output feature names.

`transform_algorithm` takes scikit-learn's names: "lasso_cd" and "lasso_lars" (both this
project's lasso solver, certified to its duality gap: they name one problem; `max_iter` bounds
its sweeps), "omp" (orthogonal matching pursuit,
`solvers.omp`), "lars" (least-angle regression stopped at `n_nonzero_coefs` atoms, through
scikit-learn) and "threshold" (soft thresholding of X Wᵀ). The lasso ones solve
min ½‖x − hW‖² + α‖h‖₁, scikit-learn's scaling; a code step stopped short of its certificate
raises scikit-learn's `ConvergenceWarning` once per call.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .api import encode
from .errors import ConvergenceWarning

TRANSFORM_ALGORITHMS = ("lasso_lars", "lasso_cd", "lars", "omp", "threshold")


class CodesNotCertifiedWarning(ConvergenceWarning, SklearnConvergenceWarning):
    """`solvers.ConvergenceWarning` as scikit-learn's ConvergenceWarning too, so that either
    filter catches it."""


def sparse_codes(
    X: np.ndarray,
    W: np.ndarray,
    algorithm: str,
    *,
    alpha: float | None = None,
    n_nonzero_coefs: int | None = None,
    max_iter: int = 1000,
    positive: bool = False,
    backend: str = "numpy",
) -> np.ndarray:
    """Codes (n, k) of X (n, p) on W (k, p) by a scikit-learn transform algorithm, X's dtype.

    `alpha` (default 1) is the ℓ1 weight of the lasso algorithms and the threshold of
    "threshold"; "omp" and "lars" stop at `n_nonzero_coefs` atoms (default: a tenth of the
    features). `max_iter`: sweeps (and homotopy segments) per row of the lasso algorithms.
    """
    if algorithm not in TRANSFORM_ALGORITHMS:
        raise ValueError(
            f"transform_algorithm must be one of {', '.join(TRANSFORM_ALGORITHMS)}; "
            f"got {algorithm!r}"
        )
    if positive and algorithm in ("omp", "lars"):
        raise ValueError(f"Positive constraint not supported for '{algorithm}' coding method.")
    alpha = 1.0 if alpha is None else float(alpha)
    W = np.asarray(W, dtype=X.dtype)
    if algorithm == "threshold":
        C = X @ W.T
        codes = np.maximum(C - alpha, 0) if positive else np.sign(C) * np.maximum(abs(C) - alpha, 0)
        return codes.astype(X.dtype, copy=False)
    if algorithm == "omp":
        return encode(X, W, code_solver="omp", n_nonzero_coefs=n_nonzero_coefs)
    if algorithm == "lars":
        from sklearn.decomposition import sparse_encode

        return sparse_encode(X, W, algorithm="lars", n_nonzero_coefs=n_nonzero_coefs)
    # "lasso_lars" and "lasso_cd" name one problem: both get this project's certified solver
    # (scikit-learn's LassoLars can stop off the solution with positive codes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        codes = encode(X, W, alpha=alpha, backend=backend, positive=positive, max_iter=max_iter)
    for record in caught:  # again, outside; a short certificate as both libraries' warning
        message = record.message
        if isinstance(message, ConvergenceWarning):
            message = CodesNotCertifiedWarning(str(message))
        warnings.warn(message, stacklevel=3)
    return codes


def split_signs(codes: np.ndarray) -> np.ndarray:
    """(n, 2k): [max(h, 0), max(−h, 0)], scikit-learn's `split_sign` features."""
    return np.hstack([np.maximum(codes, 0), -np.minimum(codes, 0)])


class SparseCodingMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """transform / inverse_transform on `components_` with the `transform_*` parameters, and
    the output feature names (`<classname>0`, …), which `set_output(transform="pandas")` uses.

    The estimator defines `components_` (k, p) once fitted, `transform_algorithm`,
    `transform_alpha`, `transform_n_nonzero_coefs`, `transform_max_iter`, `split_sign`,
    `positive_code`, and optionally `alpha` (the default of `transform_alpha`) and `backend`.
    """

    def _dictionary(self) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray(self.components_)

    def transform(self, X: Any) -> np.ndarray:
        """Codes (n_samples, n_components) of X, or (n_samples, 2·n_components) with
        `split_sign`."""
        W = self._dictionary()
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        p: Any = self
        alpha = p.transform_alpha
        if alpha is None:
            alpha = getattr(p, "alpha", None)
        codes = sparse_codes(
            X,
            W,
            p.transform_algorithm,
            alpha=alpha,
            n_nonzero_coefs=p.transform_n_nonzero_coefs,
            max_iter=p.transform_max_iter,
            positive=p.positive_code,
            backend=getattr(p, "backend", "numpy"),
        )
        return split_signs(codes) if p.split_sign else codes

    def inverse_transform(self, X: Any) -> np.ndarray:
        """X (n_samples, n_features) ≈ codes @ components_ (codes split by sign with
        `split_sign`)."""
        W = self._dictionary()
        codes = check_array(X, dtype=[np.float64, np.float32])
        split = bool(getattr(self, "split_sign", False))
        expected = W.shape[0] * (2 if split else 1)
        if codes.shape[1] != expected:
            raise ValueError(
                "The number of components in the code is different from the number of "
                f"components in the dictionary. Expected {expected}, got {codes.shape[1]}."
            )
        if split:
            codes = codes[:, : W.shape[0]] - codes[:, W.shape[0] :]
        return codes @ W.astype(codes.dtype, copy=False)

    @property
    def _n_features_out(self) -> int:
        return int(self._dictionary().shape[0])
