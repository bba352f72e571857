"""A Dask scheduler and two workers as separate processes on loopback, started the way
docker-compose.yml starts them (`dask scheduler`, `dask worker`), shared by this directory."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from distributed import Client

DASK = str(Path(sys.executable).with_name("dask"))
N_WORKERS = 2
# As docker-compose.yml runs them: one process of one thread per worker (a fit's compiled
# kernels use the cores), on loopback here.
WORKER_ARGS = ("--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard")


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size > 0):
        if process.poll() is not None:
            raise RuntimeError(f"the scheduler exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no scheduler file {path} after {timeout} s")
        time.sleep(0.1)
    json.loads(path.read_text())


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def dask_cluster(root: Path, workers: list[tuple[str, ...]]) -> Iterator[Path]:
    """A `dask scheduler` and one `dask worker` per entry of `workers` (its extra arguments,
    e.g. ("--resources", "GPU=1")), as processes on loopback; yields the scheduler file."""
    path = root / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "3"}
    common = {"cwd": root, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [
            DASK,
            "scheduler",
            *("--host", "127.0.0.1", "--port", "0", "--no-dashboard"),
            "--scheduler-file",
            str(path),
        ],
        **common,  # type: ignore[call-overload]
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        _wait_for_file(path, scheduler)
        for i, extra in enumerate(workers):
            processes.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        "--scheduler-file",
                        str(path),
                        *WORKER_ARGS,
                        "--local-directory",
                        str(root / f"worker-{i}"),
                        "--name",
                        f"w{i}",
                        *extra,
                    ],
                    **common,  # type: ignore[call-overload]
                )
            )
        yield path
    finally:
        for process in [*processes, scheduler]:
            _stop(process)


@pytest.fixture(scope="session")
def scheduler_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The scheduler file of a running `dask scheduler` with N_WORKERS `dask worker`s."""
    with dask_cluster(tmp_path_factory.mktemp("dask"), [()] * N_WORKERS) as path:
        yield path


@pytest.fixture
def client(scheduler_file: Path) -> Iterator[Client]:
    """A client of the shared cluster, once all its workers are up (one may be restarting)."""
    with Client(scheduler_file=str(scheduler_file), timeout=60) as c:
        c.wait_for_workers(N_WORKERS, timeout=60)
        yield c


@pytest.fixture(scope="session")
def data() -> np.ndarray:
    """X (2000, 16) = H W + noise with 8 unit-norm atoms and sparse H, float64."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((8, 16))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    H = rng.standard_normal((2000, 8)) * (rng.random((2000, 8)) < 0.3)
    return H @ W + 0.05 * rng.standard_normal((2000, 16))


@pytest.fixture(scope="session")
def data_file(data: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`data` as a .npy file, the way the service keeps datasets."""
    path = tmp_path_factory.mktemp("data") / "X.npy"
    np.save(path, data)
    return path


@pytest.fixture(scope="session")
def mixed_scheduler_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cluster of one CPU worker (`w0`) and one worker started as docker-compose.yml starts
    its GPU worker, with the Dask resource GPU=1 (`w1`; a CPU process here, without CuPy)."""
    workers = [(), ("--resources", "GPU=1")]
    with dask_cluster(tmp_path_factory.mktemp("mixed-dask"), workers) as path:
        yield path
