"""SQLite connections, transactions and schema.

WAL lets the API read while a worker writes; `busy_timeout` makes writers wait for each other
instead of failing. In the API process every statement runs on one dedicated thread with one
connection (`Database.read` / `Database.write` are awaitable), so the event loop never blocks on
the disk and the process never contends with itself for the write lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

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


class Database:
    """The database of one data directory, for the API process (async) or a worker (sync)."""

    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path, self.synchronous)
        migrate(self._conn)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def session(self, write: bool = True) -> Iterator[Session]:
        """Synchronous transaction on the shared connection (only from the database thread)."""
        if self._conn is None:
            raise RuntimeError("database is not open")
        with transaction(self._conn, write) as session:
            yield session

    def _call(self, write: bool, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self.session(write) as session:
            return fn(session, *args)

    async def _run(self, write: bool, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._executor is None:
            raise RuntimeError("database is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, write, fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(session, *args)` in a read transaction on the database thread."""
        return await self._run(False, fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(session, *args)` in a write transaction, committed before this returns."""
        return await self._run(True, fn, args)
