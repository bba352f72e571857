"""What followed jobs have done, read once per tick for every event stream that follows them.

Polled by each stream on its own, a hundred streams made every other request wait 0.7 s (four
hundred: 4 s): each poll is a database hop, a record and a disconnect check on the event loop.
Here one task polls all followed jobs in one read transaction per tick and keeps each job's
recent progress records in memory; a stream reads from there and waits for the next tick. A
stream that is further behind than that memory (a reconnect with an old Last-Event-ID, the
first read of a long job) reads its backlog from the database itself first.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import sqlite3
from dataclasses import dataclass, field

import solvers

from ..store.db import Database
from ..store.jobs import PROGRESS_BATCH as BATCH
from ..store.jobs import progress_of
from ..store.records import JobRecord
from .sse import progress_event

POLL_S = 0.2
TAIL_RECORDS = 2000  # progress records kept in memory per followed job
log = logging.getLogger("service")


@dataclass
class Watch:
    """One followed job: its latest record and the progress events after `base`, each
    rendered once for all its followers."""

    job_id: str
    base: int  # every record with an iteration above this one is in the tail (or still unread)
    last: int  # the iteration of the newest record read
    job: JobRecord | None = None
    polled: bool = False  # `job` and `complete` are known
    complete: bool = False  # the last read found every record there was
    iterations: list[int] = field(default_factory=list)  # the tail: iterations, in order
    events: list[str] = field(default_factory=list)  # and their progress events
    followers: int = 0
    tick: asyncio.Event = field(default_factory=asyncio.Event)

    def after(self, iteration: int) -> tuple[int, str] | None:
        """(the newest iteration, the events after `iteration` as one text) from memory;
        None when memory does not reach back."""
        if iteration < self.base:
            return None
        start = bisect.bisect_right(self.iterations, iteration)
        if start == len(self.iterations):
            return iteration, ""
        return self.iterations[-1], "".join(self.events[start:])

    def settled(self, iteration: int) -> bool:
        """The job has finished and a follower at `iteration` has every record of it."""
        return (
            self.job is not None and self.job.terminal and self.complete and iteration >= self.last
        )

    def take(self, job: JobRecord | None, records: list[solvers.Progress]) -> None:
        self.job, self.polled = job, True
        self.complete = len(records) < BATCH
        if records:
            self.iterations.extend(r.iteration for r in records)
            self.events.extend(progress_event(r) for r in records)
            self.last = records[-1].iteration
        if len(self.iterations) > TAIL_RECORDS:
            dropped = len(self.iterations) - TAIL_RECORDS
            self.base = self.iterations[dropped - 1]
            del self.iterations[:dropped], self.events[:dropped]
        tick, self.tick = self.tick, asyncio.Event()
        tick.set()


class JobFeed:
    """The poller of one app; it runs while some stream follows a job."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.watches: dict[str, Watch] = {}
        self._poller: asyncio.Task[None] | None = None

    def follow(self, job_id: str, after: int) -> Watch:
        """Start following `job_id` from `after` (the follower has read up to there);
        `leave` it when done."""
        watch = self.watches.get(job_id)
        if watch is None:
            watch = self.watches[job_id] = Watch(job_id, base=after, last=after)
        watch.followers += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        return watch

    def leave(self, watch: Watch) -> None:
        watch.followers -= 1
        if watch.followers == 0 and self.watches.get(watch.job_id) is watch:
            del self.watches[watch.job_id]

    def wake_all(self) -> None:
        """Every follower looks again now (the service is stopping)."""
        for watch in self.watches.values():
            tick, watch.tick = watch.tick, asyncio.Event()
            tick.set()

    async def close(self) -> None:
        """Stop polling (before the database closes); followers end on `stopping`."""
        self.wake_all()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    async def _poll(self) -> None:
        while self.watches:
            watches = list(self.watches.values())
            try:
                results = await progress_of(self.db, [(w.job_id, w.last) for w in watches])
            except (sqlite3.Error, OSError) as exc:  # the next tick tries again
                log.warning("event streams: reading the jobs failed: %s", exc)
            else:
                for watch, (job, records) in zip(watches, results, strict=True):
                    watch.take(job, records)
            await asyncio.sleep(POLL_S)
