"""SQL of job records, their progress rows and idempotency keys.

State changes that race between the API and a worker are single conditional UPDATEs: a worker
owns a job only while `run_token` matches the token it claimed with, so a run that was given up
on (requeued, cancelled) can no longer write anything.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict

import solvers

from .db import Database, Session, now
from .records import JobRecord, JobState

_COLUMNS = (
    "id, tenant, dataset_id, n_components, options, state, created_at, started_at, finished_at, "
    "heartbeat_at, attempts, cancel_requested, run_token, worker, error, stop_reason, n_iter, "
    "objective, model_id, progress, phase, warnings, runtime_cap_s, run_started_at, "
    "yield_requested"
)
_ACTIVE = (JobState.queued, JobState.running)


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def _one(self, where: str, params: Sequence[object]) -> JobRecord | None:
        row = self.s.execute(f"SELECT {_COLUMNS} FROM jobs WHERE {where}", params).fetchone()
        return JobRecord.from_row(row) if row else None

    # -- the API side -------------------------------------------------------------------------

    def insert(self, job: JobRecord) -> None:
        self.s.execute(
            "INSERT INTO jobs (id, tenant, dataset_id, n_components, options, state, "
            "created_at, warnings, runtime_cap_s) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                job.id,
                job.tenant,
                job.dataset_id,
                job.n_components,
                json.dumps(job.options),
                job.state,
                job.created_at,
                json.dumps(list(job.warnings)),
                job.runtime_cap_s,
            ),
        )

    def get(self, tenant: str, job_id: str) -> JobRecord | None:
        return self._one("id = ? AND tenant = ?", (job_id, tenant))

    def get_by_id(self, job_id: str) -> JobRecord | None:
        return self._one("id = ?", (job_id,))

    def list_page(
        self, tenant: str, state: JobState | None, offset: int, limit: int
    ) -> tuple[list[JobRecord], int]:
        where, params = "tenant = ?", [tenant]
        if state is not None:
            where += " AND state = ?"
            params.append(state)
        rows = self.s.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE {where} "
            "ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        count = self.s.execute(f"SELECT count(*) FROM jobs WHERE {where}", params).fetchone()[0]
        return [JobRecord.from_row(r) for r in rows], int(count)

    def count_queued(self, tenant: str) -> int:
        row = self.s.execute(
            "SELECT count(*) FROM jobs WHERE tenant = ? AND state = ?", (tenant, JobState.queued)
        ).fetchone()
        return int(row[0])

    def counts_by_state(self) -> dict[str, int]:
        rows = self.s.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall()
        counts = {state.value: 0 for state in JobState}
        counts.update({row[0]: int(row[1]) for row in rows})
        return counts

    def ids_in_state(self, state: JobState, limit: int = -1) -> list[str]:
        """Ids of the jobs in `state`, oldest first; the first `limit` (-1: all)."""
        rows = self.s.execute(
            "SELECT id FROM jobs WHERE state = ? ORDER BY created_at LIMIT ?", (state, limit)
        ).fetchall()
        return [row[0] for row in rows]

    def queued_in_turns(self, per_tenant: int) -> list[tuple[str, str]]:
        """(id, tenant) of queued jobs, each tenant's oldest `per_tenant`, in turns: every
        tenant's oldest first (oldest first among them), then every tenant's second, …"""
        rows = self.s.execute(
            "SELECT id, tenant FROM (SELECT id, tenant, created_at, ROW_NUMBER() OVER "
            "(PARTITION BY tenant ORDER BY created_at, id) AS turn FROM jobs WHERE state = ?) "
            "WHERE turn <= ? ORDER BY turn, created_at, id",
            (JobState.queued, per_tenant),
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def running_by_tenant(self) -> Counter[str]:
        rows = self.s.execute(
            "SELECT tenant, count(*) FROM jobs WHERE state = ? GROUP BY tenant",
            (JobState.running,),
        ).fetchall()
        return Counter({row[0]: int(row[1]) for row in rows})

    def request_cancel(self, job_id: str) -> None:
        """A queued job is cancelled at once; a running one when its worker next looks."""
        t = now()
        self.s.execute(
            "UPDATE jobs SET state = ?, finished_at = ?, cancel_requested = 1, run_token = NULL "
            "WHERE id = ? AND state = ?",
            (JobState.cancelled, t, job_id, JobState.queued),
        )
        self.s.execute(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = ?",
            (job_id, JobState.running),
        )

    def progress_after(self, job_id: str, after: int, limit: int = 500) -> list[solvers.Progress]:
        rows = self.s.execute(
            "SELECT iteration, epoch, objective, elapsed_s, max_gap, estimate FROM job_progress "
            "WHERE job_id = ? AND iteration > ? ORDER BY iteration LIMIT ?",
            (job_id, after, limit),
        ).fetchall()
        return [solvers.Progress(**{**dict(r), "estimate": bool(r["estimate"])}) for r in rows]

    def get_idempotent(self, tenant: str, key: str) -> tuple[str, str] | None:
        row = self.s.execute(
            "SELECT request_hash, job_id FROM idempotency_keys WHERE tenant = ? AND key = ?",
            (tenant, key),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def put_idempotent(self, tenant: str, key: str, request_hash: str, job_id: str) -> None:
        self.s.execute(
            "INSERT INTO idempotency_keys (tenant, key, request_hash, job_id, created_at) "
            "VALUES (?,?,?,?,?)",
            (tenant, key, request_hash, job_id, now()),
        )

    # -- lost and interrupted runs (the dispatcher) ------------------------------------------

    def stale_running(self, cutoff: float) -> list[str]:
        rows = self.s.execute(
            "SELECT id FROM jobs WHERE state = ? AND coalesce(heartbeat_at, 0) < ?",
            (JobState.running, cutoff),
        ).fetchall()
        return [row[0] for row in rows]

    def mark_lost(self, job_id: str, reason: str, max_attempts: int) -> JobRecord | None:
        """The job's run is gone (its worker died, its heartbeat went stale, the server
        stopped): requeue it, or fail it once it has used `max_attempts` runs. Only a claimed
        run counts: its claim counted the attempt (a task lost before its claim is the
        worker's doing, not the job's, and the dispatcher simply hands the job over again)."""
        job = self.get_by_id(job_id)
        if job is None or job.terminal or job.state != JobState.running:
            return job
        attempts = job.attempts
        t = now()
        if job.cancel_requested:
            state, error, finished = JobState.cancelled, None, t
        elif attempts >= max_attempts:
            state, finished = JobState.failed, t
            error = f"gave up after {attempts} attempts; last: {reason}"
        else:
            state, finished = JobState.queued, None
            error = f"attempt {attempts} lost ({reason}); requeued"
        self.s.execute(
            "UPDATE jobs SET state = ?, attempts = ?, error = ?, finished_at = ?, "
            "run_token = NULL, worker = NULL WHERE id = ?",
            (state, attempts, error, finished, job_id),
        )
        return self.get_by_id(job_id)

    def wait_for_room(self, job_id: str, token: str, reason: str) -> bool:
        """The run ran out of disk: queued again, the attempt not counted (the job did nothing
        wrong); the dispatcher starts no job until there is room. False if not its run."""
        cur = self.s.execute(
            "UPDATE jobs SET state = ?, attempts = max(attempts - 1, 0), run_token = NULL, "
            "worker = NULL, error = ? WHERE id = ? AND run_token = ? AND state = ?",
            (JobState.queued, reason, job_id, token, JobState.running),
        )
        return cur.rowcount > 0

    def release(self, job_id: str) -> None:
        """Requeue a running job interrupted by a clean shutdown; the run does not count."""
        self.s.execute(
            "UPDATE jobs SET state = ?, attempts = max(attempts - 1, 0), run_token = NULL, "
            "worker = NULL, error = 'interrupted by a server shutdown; requeued' "
            "WHERE id = ? AND state = ?",
            (JobState.queued, job_id, JobState.running),
        )

    # -- the worker side ----------------------------------------------------------------------

    def claim(self, job_id: str, token: str, worker: str) -> JobRecord | None:
        t = now()
        cur = self.s.execute(
            "UPDATE jobs SET state = ?, run_token = ?, worker = ?, attempts = attempts + 1, "
            "started_at = coalesce(started_at, ?), heartbeat_at = ?, phase = 'fitting', "
            "error = NULL, "  # why an earlier run ended is history once another runs
            "run_started_at = ?, yield_requested = 0 "
            "WHERE id = ? AND state = ? AND cancel_requested = 0",
            (JobState.running, token, worker, t, t, t, job_id, JobState.queued),
        )
        return self.get_by_id(job_id) if cur.rowcount else None

    def heartbeat(self, job_id: str, token: str) -> tuple[bool, bool] | None:
        """Record that the run is alive; None if it no longer owns the job, else the flags
        (cancel requested, yield requested)."""
        row = self.s.execute(
            "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND run_token = ? AND state = ? "
            "RETURNING cancel_requested, yield_requested",
            (now(), job_id, token, JobState.running),
        ).fetchone()
        return None if row is None else (bool(row[0]), bool(row[1]))

    def request_yield(self, job_id: str) -> bool:
        """Ask the running job to give its worker up (it checkpoints, and is queued again)."""
        cur = self.s.execute(
            "UPDATE jobs SET yield_requested = 1 WHERE id = ? AND state = ?",
            (job_id, JobState.running),
        )
        return cur.rowcount > 0

    def yielding(self) -> list[str]:
        """Running jobs asked to yield that have not yet."""
        rows = self.s.execute(
            "SELECT id FROM jobs WHERE state = ? AND yield_requested = 1", (JobState.running,)
        ).fetchall()
        return [row[0] for row in rows]

    def requeue_yielded(self, job_id: str, token: str) -> bool:
        """The run gave its worker up as asked: queued again, the attempt not counted."""
        cur = self.s.execute(
            "UPDATE jobs SET state = ?, attempts = max(attempts - 1, 0), run_token = NULL, "
            "worker = NULL, yield_requested = 0, error = ? "
            "WHERE id = ? AND run_token = ? AND state = ?",
            (
                JobState.queued,
                "paused to let another tenant's job run; it resumes from its checkpoint",
                job_id,
                token,
                JobState.running,
            ),
        )
        return cur.rowcount > 0

    def set_phase(self, job_id: str, token: str, phase: str) -> None:
        """What the run owning the job is doing now ("compiling", "fitting")."""
        self.s.execute(
            "UPDATE jobs SET phase = ? WHERE id = ? AND run_token = ? AND state = ?",
            (phase, job_id, token, JobState.running),
        )

    def add_progress(self, job_id: str, records: Sequence[solvers.Progress]) -> None:
        if not records:
            return
        self.s.executemany(
            "INSERT OR REPLACE INTO job_progress "
            "(job_id, iteration, epoch, objective, elapsed_s, max_gap, estimate) "
            "VALUES (?,?,?,?,?,?,?)",
            [
                (job_id, r.iteration, r.epoch, r.objective, r.elapsed_s, r.max_gap, r.estimate)
                for r in records
            ],
        )
        self.s.execute(
            "UPDATE jobs SET progress = ? WHERE id = ?", (json.dumps(asdict(records[-1])), job_id)
        )

    def finish(
        self,
        job_id: str,
        token: str,
        state: JobState,
        *,
        error: str | None = None,
        stop_reason: str | None = None,
        n_iter: int | None = None,
        objective: float | None = None,
        model_id: str | None = None,
    ) -> bool:
        cur = self.s.execute(
            "UPDATE jobs SET state = ?, finished_at = ?, error = ?, stop_reason = ?, n_iter = ?, "
            "objective = ?, model_id = ?, run_token = NULL "
            "WHERE id = ? AND run_token = ? AND state = ?",
            (
                state,
                now(),
                error,
                stop_reason,
                n_iter,
                objective,
                model_id,
                job_id,
                token,
                JobState.running,
            ),
        )
        return cur.rowcount > 0


PROGRESS_BATCH = 500  # progress records read per job and transaction


def _with_progress(
    session: Session, cursors: list[tuple[str, int]]
) -> list[tuple[JobRecord | None, list[solvers.Progress]]]:
    jobs = JobRepository(session)
    out: list[tuple[JobRecord | None, list[solvers.Progress]]] = []
    for job_id, after in cursors:
        job = jobs.get_by_id(job_id)
        out.append((job, [] if job is None else jobs.progress_after(job_id, after, PROGRESS_BATCH)))
    return out


async def progress_of(
    db: Database, cursors: list[tuple[str, int]]
) -> list[tuple[JobRecord | None, list[solvers.Progress]]]:
    """For each (job id, iteration): the job, then up to PROGRESS_BATCH of its progress records
    after that iteration, all in one read transaction, so that once a job's state read is
    final, every progress row of it (written before the final state) is there. Ids are not
    checked against a tenant: the event stream checked its job first."""
    return await db.read(_with_progress, cursors)
