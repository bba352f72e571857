"""Which backend a request runs on: "auto" follows the code solver, cd and lars are refused on
cupy before anything runs, CUPY_TF32 makes cupy unusable, and on a Dask cluster a fit's tasks
go to the workers of its backend (`solvers.placement`)."""

from __future__ import annotations

import numpy as np
import pytest

import solvers
from solvers import backends
from solvers.placement import ClusterWorkers, backend_name, task_restrictions

CPU, GPU = "tcp://10.0.0.1:1", "tcp://10.0.0.2:1"


@pytest.mark.parametrize("code_solver", ["cd", "lars"])
def test_cpu_only_code_solvers_are_refused_on_cupy_before_the_backend_is_asked(code_solver):
    # On a machine with a GPU this used to fail in the worker; without one it said "cupy is
    # not available", hiding that the request could never run anywhere.
    X = np.random.default_rng(0).standard_normal((20, 4))
    with pytest.raises(solvers.InvalidInputError, match="CPU only"):
        solvers.fit(X, 2, backend="cupy", code_solver=code_solver)
    with pytest.raises(solvers.InvalidInputError, match="CPU only"):
        solvers.validate_options(2, solvers.DEFAULTS.replace(backend="cupy", code_solver="cd"))


@pytest.mark.parametrize("code_solver", sorted(solvers.CPU_ONLY_CODE_SOLVERS))
def test_auto_is_numpy_for_cpu_only_code_solvers(code_solver):
    assert solvers.get_backend("auto", code_solver).name == "numpy"


def test_auto_is_resolved_in_the_result():
    X = np.random.default_rng(0).standard_normal((40, 4))
    result = solvers.fit(X, 2, backend="auto", code_solver="cd", max_iter=2)
    assert result.options.backend == "numpy"
    model = solvers.partial_fit(X, n_components=2, backend="auto", code_solver="cd")
    assert model.options.backend == "numpy"


def test_cupy_tf32_makes_the_gpu_backend_unavailable(monkeypatch):
    monkeypatch.setenv("CUPY_TF32", "1")
    backends._cupy_module.cache_clear()
    try:
        cupy_row = solvers.available_backends()[1]
        assert not cupy_row["available"] and "CUPY_TF32" in cupy_row["reason"]
        with pytest.raises(solvers.BackendUnavailableError, match="CUPY_TF32"):
            solvers.get_backend("cupy")
        assert solvers.get_backend("auto").name == "numpy"
    finally:
        monkeypatch.delenv("CUPY_TF32")
        backends._cupy_module.cache_clear()


MIXED = ClusterWorkers(every=[CPU, GPU], cupy=[GPU], cpu=[CPU])
CPU_ONLY = ClusterWorkers(every=[CPU, GPU], cupy=[], cpu=[CPU, GPU])


def test_cupy_tasks_are_pinned_to_the_gpu_workers():
    for chunk in (None, 0, 1):
        assert task_restrictions(MIXED, "cupy", chunk) == {
            "workers": [GPU],
            "allow_other_workers": False,
        }


def test_numpy_tasks_keep_off_the_gpu_workers():
    # strict: Dask steals loosely restricted tasks to idle workers of any kind
    for chunk in (None, 3):
        assert task_restrictions(MIXED, "numpy", chunk) == {
            "workers": [CPU],
            "allow_other_workers": False,
        }
    # no GPU worker to keep free: chunks are spread over every worker, the rest is Dask's
    assert task_restrictions(CPU_ONLY, "numpy", chunk=1) == {
        "workers": [GPU],
        "allow_other_workers": True,
    }
    assert task_restrictions(CPU_ONLY, "numpy") == {}


def test_the_backend_of_a_cluster_fit():
    assert backend_name(MIXED, "auto", "auto") == "cupy"
    assert backend_name(MIXED, "auto", "fista") == "cupy"
    assert backend_name(MIXED, "auto", "cd") == "numpy"
    assert backend_name(MIXED, "numpy", "auto") == "numpy"
    assert backend_name(CPU_ONLY, "auto", "auto") == "numpy"
    with pytest.raises(solvers.BackendUnavailableError, match="no worker"):
        backend_name(CPU_ONLY, "cupy", "fista")


def test_device_arrays_are_taken_wherever_host_arrays_are(backend):
    """Inputs on the GPU (CuPy arrays) are accepted by fit, encode and objective, mixed with
    host arrays too, and give the host arrays' results."""
    if not backend.is_gpu:
        pytest.skip("host arrays are what the other tests pass: nothing to compare here")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 6))
    W = rng.standard_normal((3, 6))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    X_d, W_d = backend.asarray(X, X.dtype), backend.asarray(W, W.dtype)
    on_host = solvers.fit(X, 3, max_iter=3, random_state=0)
    from_device = solvers.fit(X_d, 3, max_iter=3, random_state=0)
    np.testing.assert_array_equal(from_device.dictionary, on_host.dictionary)
    H = solvers.encode(X, W, alpha=0.2)
    np.testing.assert_array_equal(solvers.encode(X_d, W_d, alpha=0.2), H)
    H_d = backend.asarray(H, H.dtype)
    expected = solvers.objective(X, H, W, 0.2)
    assert solvers.objective(X, H_d, W, 0.2) == pytest.approx(expected, rel=1e-12)
    assert solvers.objective(X_d, H, W_d, 0.2) == pytest.approx(expected, rel=1e-12)


def test_fista_codes_the_rows_in_parts_bounded_by_memory(monkeypatch):
    """Batched FISTA holds several (rows, k) arrays: encode and batch fits code at most
    `code_rows` rows at once (on a GPU, by its free memory; here by PASS_BYTES), with the same
    codes as one part, since each row's iterates are its own."""
    from solvers import rows

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 8))
    W = rng.standard_normal((4, 8))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    whole = solvers.encode(X, W, alpha=0.3, code_solver="fista")
    fit_whole = solvers.fit(X, 4, mode="batch", code_solver="fista", max_iter=3, random_state=0)
    monkeypatch.setattr(rows, "PASS_BYTES", 2**20)
    assert rows.code_rows(solvers.get_backend("numpy"), "fista", 8, 4) == rows.CHECK_ROWS
    assert rows.code_rows(solvers.get_backend("numpy"), "cd", 8, 4) > X.shape[0]
    np.testing.assert_array_equal(solvers.encode(X, W, alpha=0.3, code_solver="fista"), whole)
    parts = solvers.fit(X, 4, mode="batch", code_solver="fista", max_iter=3, random_state=0)
    np.testing.assert_array_equal(parts.dictionary, fit_whole.dictionary)
    np.testing.assert_array_equal(parts.codes, fit_whole.codes)


@pytest.mark.gpu
def test_a_gpu_codes_as_many_rows_at_once_as_its_memory_holds(backend):
    from solvers import rows

    if not backend.is_gpu:
        pytest.skip("the device-memory bound is a GPU's")
    free = backend.memory()["free_bytes"]
    chosen = rows.code_rows(backend, "fista", 256, 512)
    assert rows.GPU_CHECK_ROWS <= chosen
    assert chosen * 8 * (rows.FISTA_ROW_ARRAYS * 512 + 2 * 256) <= max(free, 2**30)


def test_kept_codes_are_bounded_by_the_memory_they_live_in(backend):
    """Warm starts of an online fit keep every row's codes: within WARM_START_BYTES of host
    memory on the CPU, within a quarter of the free device memory on a GPU (the host bound had
    turned them off at P2's size)."""
    from solvers import rows

    budget = rows.warm_start_bytes(backend)
    if not backend.is_gpu:
        assert budget == rows.WARM_START_BYTES
        return
    free = backend.memory()["free_bytes"]
    assert budget == max(rows.WARM_START_BYTES, int(rows.DEVICE_FRACTION * free))
    block = rows.RowBlock(0, backend.asarray(np.zeros((500_000, 4)), np.float32), backend)
    assert block.keeps_codes(512) == (500_000 * 512 * 4 <= budget)
