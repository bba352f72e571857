"""The worker side of a run's liveness: heartbeat, progress rows and the cancel flag.

A thread beats every `interval` seconds on its own SQLite connection (and at once after the
run's first progress record): it refreshes the job's heartbeat, writes the progress records
buffered since the last beat, and reads the cancel and yield flags.
The fit's callback only appends to the buffer and reads two events, so it never waits on disk.

Not every iteration is kept: a small fit runs a thousand iterations a second, which for a day
(the default runtime cap) would be 86 million rows, and every event stream that follows it
would send each. `ProgressThinning` keeps every record of a run's first KEEP_ALL iterations,
then records at least SPACING of the elapsed time apart (SPACING_S at the least), and always
the newest one at each beat, so a job's latest progress is never older than a beat.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import solvers

from ..store.db import connect, transaction
from ..store.jobs import JobRepository

log = logging.getLogger("service.runner")

KEEP_ALL = 1000  # iterations of a run whose every record is kept
SPACING = 1e-3  # then a record at least this fraction of the elapsed time after the last one
SPACING_S = 0.05  # and at least this many seconds after it: about 10,000 records a day


class ProgressThinning:
    """Which progress records of one run are stored (see the module's docstring)."""

    def __init__(self) -> None:
        self.kept_at: float | None = None  # elapsed_s of the last record kept
        self.newest: solvers.Progress | None = None  # the newest record not kept (yet)

    def keeps(self, record: solvers.Progress) -> bool:
        spacing = max(SPACING_S, SPACING * record.elapsed_s)
        keep = (
            record.iteration <= KEEP_ALL
            or self.kept_at is None
            or record.elapsed_s - self.kept_at >= spacing
        )
        if keep:
            self.kept_at, self.newest = record.elapsed_s, None
        else:
            self.newest = record
        return keep

    def take_newest(self) -> solvers.Progress | None:
        """The newest record not kept, now kept (written at a beat, the last one included)."""
        newest, self.newest = self.newest, None
        if newest is not None:
            self.kept_at = newest.elapsed_s
        return newest


class RunMonitor:
    def __init__(self, database: Path, job_id: str, token: str, interval: float) -> None:
        self.job_id = job_id
        self.token = token
        self.interval = interval
        self.cancelled = threading.Event()
        self.lost = threading.Event()  # another run owns the job now, or it was given up on
        self.yielding = threading.Event()  # asked to give the worker to another tenant's job
        self._buffer: list[solvers.Progress] = []
        self._thinning = ProgressThinning()
        self._lock = threading.Lock()  # the buffer
        self._db = threading.Lock()  # the connection, used by this thread and the fit's
        self._stop = threading.Event()
        self._wake = threading.Event()  # beat now rather than at the end of the interval
        self._reported = False
        self._conn = connect(database, synchronous="NORMAL")
        self._thread = threading.Thread(target=self._run, name=f"monitor-{job_id}", daemon=True)

    def __enter__(self) -> RunMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()
        try:
            self.beat()
        finally:
            self._conn.close()

    def callback(self, progress: solvers.Progress) -> bool:
        """The fit's callback: record progress; False asks the fit to stop."""
        record = solvers.Progress(
            iteration=int(progress.iteration),
            epoch=float(progress.epoch),
            objective=float(progress.objective),
            elapsed_s=float(progress.elapsed_s),
            max_gap=float(progress.max_gap),
            estimate=bool(progress.estimate),
        )
        with self._lock:
            if self._thinning.keeps(record):
                self._buffer.append(record)
        if not self._reported:  # the first progress of a run is shown at once
            self._reported = True
            self._wake.set()
        return not (self.cancelled.is_set() or self.lost.is_set() or self.yielding.is_set())

    def set_phase(self, phase: str) -> None:
        """Record at once what the run is doing ("compiling" the kernels, "fitting")."""
        with self._db, transaction(self._conn, write=True) as session:
            JobRepository(session).set_phase(self.job_id, self.token, phase)

    def beat(self) -> None:
        if self.lost.is_set():
            return
        with self._lock:
            records, self._buffer = self._buffer, []
            newest = self._thinning.take_newest()
        if newest is not None:
            records.append(newest)
        with self._db, transaction(self._conn, write=True) as session:
            repo = JobRepository(session)
            flags = repo.heartbeat(self.job_id, self.token)
            if flags is None:
                self.lost.set()
                return
            repo.add_progress(self.job_id, records)
        cancel, give_way = flags
        if cancel:
            self.cancelled.set()
        if give_way:
            self.yielding.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.beat()
            except sqlite3.Error:
                log.exception("heartbeat of job %s failed; retrying", self.job_id)
