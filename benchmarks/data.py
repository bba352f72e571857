"""The reference workloads of BENCHMARKS.md, built exactly as specified there."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_sample_image, load_sample_images
from sklearn.feature_extraction.image import extract_patches_2d


def _grey(image: np.ndarray) -> np.ndarray:
    return image.mean(axis=2) / 255.0


def _normalise(patches: np.ndarray) -> np.ndarray:
    """Flatten, remove each patch's own mean, divide by the global standard deviation."""
    X = patches.reshape(patches.shape[0], -1).astype(np.float64)
    X -= X.mean(axis=1, keepdims=True)
    X /= X.std()
    return X


def p1_patches(n_patches: int = 20000) -> np.ndarray:
    """P1: 8×8 grey patches of china.jpg, (20000, 64) float64."""
    grey = _grey(load_sample_image("china.jpg"))
    return _normalise(extract_patches_2d(grey, (8, 8), max_patches=n_patches, random_state=0))


def p2_patches(per_image: int = 250000) -> np.ndarray:
    """P2: 16×16 grey patches of both sample images, (2·per_image, 256) float64."""
    images = load_sample_images().images
    parts = [
        extract_patches_2d(_grey(image), (16, 16), max_patches=per_image, random_state=seed)
        for seed, image in enumerate(images)
    ]
    return _normalise(np.concatenate(parts))


def initial_dictionary(X: np.ndarray, n_components: int) -> np.ndarray:
    """n_components data rows drawn with default_rng(0), normalised: (n_components, p)."""
    rows = np.random.default_rng(0).choice(X.shape[0], n_components, replace=False)
    W = X[rows].copy()
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def score(X: np.ndarray, W: np.ndarray, alpha: float) -> float:
    """F(W) = min_H J(H, W) / n with LARS codes, atoms first projected on the unit ball."""
    from sklearn.decomposition import sparse_encode

    norms = np.linalg.norm(W, axis=1, keepdims=True)
    W = W / np.maximum(norms, 1.0)
    H = sparse_encode(X, W, algorithm="lasso_lars", alpha=alpha)
    residual = X - H @ W
    return float(0.5 * np.sum(residual**2) + alpha * np.abs(H).sum()) / X.shape[0]


def certified_f(X: np.ndarray, W: np.ndarray, alpha: float) -> float:
    """F(W) as `score` defines it, with this project's certified cd codes (gap ≤ 1e-12·‖x‖² per
    sample) instead of LARS (p1 and p2_gpu print the two side by side once per run)."""
    import solvers

    W = np.asarray(W, np.float64)
    W = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1.0)
    codes = solvers.encode(X, W, alpha=alpha, tol=1e-12)
    return float(solvers.objective(X, codes, W, alpha))
