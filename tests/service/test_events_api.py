"""GET /v1/jobs/{id}/events: Server-Sent Events, in order, resumable."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest
from service_testing import (
    LONG_FIT,
    NPY,
    assert_problem,
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
    batch = await fitted(client, X, mode="batch", max_iter=3)
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


async def test_a_long_fast_run_keeps_its_first_thousand_records_and_its_last(
    client: httpx.AsyncClient,
) -> None:
    """Past a run's first thousand iterations, progress is thinned (a small fit runs a
    thousand a second, for up to a day): the stream still has every early iteration, in
    order, and ends with the last one, which the job reports too."""
    job = await fitted(client, matrix(20, 4), n_components=2, max_iter=2500, tol=0.0)
    r = await client.get(f"/v1/jobs/{job['id']}/events")
    events = parse_sse(r.text)
    ids = [int(e["id"]) for e in events if e["event"] == "progress"]
    assert ids[:1000] == list(range(1, 1001)) and ids == sorted(set(ids))
    assert ids[-1] == job["n_iter"] == job["progress"]["iteration"] == 2500
    assert json.loads(events[-1]["data"])["state"] == "succeeded"
    assert len(ids) < 2500  # thinned after the first thousand


async def test_many_streams_of_one_job_share_one_poll(app, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    """Thirty streams following one running job are one watch of the app's feed (each polled
    on its own, a hundred streams made every request wait 0.7 s): they all get the same
    events, in order, and the status; when they end, the feed follows nothing."""
    import asyncio

    feed = app.state.service.job_feed
    job_id = (await submit(client, data=matrix().tolist(), **LONG_FIT))["id"]
    await wait_for(client, job_id, {"running"}, predicate=lambda j: j["progress"] is not None)

    async def follow() -> list[dict[str, str]]:
        async with client.stream("GET", f"/v1/jobs/{job_id}/events") as r:
            return parse_sse("".join([chunk async for chunk in r.aiter_text()]))

    streams = [asyncio.create_task(follow()) for _ in range(30)]
    for _ in range(100):
        await asyncio.sleep(0.05)
        if job_id in feed.watches and feed.watches[job_id].followers == 30:
            break
    assert list(feed.watches) == [job_id] and feed.watches[job_id].followers == 30
    await client.post(f"/v1/jobs/{job_id}/cancel")
    results = await asyncio.gather(*streams)
    final = (await client.get(f"/v1/jobs/{job_id}")).json()
    for events in results:
        ids = [int(e["id"]) for e in events if e["event"] == "progress"]
        assert ids == [int(e["id"]) for e in results[0] if e["event"] == "progress"]
        assert ids[-1] == final["progress"]["iteration"] and ids == sorted(set(ids))
        assert json.loads(events[-1]["data"])["state"] == "cancelled"
    assert feed.watches == {}


async def test_a_tenant_past_its_open_streams_gets_429(
    tmp_path,  # type: ignore[no-untyped-def]
    idle_scheduler: str,
) -> None:
    """Open streams are bounded per tenant (each holds a connection and a place in the feed):
    one more is a 429 with Retry-After; another tenant is not affected; a client that goes
    away frees its place."""
    import asyncio

    from service_testing import ALICE_KEY, BOB_KEY, in_process_client, make_settings, running

    from service.app import create_app

    async def hold(client: httpx.AsyncClient, url: str) -> None:
        async with client.stream("GET", url) as r:
            async for _ in r.aiter_raw():
                pass

    async def until(condition) -> None:  # type: ignore[no-untyped-def]
        for _ in range(200):
            if condition():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the stream count never got there")

    settings = make_settings(tmp_path, idle_scheduler, max_streams=2)
    async with (
        running(create_app(settings)) as app,
        in_process_client(app, ALICE_KEY) as alice,
        in_process_client(app, BOB_KEY) as bob,
    ):
        queued = await submit(alice, data=matrix(20, 4).tolist(), n_components=2)
        url = f"/v1/jobs/{queued['id']}/events"
        open_streams = app.state.service.open_streams
        # ASGITransport hands a response over only once the app is done: streams run as tasks.
        held = [asyncio.create_task(hold(alice, url)) for _ in range(2)]
        await until(lambda: open_streams["alice"] == 2)
        r = await alice.get(url)
        assert_problem(r, 429, "too-many-streams")
        assert int(r.headers["Retry-After"]) >= 1
        theirs = await submit(bob, data=matrix(20, 4).tolist(), n_components=2)
        held.append(asyncio.create_task(hold(bob, f"/v1/jobs/{theirs['id']}/events")))
        await until(lambda: open_streams["bob"] == 1)
        held[0].cancel()  # the client goes away
        await until(lambda: open_streams["alice"] == 1)
        held.append(asyncio.create_task(hold(alice, url)))
        await until(lambda: open_streams["alice"] == 2)
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        await until(lambda: not open_streams)
