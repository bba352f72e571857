"""End to end: a real `sparsecoding serve` (uvicorn, embedded LocalCluster, SQLite on
disk) on a loopback port, driven over HTTP. Kills are real: SIGKILL of the server process,
SIGKILL of the worker process running a job."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from PIL import Image
from server_process import Server
from service_testing import (
    ALICE_KEY,
    API_KEYS,
    BOB_KEY,
    METRICS_KEY,
    NPY,
    assert_problem,
    auth,
    load_npy,
    matrix,
    npy,
    parse_sse,
    submit,
    upload,
    wait_for,
)

import solvers

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# Deterministic and long enough (about 5 s on one core) to be caught in the middle even on a
# slow CI machine, whose polling and kill must land before the fit ends.
X_LONG = matrix(1000, 32, seed=1)
LONG = {"n_components": 16, "max_iter": 4000, "tol": 0.0, "alpha": 0.2, "random_state": 0}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"SPARSECODING_API_KEYS": API_KEYS, "SPARSECODING_METRICS_KEY": METRICS_KEY}
    server = Server(tmp_path_factory.mktemp("e2e") / "data", env)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reference() -> solvers.FitResult:
    """The uninterrupted fit of the long job, computed here, outside the service."""
    return solvers.fit(X_LONG, **LONG)


def _client(url: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, headers=auth(key), timeout=30)


@pytest.fixture
async def alice(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(server.url, ALICE_KEY) as c:
        yield c


@pytest.fixture
async def bob(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(server.url, BOB_KEY) as c:
        yield c


async def test_whole_fit_from_upload_to_encode(alice: httpx.AsyncClient) -> None:
    X = matrix(200, 16)
    dataset_id = await upload(alice, X)
    job = await submit(alice, dataset_id=dataset_id, n_components=8, max_iter=30, alpha=0.3)
    async with alice.stream("GET", f"/v1/jobs/{job['id']}/events") as r:
        events = parse_sse("".join([t async for t in r.aiter_text()]))
    progress = [e for e in events if e["event"] == "progress"]
    assert [int(e["id"]) for e in progress] == list(range(1, len(progress) + 1))
    assert events[-1]["event"] == "status" and len(events) == len(progress) + 1
    final = json.loads(events[-1]["data"])
    assert final["state"] == "succeeded" and final["n_iter"] == len(progress)
    model_id = final["model_id"]
    r = await alice.get(f"/v1/models/{model_id}/dictionary", headers={"Accept": NPY})
    W = load_npy(r.content)
    assert W.shape == (8, 16)
    r = await alice.post(
        f"/v1/models/{model_id}/encode", content=npy(X[:16]),
        headers={"Content-Type": NPY, "Accept": NPY},
    )  # fmt: skip
    codes = load_npy(r.content)
    np.testing.assert_allclose(codes, solvers.encode(X[:16], W, alpha=0.3), atol=1e-8)
    r = await alice.get(f"/v1/models/{model_id}/atoms.png")
    assert Image.open(io.BytesIO(r.content)).format == "PNG"
    metrics = (await alice.get("/metrics", headers=auth(METRICS_KEY))).text
    assert 'sparsecoding_jobs{state="succeeded"}' in metrics


async def test_cancel_a_running_job(alice: httpx.AsyncClient) -> None:
    dataset_id = await upload(alice, X_LONG)
    job = await submit(alice, dataset_id=dataset_id, **{**LONG, "max_iter": 100000})
    await wait_for(alice, job["id"], {"running"}, predicate=lambda j: j["progress"])
    asked = time.monotonic()
    await alice.post(f"/v1/jobs/{job['id']}/cancel")
    done = await wait_for(alice, job["id"], timeout=10)
    assert done["state"] == "cancelled" and time.monotonic() - asked < 2.5


async def test_two_tenants_cannot_see_each_other(alice, bob) -> None:  # type: ignore[no-untyped-def]
    mine = await upload(alice, matrix(50, 4))
    job = await submit(alice, dataset_id=mine, n_components=2, max_iter=5)
    done = await wait_for(alice, job["id"])
    theirs = await upload(bob, matrix(50, 4))
    for path in [
        f"/v1/datasets/{mine}",
        f"/v1/jobs/{job['id']}",
        f"/v1/jobs/{job['id']}/codes",
        f"/v1/models/{done['model_id']}",
        f"/v1/models/{done['model_id']}/dictionary",
    ]:
        assert_problem(await bob.get(path), 404, "not-found")
    assert_problem(await alice.get(f"/v1/datasets/{theirs}"), 404, "not-found")
    r = await bob.post("/v1/jobs", json={"dataset_id": mine, "n_components": 2})
    assert_problem(r, 404, "not-found")
    assert [d["id"] for d in (await bob.get("/v1/datasets")).json()["data"]] == [theirs]
    assert all(j["id"] != job["id"] for j in (await bob.get("/v1/jobs")).json()["data"])
    assert (await bob.get("/v1/models")).json()["count"] == 0


async def _caught_running(client: httpx.AsyncClient, job_id: str, checkpoint: Path) -> dict:  # type: ignore[type-arg]
    """Wait until the job is well into its run and has written a checkpoint."""
    job = await wait_for(
        client, job_id, {"running"},
        predicate=lambda j: j["progress"] and j["progress"]["iteration"] >= 100
        and checkpoint.exists(),
    )  # fmt: skip
    assert job["progress"]["iteration"] < LONG["max_iter"], "the job was not caught mid-run"
    return job


async def test_worker_killed_mid_job_resumes(
    server: Server, alice: httpx.AsyncClient, reference: solvers.FitResult
) -> None:
    dataset_id = await upload(alice, X_LONG)
    job = await submit(alice, dataset_id=dataset_id, **LONG)
    checkpoint = server.data_dir / "checkpoints" / f"{job['id']}.npz"
    running = await _caught_running(alice, job["id"], checkpoint)
    psutil.Process(server.worker_pid(running["worker"])).kill()
    done = await wait_for(alice, job["id"], timeout=90)
    assert done["state"] == "succeeded" and done["attempts"] == 2, done
    assert done["n_iter"] == reference.n_iter
    assert done["objective"] == pytest.approx(reference.objective, rel=1e-9)
    assert not checkpoint.exists()


async def test_a_dead_worker_charges_only_the_job_it_was_running(
    server: Server, alice: httpx.AsyncClient
) -> None:
    """Four long jobs on two workers: each runs one and holds the next. Killing a worker
    costs its running job an attempt; the job waiting behind it never ran and is not charged
    (it was: a job that kills workers could push innocent ones to failed)."""
    dataset_id = await upload(alice, X_LONG)
    jobs = [(await submit(alice, dataset_id=dataset_id, **LONG))["id"] for _ in range(4)]
    checkpoint = server.data_dir / "checkpoints" / f"{jobs[0]}.npz"
    running = await _caught_running(alice, jobs[0], checkpoint)
    psutil.Process(server.worker_pid(running["worker"])).kill()
    done = [await wait_for(alice, job_id, timeout=120) for job_id in jobs]
    assert [j["state"] for j in done] == ["succeeded"] * 4, done
    assert [j["attempts"] for j in done] == [2, 1, 1, 1], done


async def test_kill9_of_the_server_then_restart(
    tmp_path: Path, reference: solvers.FitResult
) -> None:
    server = Server(tmp_path / "data")  # no keys configured: serve creates and prints one
    try:
        key = server.printed_key(server.start())
        keys_file = (tmp_path / "data" / "api_keys").read_text()
        assert key not in keys_file and "default:sha256:" in keys_file
        async with _client(server.url, key) as client:
            dataset_id = await upload(client, X_LONG)
            running = await submit(client, dataset_id=dataset_id, **LONG)
            queued = await submit(client, dataset_id=dataset_id, **{**LONG, "max_iter": 20})
            checkpoint = server.data_dir / "checkpoints" / f"{running['id']}.npz"
            await _caught_running(client, running["id"], checkpoint)
        server.kill9()
        printed = server.start()
        assert "API key for tenant" not in printed  # the stored (hashed) key is kept
        async with _client(server.url, key) as client:
            done = await wait_for(client, running["id"], timeout=90)
            other = await wait_for(client, queued["id"], timeout=60)
            r = await client.get(
                f"/v1/models/{done['model_id']}/dictionary", headers={"Accept": NPY}
            )
        assert done["state"] == other["state"] == "succeeded", (done, other)
        assert done["attempts"] == 2 and done["n_iter"] == reference.n_iter
        assert done["objective"] == pytest.approx(reference.objective, rel=1e-9)
        np.testing.assert_allclose(load_npy(r.content), reference.dictionary, atol=1e-9)
    finally:
        server.stop()
