"""Initial dictionaries: random data rows, a randomized SVD, or a given array."""

from __future__ import annotations

from typing import Any

import numpy as np

from .validation import validate_dictionary


def initial_dictionary(
    X: Any, n_components: int, init: Any, rng: np.random.Generator, positive: bool = False
) -> np.ndarray:
    """(n_components, n_features) float64 dictionary with atoms of norm 1 (given ones: ≤ 1).

    X (n, p): an array, or anything with `shape` whose rows index as one (a memory map).

    "data" takes distinct random rows of X; "svd" the top right singular vectors of a
    randomized SVD; an array is used as given, projected on the unit ball. Atoms that cannot be
    filled from the data (more atoms than rows or than the rank, zero rows) are random
    directions, so every atom is usable.
    """
    n, p = X.shape
    if isinstance(init, str) and init == "data":
        rows = rng.choice(n, size=min(n_components, n), replace=False)
        W = np.asarray(X[np.sort(rows)], dtype=np.float64)
        W = W[np.argsort(np.argsort(rows))]  # keep the drawn order, read rows in file order
    elif isinstance(init, str) and init == "svd":
        from sklearn.utils.extmath import randomized_svd

        rank = min(n_components, n, p)
        seed = int(rng.integers(2**31 - 1))
        _, _, Vt = randomized_svd(np.asarray(X, dtype=np.float64), rank, random_state=seed)
        W = Vt
    else:
        W = validate_dictionary(init, p, n_components).astype(np.float64, copy=True)
        if positive:
            W = np.maximum(W, 0.0)
        return _project_unit_ball(W, rng, positive)
    if positive:
        # Keep the sign that carries more mass, so a negative-dominated row still helps.
        flip = (np.maximum(W, 0).sum(axis=1) < np.maximum(-W, 0).sum(axis=1))[:, None]
        W = np.maximum(np.where(flip, -W, W), 0.0)
    missing = n_components - W.shape[0]
    if missing > 0:
        W = np.vstack([W, np.zeros((missing, p))])
    norms = np.linalg.norm(W, axis=1, keepdims=True)
    return _project_unit_ball(W / np.where(norms > 0, norms, 1.0), rng, positive)


def _project_unit_ball(W: np.ndarray, rng: np.random.Generator, positive: bool) -> np.ndarray:
    norms = np.linalg.norm(W, axis=1)
    empty = norms == 0
    if empty.any():
        fill = rng.standard_normal((int(empty.sum()), W.shape[1]))
        if positive:
            fill = np.abs(fill)
        W[empty] = fill / np.linalg.norm(fill, axis=1, keepdims=True)
        norms = np.linalg.norm(W, axis=1)
    return W / np.maximum(norms, 1.0)[:, None]
