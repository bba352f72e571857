"""What one GPU does with the code step and an epoch, for `benchmarks.p2_gpu`: the FISTA code
step's FLOP rate against a float32 GEMM timed on the same backend, and one online epoch's
peak device memory and host↔device traffic (`solvers.backends.TRANSFERS`: the bytes through
`Backend.asarray` / `to_numpy`, the only crossings by design). On NumPy the traffic and peak
are 0 and the rates are the CPU's.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import solvers
import solvers.codes as codes_module
from benchmarks.common import median
from solvers.backends import TRANSFERS

ALPHA = 1.0


def gemm_rate(backend: Any, size: int, repeats: int = 5) -> float:
    """Float32 GEMM rate (FLOP/s) of an N×N product on the backend, median of `repeats`."""
    xp = backend.xp
    rng = np.random.default_rng(0)
    a = backend.asarray(rng.standard_normal((size, size)), xp.float32)
    b = backend.asarray(rng.standard_normal((size, size)), xp.float32)
    out = xp.empty_like(a)
    with backend.compute_scope():
        xp.matmul(a, b, out=out)
        backend.synchronize()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            xp.matmul(a, b, out=out)
            backend.synchronize()
            times.append(time.perf_counter() - start)
    return 2.0 * size**3 / median(times)


def code_step_rates(
    backend: Any, X: np.ndarray, W: np.ndarray, repeats: int = 3
) -> dict[str, float]:
    """Achieved FLOP/s of the FISTA code step: a full encode (counted) and 50 bare iterations."""
    xp = backend.xp
    n, p = X.shape
    k = W.shape[0]
    counted = {"row_iterations": 0}
    original = codes_module._fista_iterations

    def counting(backend_, H, Y, t, G, C, step, threshold, positive, n_iter):
        counted["row_iterations"] += int(H.shape[0]) * int(n_iter)
        return original(backend_, H, Y, t, G, C, step, threshold, positive, n_iter)

    def encode() -> np.ndarray:
        return solvers.encode(X, W, alpha=ALPHA, backend=backend.name, code_solver="fista")

    encode()  # warm-up (kernels compile on a GPU)
    codes_module._fista_iterations = counting
    try:
        times = []
        for _ in range(repeats):
            counted["row_iterations"] = 0
            start = time.perf_counter()
            encode()
            times.append(time.perf_counter() - start)
    finally:
        codes_module._fista_iterations = original
    encode_s = median(times)
    row_iterations = counted["row_iterations"]
    encode_flops = 2.0 * n * p * k + 2.0 * k * k * row_iterations

    # 50 bare iterations on every row: the kernel's rate without gap checks and active sets.
    Xd = backend.asarray(X, xp.float32)
    Wd = backend.asarray(W, xp.float32)
    G = Wd @ Wd.T
    C = Xd @ Wd.T
    lipschitz = float(np.linalg.eigvalsh(backend.to_numpy(G).astype(np.float64))[-1])
    step = xp.asarray(1.0 / lipschitz, dtype=xp.float32)
    threshold = xp.asarray(ALPHA / lipschitz, dtype=xp.float32)
    H = xp.zeros((n, k), dtype=xp.float32)
    Y, t = H.copy(), xp.ones((n, 1), dtype=xp.float32)
    bare_iterations = 50
    with backend.compute_scope():
        original(backend, H, Y, t, G, C, step, threshold, False, 5)
        backend.synchronize()
        bare = []
        for _ in range(repeats):
            H[...] = 0
            Y[...] = 0
            backend.synchronize()
            start = time.perf_counter()
            original(backend, H, Y, t, G, C, step, threshold, False, bare_iterations)
            backend.synchronize()
            bare.append(time.perf_counter() - start)
    return {
        "encode_s": encode_s,
        "row_iterations": row_iterations,
        "mean_iterations": row_iterations / n,
        "encode_rate": encode_flops / encode_s,
        "bare_rate": 2.0 * n * k * k * bare_iterations / median(bare),
    }


def epoch_traffic(backend: Any, X: np.ndarray, W0: np.ndarray, batch_size: int) -> dict[str, float]:
    """One online epoch from W0 (defaults otherwise, codes not returned): wall seconds, peak
    device memory, and bytes host→device and device→host, also as multiples of X's size."""
    TRANSFERS.reset()
    start = time.perf_counter()
    with backend.peak_memory() as peak:
        solvers.fit(
            X, W0.shape[0], init=W0, alpha=ALPHA, backend=backend.name, mode="online",
            batch_size=batch_size, max_iter=1, tol=0.0, random_state=0, return_codes=False,
        )  # fmt: skip
    wall = time.perf_counter() - start
    return {
        "epoch_s": wall,
        "peak_bytes": float(peak["peak_bytes"]),
        "to_device_bytes": float(TRANSFERS.to_device_bytes),
        "to_host_bytes": float(TRANSFERS.to_host_bytes),
        "to_device_per_X": TRANSFERS.to_device_bytes / X.nbytes,
        "to_host_per_X": TRANSFERS.to_host_bytes / X.nbytes,
    }
