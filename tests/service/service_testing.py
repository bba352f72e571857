"""Small helpers shared by the service tests."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import solvers
from service.settings import Settings

ALICE_KEY = "alice-key-0123456789abcdef"
BOB_KEY = "bob-key-0123456789abcdef0"
API_KEYS = f"alice:{ALICE_KEY},bob:{BOB_KEY}"
METRICS_KEY = "operator-metrics-key-0123456789"
NPY = "application/x-npy"
TERMINAL = {"succeeded", "failed", "cancelled"}


def cupy_available_here() -> bool:
    """The test cluster's workers run on this machine: they have cupy exactly when it has."""
    return any(b["name"] == "cupy" and b["available"] for b in solvers.available_backends())


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[Any]:
    """`app` with its lifespan running and its start-up work done (kernels loaded, the Dask
    cluster connected): what a client finds once `/readyz` answers 200."""
    async with app.router.lifespan_context(app):
        await app.state.service.started()
        yield app


def in_process_client(app: Any, key: str | None = ALICE_KEY) -> httpx.AsyncClient:
    """A client of `app` through httpx.ASGITransport (the app's lifespan must be running)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers=auth(key) if key else {},
        timeout=60,
    )


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def load_npy(body: bytes) -> np.ndarray:
    return np.load(io.BytesIO(body), allow_pickle=False)


def matrix(n: int = 200, p: int = 16, seed: int = 0) -> np.ndarray:
    """Samples that are sparse combinations of a few atoms, plus noise (n, p)."""
    rng = np.random.default_rng(seed)
    atoms = rng.standard_normal((8, p))
    codes = rng.standard_normal((n, 8)) * (rng.random((n, 8)) < 0.3)
    return codes @ atoms + 0.05 * rng.standard_normal((n, p))


async def wait_for(
    client: httpx.AsyncClient,
    job_id: str,
    states: set[str] | None = None,
    timeout: float = 60.0,
    predicate: Any = None,
) -> dict[str, Any]:
    """Poll GET /v1/jobs/{id} until its state is in `states` (default: terminal)."""
    states = states or TERMINAL
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["state"] in states and (predicate is None or predicate(job)):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {job['state']} after {timeout} s: {job}")
        await asyncio.sleep(0.1)


def parse_sse(text: str) -> list[dict[str, str]]:
    """Events of a text/event-stream body, each {id?, event, data}."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "event" in fields:
            events.append(fields)
    return events


def assert_problem(r: httpx.Response, status: int, slug: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["type"]
    if slug is not None:
        assert body["type"] == f"urn:sparsecoding:problem:{slug}", body
    return body


async def upload(client: httpx.AsyncClient, X: np.ndarray) -> str:
    r = await client.post("/v1/datasets", content=npy(X), headers={"Content-Type": NPY})
    assert r.status_code == 201, r.text
    dataset_id: str = r.json()["id"]
    return dataset_id


async def submit(client: httpx.AsyncClient, **spec: Any) -> dict[str, Any]:
    r = await client.post("/v1/jobs", json=spec)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    job: dict[str, Any] = r.json()
    return job


async def fitted(
    client: httpx.AsyncClient, X: np.ndarray | None = None, **spec: Any
) -> dict[str, Any]:
    """Upload X (default: 200×16), fit 8 atoms, wait for success; the final job."""
    X = matrix() if X is None else X
    dataset_id = await upload(client, X)
    options = {"n_components": 8, "max_iter": 15, "alpha": 0.3, "random_state": 0, **spec}
    job = await submit(client, dataset_id=dataset_id, **options)
    done = await wait_for(client, job["id"])
    assert done["state"] == "succeeded", done
    return done


# A fit long enough to be caught running: a few seconds on one core, checkpointed often.
LONG_FIT = {"n_components": 16, "max_iter": 100000, "tol": 0.0, "alpha": 0.2, "random_state": 0}


def make_settings(data_dir: Path, scheduler: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "api_keys": API_KEYS,
        "metrics_key": METRICS_KEY,
        "dask_scheduler": scheduler,
        "dispatch_interval_s": 0.1,
        "heartbeat_interval_s": 0.2,
        "checkpoint_interval_s": 0.5,
        "sqlite_synchronous": "NORMAL",
    }
    values.update(overrides)
    return Settings(**values)
