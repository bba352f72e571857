"""GET /v1/jobs/{id}/events: Server-Sent Events, in order, resumable."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest
from service_testing import (
    LONG_FIT,
    NPY,
    fitted,
    load_npy,
    matrix,
    parse_sse,
    submit,
    wait_for,
)

import solvers

pytestmark = pytest.mark.anyio


async def test_progress_in_order_then_status(client: httpx.AsyncClient) -> None:
    job = await submit(client, data=matrix().tolist(), n_components=8, max_iter=12, tol=0.0)
    async with client.stream("GET", f"/v1/jobs/{job['id']}/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join([chunk async for chunk in r.aiter_text()])
    events = parse_sse(text)
    progress = [e for e in events if e["event"] == "progress"]
    assert [e["event"] for e in events] == ["progress"] * len(progress) + ["status"]
    ids = [int(e["id"]) for e in progress]
    assert ids == list(range(1, 13))
    records = [json.loads(e["data"]) for e in progress]
    assert [r["iteration"] for r in records] == ids
    assert all(a["objective"] >= b["objective"] - 1e-9 for a, b in itertools.pairwise(records))
    final = json.loads(events[-1]["data"])
    assert final["id"] == job["id"] and final["state"] == "succeeded"


async def test_last_event_id_resumes(client: httpx.AsyncClient) -> None:
    job = await fitted(client, max_iter=10, tol=0.0)
    r = await client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": "7"})
    events = parse_sse(r.text)
    assert [e.get("id") for e in events] == ["8", "9", "10", None]
    r = await client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": "junk"})
    assert len(parse_sse(r.text)) == 11


async def test_cancelled_queued_job_streams_only_its_status(idle_client: httpx.AsyncClient) -> None:
    job = await submit(idle_client, data=matrix(20, 4).tolist(), n_components=2)
    await idle_client.post(f"/v1/jobs/{job['id']}/cancel")
    events = parse_sse((await idle_client.get(f"/v1/jobs/{job['id']}/events")).text)
    assert [e["event"] for e in events] == ["status"]
    assert json.loads(events[0]["data"])["state"] == "cancelled"


async def test_online_progress_is_labelled_an_estimate_and_the_result_is_exact(
    client: httpx.AsyncClient,
) -> None:
    X = matrix(300, 16, seed=2)
    job = await fitted(client, X, mode="online", batch_size=32, max_iter=3)
    events = parse_sse((await client.get(f"/v1/jobs/{job['id']}/events")).text)
    records = [json.loads(e["data"]) for e in events if e["event"] == "progress"]
    assert records and all(r["estimate"] is True for r in records)
    r = await client.get(f"/v1/jobs/{job['id']}/codes", headers={"Accept": "application/x-npy"})
    codes = load_npy(r.content)
    r = await client.get(f"/v1/models/{job['model_id']}/dictionary", headers={"Accept": NPY})
    true = solvers.objective(X, codes, load_npy(r.content), 0.3)
    assert job["objective"] == pytest.approx(true, rel=1e-9)
    batch = await fitted(client, X, max_iter=3)
    events = parse_sse((await client.get(f"/v1/jobs/{batch['id']}/events")).text)
    assert all(json.loads(e["data"])["estimate"] is False for e in events[:-1])


async def test_a_stopping_server_ends_open_streams(app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    """Once a stop signal has arrived, an event stream of a running job ends at once, without
    a status (the client reconnects to the next server with Last-Event-ID), rather than
    holding the shutdown for its timeout. (In process, the body is read whole: the signal
    comes first; tests/service/test_serve_command.py sends a real one mid-stream.)"""
    job = await submit(client, data=matrix(1000, 32).tolist(), **LONG_FIT)
    await wait_for(client, job["id"], {"running"})
    app.state.service.begin_stop()
    events = parse_sse((await client.get(f"/v1/jobs/{job['id']}/events")).text)
    assert all(e["event"] != "status" for e in events)
    await client.post(f"/v1/jobs/{job['id']}/cancel")
    assert (await wait_for(client, job["id"]))["state"] == "cancelled"
