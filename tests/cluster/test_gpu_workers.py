"""A cluster that mixes CPU workers and a GPU worker, as docker-compose.yml's `worker` and
`gpu-worker` do: where a fit's chunk tasks and a job's run go, and what is refused.

The GPU worker here is a CPU process started with the Dask resource GPU=1, the way the compose
file starts its GPU worker; it has no CuPy. So these tests check placement and refusals on the
CPU (the logic), not a GPU fit.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from distributed import Client, get_task_stream

import solvers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
from server_process import Server

KEY = "mixed-cluster-key-0123456789ab"
QUICK = {"n_components": 8, "alpha": 0.3, "max_iter": 5, "tol": 0.0, "random_state": 0}


@pytest.fixture(scope="module")
def mixed(mixed_scheduler_file: Path) -> Iterator[Client]:
    with Client(scheduler_file=str(mixed_scheduler_file), timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
        yield client


def _addresses(client: Client) -> tuple[str, str]:
    """(the CPU worker's address, the GPU-resource worker's)."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    gpu = [a for a, w in workers.items() if w.get("resources", {}).get(solvers.GPU_RESOURCE)]
    cpu = [a for a in workers if a not in gpu]
    assert len(cpu) == len(gpu) == 1, workers
    return cpu[0], gpu[0]


def test_a_numpy_fit_leaves_the_gpu_worker_free(mixed: Client, data: np.ndarray) -> None:
    cpu, _ = _addresses(mixed)
    executor = solvers.DaskExecutor(mixed, n_chunks=4)
    with get_task_stream(mixed) as stream:
        result = solvers.fit(data, executor=executor, mode="batch", **QUICK)
    ran_on = {task["worker"] for task in stream.data}
    assert ran_on == {cpu}, ran_on
    assert result.options.backend == "numpy"


def test_a_cupy_fit_without_a_usable_gpu_is_refused_before_any_task(
    mixed: Client, data: np.ndarray
) -> None:
    # The GPU worker carries the resource but has no CuPy: nothing may be sent there (nor to
    # the CPU worker, where the chunks used to land and fail).
    with get_task_stream(mixed) as stream:
        with pytest.raises(solvers.BackendUnavailableError, match=r"no worker .* usable GPU"):
            solvers.fit(data, executor=solvers.DaskExecutor(mixed), backend="cupy", **QUICK)
    assert stream.data == []


def test_auto_backend_with_a_cpu_only_code_solver_runs_numpy(
    mixed: Client, data: np.ndarray
) -> None:
    options = {**QUICK, "backend": "auto", "code_solver": "cd", "mode": "batch"}
    result = solvers.fit(data, executor=solvers.DaskExecutor(mixed, n_chunks=2), **options)
    assert result.options.backend == "numpy"


@pytest.fixture(scope="module")
def api(mixed_scheduler_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # type: ignore[type-arg]
    address = json.loads(mixed_scheduler_file.read_text())["address"]
    env = {"SPARSECODING_API_KEYS": f"alice:{KEY}", "SPARSECODING_DASK_SCHEDULER": address}
    server = Server(tmp_path_factory.mktemp("mixed-service") / "data", env)
    server.start()
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            yield client
    finally:
        server.stop()


def _wait(api: httpx.Client, job_id: str, timeout: float = 180) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in {"succeeded", "failed", "cancelled"}:
            return dict(job)
        time.sleep(0.1)
    raise TimeoutError(api.get(f"/v1/jobs/{job_id}").json())


def test_cpu_jobs_wait_for_the_cpu_worker_rather_than_take_the_gpu_worker(
    api: httpx.Client, mixed: Client, data: np.ndarray
) -> None:
    # Three jobs at once for one single-threaded CPU worker: the GPU worker is idle all along,
    # yet none of them runs there.
    cpu, _ = _addresses(mixed)
    spec = {"data": data[:400].tolist(), "execution": "local", **QUICK}
    ids = []
    for _ in range(3):
        r = api.post("/v1/jobs", json=spec)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    jobs = [_wait(api, job_id) for job_id in ids]
    assert [j["state"] for j in jobs] == ["succeeded"] * 3, jobs
    assert {j["worker"] for j in jobs} == {cpu}


def test_a_cupy_job_is_refused_at_submission(api: httpx.Client, data: np.ndarray) -> None:
    spec = {"data": data[:50].tolist(), "n_components": 4}
    r = api.post("/v1/jobs", json={**spec, "backend": "cupy"})
    assert r.status_code == 409, r.text
    assert "cupy" in r.json()["detail"]
    # cd and lars have CPU kernels only: refused as invalid before any worker is asked
    for solver in ("cd", "lars"):
        r = api.post("/v1/jobs", json={**spec, "backend": "cupy", "code_solver": solver})
        assert r.status_code == 422, r.text
        assert "CPU only" in r.json()["detail"], r.json()
