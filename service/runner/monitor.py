"""The worker side of a run's liveness: heartbeat, progress rows and the cancel flag.

A thread beats every `interval` seconds on its own SQLite connection: it refreshes the job's
heartbeat, writes the progress records buffered since the last beat, and reads the cancel flag.
The fit's callback only appends to the buffer and reads two events, so it never waits on disk.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import solvers

from ..store.db import connect, transaction
from ..store.jobs import JobRepository
from ..store.records import ProgressRecord

log = logging.getLogger("service.runner")


class RunMonitor:
    def __init__(self, database: Path, job_id: str, token: str, interval: float) -> None:
        self.job_id = job_id
        self.token = token
        self.interval = interval
        self.cancelled = threading.Event()
        self.lost = threading.Event()  # another run owns the job now, or it was given up on
        self._buffer: list[ProgressRecord] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conn = connect(database, synchronous="NORMAL")
        self._thread = threading.Thread(target=self._run, name=f"monitor-{job_id}", daemon=True)

    def __enter__(self) -> RunMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.beat()
        finally:
            self._conn.close()

    def callback(self, progress: solvers.Progress) -> bool:
        """The fit's callback: record progress; False asks the fit to stop."""
        record = ProgressRecord(
            iteration=int(progress.iteration),
            epoch=float(progress.epoch),
            objective=float(progress.objective),
            elapsed_s=float(progress.elapsed_s),
            max_gap=float(progress.max_gap),
        )
        with self._lock:
            self._buffer.append(record)
        return not (self.cancelled.is_set() or self.lost.is_set())

    def beat(self) -> None:
        if self.lost.is_set():
            return
        with self._lock:
            records, self._buffer = self._buffer, []
        with transaction(self._conn, write=True) as session:
            repo = JobRepository(session)
            flag = repo.heartbeat(self.job_id, self.token)
            if flag is None:
                self.lost.set()
                return
            repo.add_progress(self.job_id, records)
        if flag:
            self.cancelled.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except sqlite3.Error:
                log.exception("heartbeat of job %s failed; retrying", self.job_id)
