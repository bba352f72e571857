"""The dispatcher's recovery paths against a real cluster and database: runs that lost their
heartbeat, jobs left running by a previous server, attempts that run out, clean shutdown."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from service_testing import (
    ALICE_KEY,
    BOB_KEY,
    LONG_FIT,
    in_process_client,
    make_settings,
    matrix,
    running,
    submit,
    upload,
    wait_for,
)

from service.app import create_app
from service.store.db import Session, now
from service.store.jobs import JobRepository

pytestmark = pytest.mark.anyio


def _pretend_running(session: Session, job_id: str, attempts: int, heartbeat: float) -> None:
    """What a worker that died right after claiming the job leaves in the database."""
    session.execute(
        "UPDATE jobs SET state = 'running', run_token = 'gone', attempts = ?, heartbeat_at = ?, "
        "started_at = ? WHERE id = ?",
        (attempts, heartbeat, heartbeat, job_id),
    )


async def _queued_job(tmp_path: Path, scheduler: str) -> str:
    """A job queued in a data directory whose server never got to run it."""
    app = create_app(make_settings(tmp_path, scheduler))
    async with running(app):
        async with in_process_client(app) as client:
            job = await submit(client, data=matrix(50, 8).tolist(), n_components=4, max_iter=5)
    return str(job["id"])


async def test_job_left_running_is_requeued_at_startup(
    tmp_path: Path, idle_scheduler: str, dask_scheduler: str
) -> None:
    job_id = await _queued_job(tmp_path, idle_scheduler)
    app = create_app(make_settings(tmp_path, dask_scheduler))
    db = app.state.service.db
    db.open()
    await db.write(_pretend_running, job_id, 1, now())
    db.close()
    async with running(app):
        async with in_process_client(app) as client:
            done = await wait_for(client, job_id, timeout=15)
    assert done["state"] == "succeeded" and done["attempts"] == 2


async def test_stale_heartbeat_requeues_then_gives_up(
    tmp_path: Path, idle_scheduler: str, dask_scheduler: str
) -> None:
    settings = make_settings(tmp_path, dask_scheduler, stale_after_s=1.0, max_attempts=2)
    app = create_app(settings)
    async with running(app):
        db = app.state.service.db
        async with in_process_client(app) as client:
            dataset_id = await upload(client, matrix(2000, 64))
            job = await submit(client, dataset_id=dataset_id, **LONG_FIT)
            await wait_for(client, job["id"], {"running"}, predicate=lambda j: j["progress"])
            # the run is alive, but its heartbeat goes stale: the dispatcher must give it up
            await db.write(_pretend_running, job["id"], 1, now() - 60)
            await wait_for(
                client, job["id"], {"running", "queued"}, predicate=lambda j: j["attempts"] == 2
            )  # requeued, and claimed again (which clears the first run's error)
            await wait_for(client, job["id"], {"running"}, predicate=lambda j: j["progress"])
            await db.write(_pretend_running, job["id"], 2, now() - 60)
            failed = await wait_for(client, job["id"], timeout=10)
    assert failed["state"] == "failed" and "gave up after 2 attempts" in failed["error"]


async def test_clean_shutdown_requeues_running_job_without_counting(
    tmp_path: Path, dask_scheduler: str
) -> None:
    app = create_app(make_settings(tmp_path, dask_scheduler))
    async with running(app):
        async with in_process_client(app) as client:
            dataset_id = await upload(client, matrix(2000, 64))
            job = await submit(client, dataset_id=dataset_id, **LONG_FIT)
            await wait_for(client, job["id"], {"running"})
    db = app.state.service.db
    db.open()
    try:
        record = await db.read(lambda s: JobRepository(s).get_by_id(job["id"]))
    finally:
        db.close()
    assert record is not None and record.state == "queued" and record.attempts == 0
    assert record.error is not None and "shutdown" in record.error


async def test_dask_gets_two_runs_per_worker_thread_oldest_first(
    tmp_path: Path, dask_scheduler: str
) -> None:
    """The database is the queue: with 2 worker threads, Dask holds the 4 oldest jobs; a run
    that ends makes room for the next oldest; nothing else reaches the scheduler."""
    app = create_app(make_settings(tmp_path, dask_scheduler))
    async with running(app):
        dispatcher = app.state.service.dispatcher
        async with in_process_client(app) as client:
            dataset_id = await upload(client, matrix(2000, 64))
            jobs = [
                (await submit(client, dataset_id=dataset_id, **LONG_FIT))["id"] for _ in range(7)
            ]
            await wait_for(client, jobs[0], {"running"})
            await wait_for(client, jobs[1], {"running"})
            assert set(dispatcher.futures) == set(jobs[:4])
            for job_id in jobs[4:]:
                assert (await client.get(f"/v1/jobs/{job_id}")).json()["state"] == "queued"
            await client.post(f"/v1/jobs/{jobs[0]}/cancel")
            await wait_for(client, jobs[0], {"cancelled"})
            deadline = time.monotonic() + 30
            while jobs[4] not in dispatcher.futures:
                assert time.monotonic() < deadline, list(dispatcher.futures)
                await asyncio.sleep(0.1)
            assert set(dispatcher.futures) == set(jobs[1:5])
            for job_id in jobs[1:]:
                await client.post(f"/v1/jobs/{job_id}/cancel")
            for job_id in jobs[1:]:
                await wait_for(client, job_id, {"cancelled"})


async def test_no_worker_no_run_handed_to_dask(tmp_path: Path, idle_scheduler: str) -> None:
    app = create_app(make_settings(tmp_path, idle_scheduler))
    async with running(app):
        async with in_process_client(app) as client:
            dataset_id = await upload(client, matrix(50, 8))
            for _ in range(3):
                await submit(client, dataset_id=dataset_id, n_components=4, max_iter=5)
            await app.state.service.dispatcher.scan()
            assert app.state.service.dispatcher.futures == {}


async def test_a_stale_run_is_requeued_with_its_reason(tmp_path: Path, idle_scheduler: str) -> None:
    """No worker to hand it to again: the requeued job shows why its run was given up."""
    job_id = await _queued_job(tmp_path, idle_scheduler)
    app = create_app(make_settings(tmp_path, idle_scheduler, stale_after_s=1.0))
    async with running(app):
        state = app.state.service
        await state.db.write(_pretend_running, job_id, 1, now() - 60)
        await state.dispatcher.scan()
        async with in_process_client(app) as client:
            job = (await client.get(f"/v1/jobs/{job_id}")).json()
    assert job["state"] == "queued" and job["attempts"] == 1
    assert "no heartbeat for 1 s" in job["error"]


async def test_another_tenant_waits_for_one_run_not_for_the_queue(
    tmp_path: Path, dask_scheduler: str
) -> None:
    """Alice's six long jobs fill both workers (two running, two ready in Dask, two in the
    queue); Bob's short job, submitted then, runs before every Alice job that had not started:
    the ready slot Alice's fourth held goes to Bob (it was first in, first out: Bob waited
    for all six)."""
    app = create_app(make_settings(tmp_path, dask_scheduler))
    async with running(app):
        async with (
            in_process_client(app, ALICE_KEY) as alice,
            in_process_client(app, BOB_KEY) as bob,
        ):
            dataset = await upload(alice, matrix(2000, 64))
            long_job = {**LONG_FIT, "time_limit": 1.5}
            alices = [(await submit(alice, dataset_id=dataset, **long_job))["id"] for _ in range(6)]
            await wait_for(alice, alices[0], {"running"})
            await wait_for(alice, alices[1], {"running"})
            short = await submit(bob, data=matrix(100, 8).tolist(), n_components=2, max_iter=3)
            theirs = await wait_for(bob, short["id"], timeout=60)
            mine = [await wait_for(alice, job_id, timeout=60) for job_id in alices]
    assert theirs["state"] == "succeeded" and all(j["state"] == "succeeded" for j in mine)
    assert all(theirs["started_at"] < j["started_at"] for j in mine[3:]), (theirs, mine)


def test_fair_picks_serve_the_least_served_tenant_first() -> None:
    from collections import Counter

    from service.runner.dispatcher import fair_picks

    waiting = [("a1", "alice"), ("b1", "bob"), ("a2", "alice"), ("a3", "alice"), ("c1", "carol")]
    assert fair_picks(waiting, Counter(), 3) == ["a1", "b1", "c1"]
    assert fair_picks(waiting, Counter({"alice": 2}), 4) == ["b1", "c1", "a1", "a2"]
    assert fair_picks(waiting, Counter({"bob": 1, "carol": 5}), 5) == ["a1", "b1", "a2", "a3", "c1"]
    assert fair_picks(waiting, Counter(), 0) == []


async def test_endless_jobs_give_their_workers_to_another_tenant_in_turn(
    tmp_path: Path, dask_scheduler: str
) -> None:
    """Alice's two endless jobs run on both workers: past the fair slice one of them gives
    its worker to Bob's short job (checkpointed, queued again, uncounted), then resumes from
    its checkpoint (its iterations go on from where they were)."""
    settings = make_settings(tmp_path, dask_scheduler, fair_slice_s=1.0)
    app = create_app(settings)
    async with running(app):
        async with (
            in_process_client(app, ALICE_KEY) as alice,
            in_process_client(app, BOB_KEY) as bob,
        ):
            dataset = await upload(alice, matrix(2000, 64))
            alices = [(await submit(alice, dataset_id=dataset, **LONG_FIT))["id"] for _ in range(2)]
            for job_id in alices:
                await wait_for(alice, job_id, {"running"}, predicate=lambda j: j["progress"])
            short = await submit(bob, data=matrix(100, 8).tolist(), n_components=2, max_iter=3)
            theirs = await wait_for(bob, short["id"], timeout=60)
            states = [(await alice.get(f"/v1/jobs/{job_id}")).json() for job_id in alices]
            assert theirs["state"] == "succeeded", theirs
            assert all(j["state"] in ("queued", "running") for j in states), states
            paused = next(j for j in states if j["state"] == "queued" or j["attempts"] == 1)
            before = paused["progress"]["iteration"]
            resumed = await wait_for(
                alice, paused["id"], {"running"},
                predicate=lambda j: j["progress"]["iteration"] > before,
            )  # fmt: skip
            assert resumed["attempts"] == 1, resumed  # giving way cost no attempt
            for job_id in alices:
                await alice.post(f"/v1/jobs/{job_id}/cancel")
            for job_id in alices:
                assert (await wait_for(alice, job_id))["state"] == "cancelled"


async def test_a_fit_that_diverges_fails_instead_of_storing_a_nan_model(
    tmp_path: Path, idle_scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever made it (options are checked finite, but a fit may still blow up), a
    dictionary with NaN in it is no model: the job fails saying so, nothing is stored."""
    import solvers
    from service.runner import task

    job_id = await _queued_job(tmp_path, idle_scheduler)
    real_fit = solvers.fit

    def diverging_fit(*args: object, **kwargs: object) -> solvers.FitResult:
        result = real_fit(*args, **kwargs)  # type: ignore[arg-type]
        result.dictionary[0, 0] = np.nan
        return result

    monkeypatch.setattr(task.solvers, "fit", diverging_fit)
    outcome = task.run_job(str(tmp_path), job_id, 0.2, 0.5)
    assert outcome == "failed"
    app = create_app(make_settings(tmp_path, idle_scheduler))
    async with running(app), in_process_client(app) as client:
        job = (await client.get(f"/v1/jobs/{job_id}")).json()
        assert job["state"] == "failed" and "diverged" in job["error"] and job["model_id"] is None
        assert (await client.get("/v1/models")).json()["count"] == 0


def test_progress_thinning_keeps_a_days_records_to_thousands() -> None:
    """A run at 100 iterations a second for two hours: every record of the first thousand
    iterations, then records spaced by at least 0.05 s and 0.1% of the elapsed time; the
    newest record not kept is handed over at a beat."""
    import itertools

    from service.runner.monitor import KEEP_ALL, ProgressThinning
    from solvers import Progress as ProgressRecord

    thinning = ProgressThinning()
    kept: list[ProgressRecord] = []
    for i in range(1, 720_001):
        record = ProgressRecord(i, 0.0, 1.0, i / 100, 0.0, False)
        if thinning.keeps(record):
            kept.append(record)
    assert [r.iteration for r in kept[:KEEP_ALL]] == list(range(1, KEEP_ALL + 1))
    later = kept[KEEP_ALL - 1 :]
    assert all(
        b.elapsed_s - a.elapsed_s >= max(0.05, 1e-3 * b.elapsed_s) - 1e-9
        for a, b in itertools.pairwise(later)
    )
    assert len(kept) < 8000  # of 720,000
    newest = thinning.take_newest()
    assert (newest or kept[-1]).iteration == 720_000  # the last is never lost
    assert thinning.take_newest() is None
