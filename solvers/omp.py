"""Orthogonal matching pursuit on a fixed dictionary: the ℓ0 code step (CPU).

    min_h ‖x_i − h W‖²  s.t.  ‖h‖₀ ≤ n_nonzero_coefs   (or until ‖x_i − h W‖² ≤ residual_tol)

Each row greedily adds the atom most correlated with its residual and re-fits its coefficients
by least squares on the atoms chosen so far, through the Gram matrix G = W Wᵀ and C = X Wᵀ
(scikit-learn's `orthogonal_mp_gram`, the batch OMP of Rubinstein et al. 2008). Unlike the
lasso there is no duality gap to certify: the result is exact for the support OMP picks.
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import InvalidInputError

# Rows coded per call: bounds the (k, rows) float64 work arrays of a call at a few tens of MiB.
OMP_ROWS = 16384


def default_nonzero_coefs(n_features: int, n_components: int) -> int:
    """scikit-learn's default: a tenth of the features, at least 1, at most the atoms."""
    return max(1, min(n_components, n_features // 10))


def omp_codes(
    X: np.ndarray,
    W: np.ndarray,
    *,
    n_nonzero_coefs: int | None = None,
    residual_tol: float | None = None,
) -> np.ndarray:
    """Codes (n, k) of X (n, p) on W (k, p) by OMP, in X's dtype.

    Stops each row at `n_nonzero_coefs` atoms (default `default_nonzero_coefs`), or, when
    `residual_tol` is given, once ‖x − hW‖² ≤ residual_tol (then n_nonzero_coefs is ignored).
    """
    n, k = X.shape[0], W.shape[0]
    if residual_tol is None:
        if n_nonzero_coefs is None:
            n_nonzero_coefs = default_nonzero_coefs(X.shape[1], k)
        if not 1 <= n_nonzero_coefs <= k:
            raise InvalidInputError(
                f"n_nonzero_coefs must be between 1 and n_components ({k}); got {n_nonzero_coefs}"
            )
    elif not residual_tol >= 0:
        raise InvalidInputError(f"residual_tol must be >= 0; got {residual_tol}")
    from sklearn.linear_model import orthogonal_mp_gram

    W64 = np.asarray(W, dtype=np.float64)
    G = W64 @ W64.T
    H = np.zeros((n, k), dtype=X.dtype)
    for first in range(0, n, OMP_ROWS):
        part = np.asarray(X[first : first + OMP_ROWS], dtype=np.float64)
        with warnings.catch_warnings():
            # "Orthogonal matching pursuit ended prematurely": a residual already orthogonal
            # to every atom (e.g. x = 0) leaves fewer atoms than asked, which is the answer.
            warnings.simplefilter("ignore", RuntimeWarning)
            coef = orthogonal_mp_gram(
                G,
                W64 @ part.T,
                n_nonzero_coefs=None if residual_tol is not None else n_nonzero_coefs,
                tol=residual_tol,
                norms_squared=np.einsum("ij,ij->i", part, part),
                copy_Xy=False,
            )
        H[first : first + part.shape[0]] = np.asarray(coef).reshape(k, -1).T
    return H
