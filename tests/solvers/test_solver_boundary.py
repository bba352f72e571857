"""The boundary of the numerical core: input validation, backends, fused kernels, imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import solvers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def X(make_data):
    return make_data(seed=0, n=30, p=6, k=3)[0]


def test_importing_solvers_loads_neither_service_nor_cupy():
    code = (
        "import sys, solvers; "
        "loaded = [m for m in ('service', 'cupy') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.ones(5), r"must be 2-D .* got 1-D"),
        (np.ones((2, 3, 4)), r"must be 2-D .* got 3-D"),
        (np.empty((0, 4)), r"empty: shape \(0, 4\)"),
        (np.empty((4, 0)), r"empty: shape \(4, 0\)"),
        (np.ones((4, 3), dtype=complex), "complex dtype"),
        (np.array([["a", "b"], ["c", "d"]]), "non-numeric dtype"),
        (np.array([[1.0, None], [2.0, 3.0]], dtype=object), "non-numeric dtype"),
        ([[1.0, 2.0], [3.0]], "not a numeric matrix"),
    ],
)
def test_unusable_data_is_refused_with_a_reason(data, message):
    with pytest.raises(solvers.InvalidInputError, match=message):
        solvers.fit(data, 2)
    with pytest.raises(solvers.InvalidInputError, match=message):
        solvers.validate_data(data)


def test_nan_and_inf_are_counted_and_located(X):
    bad = X.copy()
    bad[4, 2] = np.nan
    bad[9, 0] = np.inf
    bad[9, 1] = -np.inf
    with pytest.raises(solvers.InvalidInputError, match=r"3 NaN or Inf .* row 4, column 2"):
        solvers.fit(bad, 2)
    with pytest.raises(solvers.InvalidInputError, match=r"1 NaN or Inf .* row 0, column 1"):
        solvers.encode(X, np.array([[1.0, np.inf, 0, 0, 0, 0]]), alpha=0.1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_whose_squares_overflow_are_refused(dtype):
    """Finite data whose ‖X‖² overflows the working dtype would give codes of zero and an
    objective of NaN (and Inf in every product of the fit): refused, with the magnitude."""
    big = float(np.sqrt(np.finfo(dtype).max))  # one such value's square is the dtype's max
    X = np.random.default_rng(0).standard_normal((30, 5))
    X[7, 3] = big
    with pytest.raises(solvers.InvalidInputError, match=rf"too large in magnitude for {dtype}"):
        solvers.fit(X.astype(dtype), 2)
    with pytest.raises(solvers.InvalidInputError, match=r"largest magnitude is 1\.\d+e\+"):
        solvers.encode(np.eye(2, 5), X.astype(dtype), alpha=0.1)
    X[7, 3] = big / 100  # a hundred times smaller: usable, and the fit stays finite
    result = solvers.fit(X.astype(dtype), 2, max_iter=5)
    assert np.isfinite(result.objective) and np.all(np.isfinite(result.dictionary))


def test_the_value_scan_counts_blocks_as_one_matrix():
    """Fed in blocks, the scan locates the first NaN in the whole matrix's order (C, or
    Fortran for a Fortran-order file) and sums squares over every block."""
    X = np.arange(12.0).reshape(3, 4)
    X[2, 1] = np.nan
    for order, blocks in [("C", [X.ravel()[:5], X.ravel()[5:]]), ("F", [X.ravel("F")])]:
        scan = solvers.ValueScan()
        for block in blocks:
            scan.add(block)
        assert "row 2, column 1" in scan.problem("X", X.shape, fortran_order=order == "F")
    scan = solvers.ValueScan()
    scan.add(np.ones(6))
    scan.add(np.full((2, 2), 2.0))
    assert scan.sum_sq == 22.0 and scan.largest == 2.0 and scan.problem("X", (5, 2)) is None


@pytest.mark.parametrize(
    ("n_components", "options", "message"),
    [
        (0, {}, "n_components must be at least 1"),
        (-3, {}, "n_components must be at least 1"),
        (2.5, {}, "n_components must be an integer"),
        (True, {}, "n_components must be an integer"),
        (2, {"alpha": -1.0}, r"alpha must be > 0 and finite; got -1.0"),
        (2, {"alpha": 0.0}, r"alpha must be > 0 and finite; got 0.0"),
        (2, {"alpha": float("nan")}, r"alpha must be > 0 and finite; got nan"),
        (2, {"alpha": float("inf")}, r"alpha must be > 0 and finite; got inf"),
        (2, {"mode": "stochastic"}, "mode must be one of"),
        (2, {"code_solver": "omp"}, "code_solver must be one of"),
        (2, {"backend": "tpu"}, "backend must be one of"),
        (2, {"max_iter": 0}, "max_iter must be at least 1"),
        (2, {"tol": -1.0}, "tol must be"),
        (2, {"time_limit": 0.0}, "time_limit must be > 0"),
        (2, {"batch_size": 0}, "batch_size must be at least 1"),
        (2, {"dictionary_penalty": 0.0}, "dictionary_penalty must be > 0"),
        (2, {"averaging": 1.5}, "averaging must be in"),
        (2, {"dtype": "float16"}, "dtype must be"),
        (2, {"n_atoms": 3}, "unknown option.*n_atoms"),
        (2, {"solver": "cd", "lr": 1}, "unknown option.*lr, solver"),
    ],
)
def test_bad_options_are_refused_with_a_reason(X, n_components, options, message):
    with pytest.raises(solvers.InvalidInputError, match=message):
        solvers.fit(X, n_components, **options)


def test_given_dictionary_must_fit_the_data(X):
    with pytest.raises(solvers.InvalidInputError, match="5 features per atom but X has 6"):
        solvers.fit(X, 2, init=np.ones((2, 5)))
    with pytest.raises(solvers.InvalidInputError, match="3 atoms but n_components is 2"):
        solvers.fit(X, 2, init=np.ones((3, 6)))
    with pytest.raises(solvers.InvalidInputError, match="init must be"):
        solvers.fit(X, 2, init="random")
    with pytest.raises(solvers.InvalidInputError, match="5 features per atom but X has 6"):
        solvers.encode(X, np.ones((2, 5)), alpha=0.1)
    with pytest.raises(solvers.InvalidInputError, match=r"dictionary .*non-numeric"):
        solvers.encode(X, np.array([["a"] * 6]), alpha=0.1)
    for alpha in (0.0, -1.0, float("inf")):
        # the same words as fit's, whichever side of zero
        with pytest.raises(solvers.InvalidInputError, match="alpha must be > 0 and finite"):
            solvers.encode(X, np.ones((2, 6)), alpha=alpha)


def test_accepted_dtypes():
    ints = np.arange(12, dtype=np.int16).reshape(4, 3)
    assert solvers.validate_data(ints).dtype == np.float64
    assert solvers.validate_data(ints.astype(bool)).dtype == np.float64
    assert solvers.validate_data(ints.astype(np.float16)).dtype == np.float32
    assert solvers.validate_data(ints.astype(np.float32)).dtype == np.float32
    assert solvers.validate_data(ints, dtype="float32").dtype == np.float32
    assert solvers.validate_data(ints.tolist()).dtype == np.float64
    np.testing.assert_array_equal(solvers.validate_data(ints), ints.astype(np.float64))
    codes = solvers.encode(ints, np.eye(3), alpha=0.5)
    assert codes.dtype == np.float64
    np.testing.assert_allclose(codes, np.maximum(ints - 0.5, 0.0), atol=1e-12)


def test_unavailable_backend_names_the_available_ones(X):
    if any(row["name"] == "cupy" and row["available"] for row in solvers.available_backends()):
        pytest.skip("cupy is available on this machine")
    with pytest.raises(solvers.BackendUnavailableError, match="available: numpy") as info:
        solvers.fit(X, 2, backend="cupy")
    assert info.value.available == ["numpy"] and info.value.name == "cupy"
    with pytest.raises(solvers.BackendUnavailableError, match="available: numpy"):
        solvers.encode(X, np.ones((2, 6)), alpha=0.1, backend="cupy")
    with pytest.raises(solvers.BackendUnavailableError, match="available: numpy"):
        solvers.get_backend("cupy")
    assert solvers.get_backend("auto").name == "numpy"
    result = solvers.fit(X, 2, backend="auto", max_iter=1)
    assert result.backend == "numpy"


def test_unknown_backend_name():
    with pytest.raises(solvers.BackendUnavailableError, match="unknown backend"):
        solvers.get_backend("tpu")


def test_available_backends_shape():
    rows = solvers.available_backends()
    assert [row["name"] for row in rows] == ["numpy", "cupy"]
    for row in rows:
        assert set(row) == {"name", "available", "device", "reason", "memory_bytes"}
        assert isinstance(row["available"], bool)
        if row["available"]:
            assert row["reason"] is None and isinstance(row["device"], str)
        else:
            assert isinstance(row["reason"], str) and row["reason"] and row["device"] is None
    assert rows[0] == {
        "name": "numpy",
        "available": True,
        "device": "cpu",
        "reason": None,
        "memory_bytes": None,
    }
    if rows[1]["available"]:
        assert rows[1]["memory_bytes"] > 0


def test_cpu_only_code_solvers(backend, X):
    """cd and lars run on the CPU; on cupy they are refused rather than silently copied."""
    W = np.eye(2, 6)
    for code_solver in ("cd", "lars"):
        if backend.is_gpu:
            with pytest.raises(solvers.InvalidInputError, match="CPU only"):
                solvers.fit(X, 2, backend=backend.name, code_solver=code_solver)
            with pytest.raises(solvers.InvalidInputError, match="CPU only"):
                solvers.encode(X, W, alpha=0.1, backend=backend.name, code_solver=code_solver)
        else:
            codes = solvers.encode(X, W, alpha=0.1, backend=backend.name, code_solver=code_solver)
            c = X[:, :2]
            np.testing.assert_allclose(codes, np.sign(c) * np.maximum(abs(c) - 0.1, 0), atol=1e-9)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_kernels_match_the_plain_formula(backend, positive, dtype):
    rng = np.random.default_rng(0)
    Y, YG, C, H_old = (rng.standard_normal((50, 7)).astype(dtype) for _ in range(4))
    beta = rng.random((50, 1)).astype(dtype)
    step, threshold = np.asarray(0.3, dtype=dtype), np.asarray(0.2, dtype=dtype)
    z = Y - step * (YG - C)
    if positive:
        expected = np.maximum(z - threshold, 0)
    else:
        expected = np.sign(z) * np.maximum(np.abs(z) - threshold, 0)
    xp = backend.xp
    out = xp.empty((50, 7), dtype=dtype)
    Y_d, YG_d, C_d = (xp.asarray(a) for a in (Y, YG, C))
    returned = backend.prox_step(
        Y_d, YG_d, C_d, xp.asarray(step), xp.asarray(threshold), positive, out
    )
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(backend.to_numpy(out), expected, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(backend.to_numpy(returned), backend.to_numpy(out))
    assert out.dtype == dtype
    # Inputs are left alone.
    np.testing.assert_array_equal(backend.to_numpy(Y_d), Y)
    momentum = xp.empty((50, 7), dtype=dtype)
    backend.momentum_step(xp.asarray(expected), xp.asarray(H_old), xp.asarray(beta), momentum)
    np.testing.assert_allclose(
        backend.to_numpy(momentum), expected + beta * (expected - H_old), rtol=rtol, atol=rtol
    )
    assert momentum.dtype == dtype


def test_backend_round_trip(backend):
    a = np.arange(6.0).reshape(2, 3)
    on_device = backend.asarray(a, np.float32)
    assert on_device.dtype == np.float32
    back = backend.to_numpy(on_device)
    assert type(back) is np.ndarray
    np.testing.assert_array_equal(back, a)
    backend.synchronize()
    memory = backend.memory()
    assert (memory is None) == (not backend.is_gpu)
