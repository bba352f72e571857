"""Server-Sent Events of a job: its progress records in order, then its final status; a
`phase` event when a running job is doing something other than fitting (compiling the CPU
kernels, on the first job after an install), and again when it is back to fitting.

Each progress event carries `id: <iteration>`, so a client that reconnects with
`Last-Event-ID` gets only what it has not seen. The workers write to the database; a stream
reads its backlog there and then follows the job through the app's `JobFeed`, which polls once
for every stream. It ends after the `status` event of a finished job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

import solvers

from ..errors import TooManyStreams
from ..schemas.jobs import JobPublic, PhasePublic
from ..state import AppState
from ..store.jobs import progress_of
from ..store.records import JobRecord, JobState
from .job_feed import BATCH, Watch
from .sse import progress_event, sse_event

KEEPALIVE_S = 15.0
DISCONNECT_CHECK_S = 1.0  # how often a waiting stream asks whether its client is still there

# Event ids are iterations, SQLite integers: a larger Last-Event-ID means "after every one".
MAX_EVENT_ID = 2**63 - 1


def parse_last_event_id(value: str | None) -> int:
    """The iteration after which to resume (-1: from the start; junk counts as no id)."""
    try:
        after = int(value) if value is not None else -1
    except ValueError:
        return -1
    return max(-1, min(after, MAX_EVENT_ID))


class EventStream(StreamingResponse):
    """A tenant's event stream, counted while it is open: past `max_streams` another one is
    a 429. Counted here, not in the generator, because a generator that never started (its
    client gone first) never runs its `finally`; a response's call always returns."""

    def __init__(self, state: AppState, tenant: str, content: AsyncIterator[str]) -> None:
        limit = state.settings.max_streams
        if state.open_streams[tenant] >= limit:
            raise TooManyStreams(
                f"{limit} event streams of yours are open (the limit); close one, or poll "
                "GET /v1/jobs/{id}",
                retry_after=state.settings.retry_after_s,
            )
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._state, self._tenant = state, tenant
        state.open_streams[tenant] += 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._state.open_streams[self._tenant] -= 1
            if self._state.open_streams[self._tenant] <= 0:
                del self._state.open_streams[self._tenant]


class _Cursor:
    """Where one stream is: the last iteration sent, the phase said, when it last sent."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.phase = "fitting"  # the usual: said only after something else was
        self.last_sent = time.monotonic()

    def text(self, job: JobRecord, newest: int, progress: str) -> str:
        """What to send now: a phase event if the phase changed, then `progress` (the events
        up to iteration `newest`)."""
        out = progress
        if job.state == JobState.running and job.phase is not None and job.phase != self.phase:
            self.phase = job.phase
            out = sse_event("phase", PhasePublic.of(job.phase).model_dump_json()) + out
        self.after = max(self.after, newest)
        if out:
            self.last_sent = time.monotonic()
        return out

    def records(self, job: JobRecord, records: list[solvers.Progress]) -> str:
        newest = records[-1].iteration if records else self.after
        return self.text(job, newest, "".join(progress_event(r) for r in records))

    def keep_alive(self) -> str:
        if time.monotonic() - self.last_sent <= KEEPALIVE_S:
            return ""
        self.last_sent = time.monotonic()
        return ": keep-alive\n\n"


def _status(job: JobRecord) -> str:
    return sse_event("status", JobPublic.of(job).model_dump_json())


async def job_events(
    state: AppState, request: Request, job_id: str, after: int
) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    cursor = _Cursor(after)
    while True:  # the backlog, from the database
        [(job, records)] = await progress_of(state.db, [(job_id, cursor.after)])
        if job is None:
            return
        if text := cursor.records(job, records):
            yield text
        if len(records) < BATCH:
            break
    if job.terminal:
        yield _status(job)
        return
    watch = state.job_feed.follow(job_id, cursor.after)
    try:
        async for text in _followed(state, request, watch, cursor):
            yield text
    finally:
        state.job_feed.leave(watch)


async def _followed(
    state: AppState, request: Request, watch: Watch, cursor: _Cursor
) -> AsyncIterator[str]:
    """The rest of a stream, from the feed's memory (its database when too far behind)."""
    checked = time.monotonic()
    while True:
        tick = watch.tick
        memory = watch.after(cursor.after)
        if memory is None:  # fell behind what the feed keeps
            [(job, records)] = await progress_of(state.db, [(watch.job_id, cursor.after)])
            if job is None:
                return
            if text := cursor.records(job, records):
                yield text
            if job.terminal and len(records) < BATCH:
                yield _status(job)
                return
            continue
        if watch.polled and watch.job is None:
            return  # gone (its dataset was deleted)
        if watch.job is not None:
            if text := cursor.text(watch.job, *memory):
                yield text
            if watch.settled(cursor.after):
                yield _status(watch.job)
                return
        if state.stopping:
            return  # the client reconnects (`retry`) to the next server with Last-Event-ID
        if text := cursor.keep_alive():
            yield text
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tick.wait(), DISCONNECT_CHECK_S)
        if time.monotonic() - checked >= DISCONNECT_CHECK_S:
            checked = time.monotonic()
            if await request.is_disconnected():
                return
