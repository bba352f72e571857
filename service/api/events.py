"""Server-Sent Events of a job: its progress records in order, then its final status; a
`phase` event when a running job is doing something other than fitting (compiling the CPU
kernels, on the first job after an install), and again when it is back to fitting.

Each progress event carries `id: <iteration>`, so a client that reconnects with
`Last-Event-ID` gets only what it has not seen. The stream polls the database (the workers
write there) and ends after the `status` event of a finished job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import Request

from ..schemas.jobs import JobPublic, PhasePublic, ProgressPublic
from ..state import AppState
from ..store.db import Session
from ..store.jobs import JobRepository
from ..store.records import JobRecord, JobState, ProgressRecord

POLL_S = 0.2
KEEPALIVE_S = 15.0
BATCH = 500


def _event(kind: str, data: str, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n"


# Event ids are iterations, SQLite integers: a larger Last-Event-ID means "after every one".
MAX_EVENT_ID = 2**63 - 1


def parse_last_event_id(value: str | None) -> int:
    """The iteration after which to resume (-1: from the start; junk counts as no id)."""
    try:
        after = int(value) if value is not None else -1
    except ValueError:
        return -1
    return max(-1, min(after, MAX_EVENT_ID))


def _job_and_progress(
    session: Session, job_id: str, after: int
) -> tuple[JobRecord | None, list[ProgressRecord]]:
    """The job, then its progress after `after`, in one read transaction: once the state read
    is final, every progress row (written before the final state, by the same run) is in it."""
    jobs = JobRepository(session)
    job = jobs.get_by_id(job_id)
    return job, ([] if job is None else jobs.progress_after(job_id, after, BATCH))


async def job_events(
    state: AppState, request: Request, job_id: str, after: int
) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    last_sent = time.monotonic()
    phase = "fitting"  # the usual: said only after something else was
    while True:
        job, records = await state.db.read(_job_and_progress, job_id, after)
        if job is None:
            return
        if job.state == JobState.running and job.phase is not None and job.phase != phase:
            phase = job.phase
            yield _event("phase", PhasePublic.of(phase).model_dump_json())
            last_sent = time.monotonic()
        for record in records:
            payload = ProgressPublic(**record.__dict__).model_dump_json()
            yield _event("progress", payload, record.iteration)
            after = record.iteration
            last_sent = time.monotonic()
        if len(records) == BATCH:
            continue
        if job.terminal:
            yield _event("status", JobPublic.of(job).model_dump_json())
            return
        if state.stopping or await request.is_disconnected():
            return  # the client reconnects (`retry`) to the next server with Last-Event-ID
        if time.monotonic() - last_sent > KEEPALIVE_S:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(POLL_S)
