"""The API process's side of execution: send queued jobs to Dask, notice runs that are lost.

The database is the queue. The dispatcher loop wakes when a job is created or a run ends (or
every `dispatch_interval_s`) and hands queued jobs, oldest first, to Dask while fewer than
`SLOTS_PER_THREAD` runs per worker thread are there; it watches each Dask future. The rest wait
in the database: a burst of submissions costs the scheduler nothing until workers free up, and
a cancelled job that never reached Dask needs nothing done there.

A run is lost when its future ends while the job is still active (the worker process died, or
the task could not claim the job) or when its heartbeat is older than `stale_after_s`; a lost
job is requeued, and failed once it has used `max_attempts` runs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from typing import Any

from distributed import Future, wait

from ..disk import free_bytes
from ..metrics import Metrics
from ..settings import Settings
from ..store.db import Database, Session, now
from ..store.jobs import JobRepository
from ..store.layout import DataLayout
from ..store.records import JobRecord, JobState
from .cluster import Cluster
from .placement import job_restrictions
from .task import run_job
from .worker_info import worker_backends

log = logging.getLogger("service.runner")

SLOTS_PER_THREAD = 2
"""Runs handed to Dask per worker thread: one running, one ready to start the moment it ends."""


STOP_GRACE_S = 5.0
"""How long a clean shutdown waits for running fits to checkpoint and return."""


def fair_picks(waiting: list[tuple[str, str]], load: Counter[str], slots: int) -> list[str]:
    """Which of the `waiting` (job id, tenant) pairs to hand over, at most `slots`: each time
    the next job of the tenant with the fewest runs in Dask (`load`, counted up as jobs are
    picked), the one earlier in `waiting` on a tie. Each tenant's jobs keep their order."""
    load = Counter(load)
    queues: dict[str, list[tuple[int, str]]] = {}
    for position, (job_id, tenant) in enumerate(waiting):
        queues.setdefault(tenant, []).append((position, job_id))
    picks: list[str] = []
    while len(picks) < slots and queues:
        tenant = min(queues, key=lambda t: (load[t], queues[t][0][0]))
        picks.append(queues[tenant].pop(0)[1])
        load[tenant] += 1
        if not queues[tenant]:
            del queues[tenant]
    return picks


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return "its worker process died"
    return f"{name}: {exc}" if str(exc) else name


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        layout: DataLayout,
        cluster: Cluster,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.db = db
        self.layout = layout
        self.cluster = cluster
        self.metrics = metrics
        self.futures: dict[str, Future] = {}
        self.tenants: dict[str, str] = {}  # the tenant of each job in `futures`
        self._room = True  # the data disk had room at the last look
        self._watchers: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._backends: tuple[frozenset[str], dict[str, list[dict[str, Any]]]] | None = None

    async def recover(self) -> None:
        """At start-up: a job left running by a previous server process has lost its run."""
        reason = "the server stopped while the job was running"

        def recover(session: Session) -> None:
            repo = JobRepository(session)
            for job_id in repo.ids_in_state(JobState.running):
                repo.mark_lost(job_id, reason, self.settings.max_attempts)

        await self.db.write(recover)

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="dispatcher")

    def notify(self) -> None:
        """A job was queued (call after the commit) or a run ended: fill the free slots now
        rather than at the next scan of the queue."""
        self._wake.set()

    async def stop(self, grace_s: float = STOP_GRACE_S) -> list[str]:
        """Stop dispatching; jobs this process is running go back to the queue, uncounted.

        Their runs notice at their next heartbeat that they no longer own the job, write a
        checkpoint and return (within `grace_s`, or they are left to the cluster's shutdown), so
        the next start resumes them. Returns the ids of the jobs that were running.
        """
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        for task in list(self._watchers):
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        futures = dict(self.futures)
        self.futures.clear()
        self.tenants.clear()

        def release(session: Session) -> list[str]:
            repo = JobRepository(session)
            running = repo.ids_in_state(JobState.running)
            ours = [job_id for job_id in running if job_id in futures]
            for job_id in ours:
                repo.release(job_id)
            return ours

        released = await self.db.write(release)
        pending = [f for job_id, f in futures.items() if job_id in released]
        if pending:
            try:
                await wait(pending, timeout=grace_s)  # however they end
            except TimeoutError:
                log.warning("%d run(s) still busy at shutdown; they resume anyway", len(pending))
        return released

    async def _loop(self) -> None:
        interval = self.settings.dispatch_interval_s
        last_scan = -interval
        while True:
            try:
                if time.monotonic() - last_scan >= interval:
                    last_scan = time.monotonic()
                    await self.scan()
                else:
                    await self._fill_from_queue()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher pass failed")
            timeout = max(0.0, last_scan + interval - time.monotonic())
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter}, timeout=timeout)
            finally:
                waiter.cancel()
            self._wake.clear()

    def _threads(self) -> int:
        # An asynchronous client's cached identity of the scheduler (refreshed every 2 s).
        info = self.cluster.client.scheduler_info(n_workers=0)
        threads = info.get("total_threads")
        if threads is None:  # a scheduler that reports no total: count per worker
            threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
        return int(threads)

    def free_slots(self) -> int:
        """How many more runs Dask should be given now (0 without workers)."""
        return SLOTS_PER_THREAD * self._threads() - len(self.futures)

    async def _fill_from_queue(self) -> None:
        """Hand queued jobs to Dask, as many as there are free slots, fairly between tenants
        (`fair_picks`). A tenant with queued jobs and none running, while every worker runs
        another's, gets its turn: the newest run of the busiest tenant that has not started
        yet (a ready slot) gives up its place, and once the busiest tenant's oldest run has
        run FAIR_SLICE_S, it gives its worker up (`_ask_to_give_way`)."""
        threads = self._threads()
        if threads == 0 or not self._room_on_disk():
            return
        # Those handed to Dask may still be queued (not started): look past them, but no
        # further than the slots there are, so that a long queue costs little here.
        turns = SLOTS_PER_THREAD * threads + len(self.futures)
        queued, running = await self.db.read(
            lambda s: (
                JobRepository(s).queued_in_turns(turns),
                JobRepository(s).running_by_tenant(),
            )
        )
        if not queued:
            return
        load = Counter(self.tenants.values())
        free = SLOTS_PER_THREAD * threads - len(self.futures)
        starving = {tenant for _, tenant in queued if running[tenant] == 0}
        if starving and sum(running.values()) >= threads:
            if free <= 0 and any(load[tenant] == 0 for tenant in starving):
                free += await self._make_room(load)
            await self._ask_to_give_way(running)
        waiting = [(job_id, tenant) for job_id, tenant in queued if job_id not in self.futures]
        chosen = fair_picks(waiting, load, free)
        if chosen:  # whole records only of the jobs to submit
            records = await self.db.read(self._queued_records, chosen)
            # the cluster's workers, once for the pass: the submissions follow one another
            workers = (await self.worker_identities(), await self.workers_with("cupy"))
            for job in records:
                if job.id not in self.futures:
                    self._submit(job, workers, priority=-load[job.tenant])
                    load[job.tenant] += 1

    async def _ask_to_give_way(self, running: Counter[str]) -> None:
        """Every worker runs a job and a tenant with queued jobs has none running: the
        busiest tenant's oldest run, once it has run FAIR_SLICE_S, is asked to give its worker
        up (it checkpoints at its next iteration and is queued again, uncounted; resumed
        later, it ends exactly where it would have). One at a time."""
        busiest = max(running, key=lambda tenant: running[tenant], default=None)
        if busiest is None:
            return
        theirs = [job_id for job_id, tenant in self.tenants.items() if tenant == busiest]
        cutoff = now() - self.settings.fair_slice_s

        def ask(session: Session) -> str | None:
            repo = JobRepository(session)
            if repo.yielding():
                return None  # one is giving way already
            runs = [repo.get_by_id(job_id) for job_id in theirs]
            started = [
                job
                for job in runs
                if job is not None
                and job.state == JobState.running
                and job.run_started_at is not None
                and job.run_started_at <= cutoff
            ]
            if not started:
                return None
            oldest = min(started, key=lambda job: job.run_started_at or 0.0)
            return oldest.id if repo.request_yield(oldest.id) else None

        asked = await self.db.write(ask)
        if asked is not None:
            log.info("job %s gives its worker to another tenant's queued job", asked)

    def _room_on_disk(self) -> bool:
        """Whether the data disk has SPARSECODING_MIN_FREE_BYTES free: no job starts while it
        has not (a run would fail to checkpoint; those that did wait, queued, for room)."""
        room = free_bytes(self.layout.root) >= self.settings.min_free_bytes
        if room != self._room:
            self._room = room
            if room:
                log.info("the data disk has room again: jobs start again")
            else:
                log.warning("the data disk is nearly full: no job starts until there is room")
        return room

    async def _make_room(self, load: Counter[str]) -> int:
        """Withdraw one not-yet-started run of the busiest tenant from Dask (its job stays
        queued, to go again in its turn); 1 if one was withdrawn, else 0."""
        busiest = max(load, key=lambda tenant: load[tenant], default=None)
        if busiest is None or load[busiest] < 2:
            return 0
        theirs = [job_id for job_id, tenant in self.tenants.items() if tenant == busiest]
        not_started = await self.db.read(self._queued_records, theirs)
        if not not_started:
            return 0
        victim = max(not_started, key=lambda job: job.created_at)
        future = self.futures.pop(victim.id)
        del self.tenants[victim.id]
        load[busiest] -= 1
        await self.cluster.client.cancel([future])
        return 1

    async def scan(self) -> None:
        """The full pass: give up on stale runs, fill the free slots from the queue."""
        await self._reap_stale()
        await self._fill_from_queue()

    @staticmethod
    def _queued_records(session: Session, job_ids: list[str]) -> list[JobRecord]:
        repo = JobRepository(session)
        records = (repo.get_by_id(job_id) for job_id in job_ids)
        return [job for job in records if job is not None and job.state == JobState.queued]

    def _submit(
        self,
        job: JobRecord,
        workers: tuple[dict[str, dict[str, Any]], list[str]],
        priority: int = 0,
    ) -> None:
        """Hand `job` to Dask; `workers`: (the scheduler's worker identities, those with a
        usable CuPy), where it may run; `priority`: higher runs first among what waits there."""
        client = self.cluster.client
        restrictions = job_restrictions(job.options, *workers)
        future = client.submit(
            run_job,
            str(self.layout.root.resolve()),
            job.id,
            self.settings.heartbeat_interval_s,
            self.settings.checkpoint_interval_s,
            key=f"fit-{job.id}-{secrets.token_hex(4)}",
            pure=False,
            priority=priority,
            **restrictions,
        )
        self.futures[job.id] = future
        self.tenants[job.id] = job.tenant
        task = asyncio.create_task(self._watch(job.id, future))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _watch(self, job_id: str, future: Future) -> None:
        started = time.monotonic()
        reason: str
        try:
            outcome = await future
            reason = f"its task ended without finishing the job ({outcome})"
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the dispatcher is stopping
            reason = "its Dask task was cancelled"
        except Exception as exc:
            reason = _describe(exc)
        if self.futures.get(job_id) is not future:
            return  # given up on meanwhile (stale heartbeat), or withdrawn for another tenant
        del self.futures[job_id]
        self.tenants.pop(job_id, None)
        job = await self.db.read(lambda s: JobRepository(s).get_by_id(job_id))
        # Still queued: it never ran (it waited in the second slot of a worker that died, say);
        # not its doing, so nothing is counted: it is handed to Dask again at the next pass.
        # The usual end (finished) takes no write either.
        if job is not None and not job.terminal and job.state != JobState.queued:
            job = await self.db.write(self._mark_lost, job_id, reason)
        if job is not None and job.terminal:
            self._observe(job, time.monotonic() - started)
        self.notify()  # a slot is free (and the job may be queued again)

    def _observe(self, job: JobRecord, seconds: float) -> None:
        if job.started_at is not None and job.finished_at is not None:
            seconds = job.finished_at - job.started_at
        self.metrics.fit_seconds.labels(state=job.state.value).observe(seconds)
        if job.n_iter:
            self.metrics.iterations.inc(job.n_iter)

    def _mark_lost(self, session: Session, job_id: str, reason: str) -> JobRecord | None:
        return JobRepository(session).mark_lost(job_id, reason, self.settings.max_attempts)

    async def _reap_stale(self) -> None:
        cutoff = now() - self.settings.stale_after_s
        stale = await self.db.read(lambda s: JobRepository(s).stale_running(cutoff))
        for job_id in stale:
            reason = f"no heartbeat for {self.settings.stale_after_s:g} s"
            await self.db.write(self._mark_lost, job_id, reason)
            future = self.futures.pop(job_id, None)
            self.tenants.pop(job_id, None)
            if future is not None:
                await self.cluster.client.cancel([future], force=True)
            log.warning("job %s: %s", job_id, reason)

    async def forget(self, job_id: str) -> None:
        """A queued job was cancelled: drop its Dask task if it has not started."""
        future = self.futures.pop(job_id, None)
        self.tenants.pop(job_id, None)
        if future is not None:
            await self.cluster.client.cancel([future])

    async def worker_identities(self) -> dict[str, dict[str, Any]]:
        """The scheduler's {worker address: what it knows of the worker (resources, …)}."""
        scheduler = self.cluster.client.scheduler
        if scheduler is None:
            return {}
        identity = await scheduler.identity(n_workers=-1)
        return dict(identity.get("workers", {}))

    async def worker_addresses(self) -> list[str]:
        return list(await self.worker_identities())

    async def worker_backends(self) -> dict[str, list[dict[str, Any]]]:
        """{worker address: solvers.available_backends() there}, refreshed when workers change."""
        client = self.cluster.client
        workers = frozenset(await self.worker_addresses())
        if self._backends is None or self._backends[0] != workers:
            probed = await client.run(worker_backends) if workers else {}
            self._backends = (workers, dict(probed))
        return self._backends[1]

    async def workers_with(self, backend: str) -> list[str]:
        return [
            address
            for address, backends in (await self.worker_backends()).items()
            if any(b["name"] == backend and b["available"] for b in backends)
        ]
