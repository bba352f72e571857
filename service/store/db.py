"""SQLite connections, transactions and schema.

WAL lets the API read while a worker writes; `busy_timeout` makes writers wait for each other
instead of failing. In the API process every write runs on one dedicated thread with one
connection and every read on another (`Database.read` / `Database.write` are awaitable), so the
event loop never blocks on the disk and the process never contends with itself for the write
lock.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("service.store")

SCHEMA = [
    """
    CREATE TABLE datasets (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT,
        n_samples INTEGER NOT NULL, n_features INTEGER NOT NULL, dtype TEXT NOT NULL,
        nbytes INTEGER NOT NULL, sha256 TEXT NOT NULL, created_at REAL NOT NULL
    );
    CREATE INDEX datasets_tenant ON datasets (tenant, created_at);
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, dataset_id TEXT NOT NULL,
        n_components INTEGER NOT NULL, options TEXT NOT NULL, state TEXT NOT NULL,
        created_at REAL NOT NULL, started_at REAL, finished_at REAL, heartbeat_at REAL,
        attempts INTEGER NOT NULL DEFAULT 0, cancel_requested INTEGER NOT NULL DEFAULT 0,
        run_token TEXT, worker TEXT, error TEXT, stop_reason TEXT, n_iter INTEGER,
        objective REAL, model_id TEXT, progress TEXT
    );
    CREATE INDEX jobs_tenant_state ON jobs (tenant, state, created_at);
    CREATE INDEX jobs_state ON jobs (state);
    CREATE TABLE job_progress (
        job_id TEXT NOT NULL, iteration INTEGER NOT NULL, epoch REAL NOT NULL,
        objective REAL NOT NULL, elapsed_s REAL NOT NULL, max_gap REAL NOT NULL,
        PRIMARY KEY (job_id, iteration)
    ) WITHOUT ROWID;
    CREATE TABLE models (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, job_id TEXT NOT NULL,
        dataset_id TEXT NOT NULL, n_components INTEGER NOT NULL, n_features INTEGER NOT NULL,
        dtype TEXT NOT NULL, alpha REAL NOT NULL, positive_codes INTEGER NOT NULL,
        backend TEXT NOT NULL, objective REAL, n_iter INTEGER NOT NULL,
        stop_reason TEXT NOT NULL, options TEXT NOT NULL, created_at REAL NOT NULL
    );
    CREATE INDEX models_tenant ON models (tenant, created_at);
    CREATE TABLE idempotency_keys (
        tenant TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
        job_id TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (tenant, key)
    ) WITHOUT ROWID;
    """,
    # 2: what a running job is doing (compiling kernels, fitting); what a job was warned of when
    # it was submitted (JSON list); its runtime cap; when its current run started and whether
    # it is asked to give its worker to another tenant; online objectives that are running
    # estimates
    """
    ALTER TABLE jobs ADD COLUMN phase TEXT;
    ALTER TABLE jobs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE jobs ADD COLUMN runtime_cap_s REAL;
    ALTER TABLE jobs ADD COLUMN run_started_at REAL;
    ALTER TABLE jobs ADD COLUMN yield_requested INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE job_progress ADD COLUMN estimate INTEGER NOT NULL DEFAULT 0;
    """,
]


def now() -> float:
    """Wall-clock time in seconds since the epoch, as stored in every timestamp column."""
    return time.time()


def connect(path: Path, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, waiting on locks."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to the latest version recorded in `PRAGMA user_version`."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(SCHEMA[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


class Session:
    """One connection inside one transaction; repositories are built on it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)


@contextmanager
def transaction(conn: sqlite3.Connection, write: bool) -> Iterator[Session]:
    """Commit on success, roll back on any exception."""
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield Session(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class _Call:
    """One `Database.read`/`write` waiting for the database thread."""

    __slots__ = ("args", "fn", "future", "loop")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
    ) -> None:
        self.fn = fn
        self.args = args
        self.loop = loop
        self.future = future

    def resolve(self, result: Any = None, error: BaseException | None = None) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting request went away (its work still committed)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _abandon(conn: sqlite3.Connection) -> None:
    """Roll back what a failed BEGIN/COMMIT left open, so that the next group starts clean."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:  # the connection is unusable: say so, the next BEGIN fails
            log.error("cannot roll back a failed transaction on %s: %s", conn, exc)


_MAX_BATCH = 256
# How often the API process's checkpointer folds the WAL back into the database file.
CHECKPOINT_INTERVAL_S = 1.0


class Database:
    """The database of one data directory, for the API process (async) or a worker (sync).

    In the API process, writes run on one thread with one connection, reads on another (WAL:
    a read never waits for a write, nor for the fsync of one). Writes that queue up while the
    writer is busy are committed together (group commit): each runs in a savepoint of one
    transaction, so one that raises is rolled back alone, and every caller is answered only
    after the COMMIT, which is the one fsync of the whole group. A 202 still means "on disk";
    under load it costs one fsync per group instead of one per request. A read issued after a
    write returned sees that write.

    WAL checkpoints (copying the log back into the database file, with fsyncs of both) run on
    a third thread every `CHECKPOINT_INTERVAL_S`, not in the writer: SQLite's automatic one
    would run in whichever commit crosses 1000 pages and hold up every request of its group.
    """

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._conn: sqlite3.Connection | None = None  # the writer's
        self._read_conn: sqlite3.Connection | None = None
        self._queues: list[queue.SimpleQueue[_Call | None]] = []  # [reader, writer]
        self._threads: list[threading.Thread] = []
        self._stop_checkpoints = threading.Event()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path, self.synchronous)
        migrate(self._conn)
        self._read_conn = connect(self.path, self.synchronous)
        self._threads = []
        self._queues = []
        for conn, name, run_group in (
            (self._read_conn, "sqlite-read", self._read_group),
            (self._conn, "sqlite-write", self._write_group),
        ):
            calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
            thread = threading.Thread(
                target=self._serve, args=(conn, calls, run_group), name=name, daemon=True
            )
            thread.start()
            self._queues.append(calls)
            self._threads.append(thread)
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # see _checkpoints
        self._stop_checkpoints.clear()
        checkpointer = threading.Thread(
            target=self._checkpoints, name="sqlite-checkpoint", daemon=True
        )
        checkpointer.start()
        self._threads.append(checkpointer)

    def close(self) -> None:
        self._stop_checkpoints.set()
        for calls in self._queues:
            calls.put(None)
        for thread in self._threads:
            thread.join()
        self._queues, self._threads = [], []
        for conn in (self._read_conn, self._conn):
            if conn is not None:
                conn.close()
        self._conn = self._read_conn = None

    # -- the database threads ---------------------------------------------------------------

    def _checkpoints(self) -> None:
        """PASSIVE checkpoints on a connection of their own: they copy what no reader still
        needs and never block the writer, which goes on appending to the log meanwhile."""
        conn = connect(self.path, self.synchronous)
        try:
            while not self._stop_checkpoints.wait(CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.OperationalError as exc:  # busy: the next round tries again
                    log.debug("WAL checkpoint of %s put off: %s", self.path, exc)
                except sqlite3.Error as exc:
                    log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            conn.close()

    @staticmethod
    def _serve(
        conn: sqlite3.Connection,
        calls: queue.SimpleQueue[_Call | None],
        run_group: Callable[[sqlite3.Connection, list[_Call]], None],
    ) -> None:
        """One thread's loop: the calls waiting in its queue run as one group (one read or
        one write transaction), in arrival order."""
        stopping = False
        while not stopping:
            first = calls.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    call = calls.get_nowait()
                except queue.Empty:
                    break
                if call is None:
                    stopping = True
                    break
                batch.append(call)
            run_group(conn, batch)

    @staticmethod
    def _read_group(conn: sqlite3.Connection, group: list[_Call]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            with transaction(conn, write=False) as session:
                for call in group:
                    try:
                        outcomes.append((call.fn(session, *call.args), None))
                    except BaseException as exc:
                        outcomes.append((None, exc))
        except BaseException as exc:
            _abandon(conn)
            outcomes = [(None, exc)] * len(group)
        for call, (result, error) in zip(group, outcomes, strict=True):
            call.resolve(result, error)

    @staticmethod
    def _write_group(conn: sqlite3.Connection, group: list[_Call]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            with transaction(conn, write=True) as session:
                for call in group:
                    conn.execute("SAVEPOINT call")
                    try:
                        result = call.fn(session, *call.args)
                    except BaseException as exc:
                        conn.execute("ROLLBACK TO call")
                        conn.execute("RELEASE call")
                        outcomes.append((None, exc))
                    else:
                        conn.execute("RELEASE call")
                        outcomes.append((result, None))
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the group is stored
            log.warning("a group of %d writes was not committed: %s", len(group), exc)
            _abandon(conn)
            outcomes = [(None, exc)] * len(group)
        for call, (result, error) in zip(group, outcomes, strict=True):
            call.resolve(result, error)

    # -- the API side ---------------------------------------------------------------------------

    async def _run(self, write: bool, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if not self._queues:
            raise RuntimeError("database is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queues[write].put(_Call(fn, args, loop, future))
        return await future

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(session, *args)` in a read transaction on the database thread."""
        return await self._run(False, fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(session, *args)` in a write transaction, committed before this returns."""
        return await self._run(True, fn, args)
