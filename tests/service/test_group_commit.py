"""The API process's database engine (`service.store.db.Database`) on a real SQLite file:
writes that queue up commit as one group, each in its own savepoint; a failed COMMIT fails the
whole group, says so in the log, and leaves the engine usable."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from service.store.db import Database

pytestmark = pytest.mark.anyio


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    db = Database(tmp_path / "db.sqlite3")
    db.open()

    def tables(session: Any) -> None:
        session.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        session.execute(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER "
            "REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )

    await db.write(tables)
    yield db
    db.close()


def _insert(session: Any, table: str, row_id: int, parent: int | None = None) -> int:
    if table == "parent":
        session.execute("INSERT INTO parent (id) VALUES (?)", (row_id,))
    else:
        session.execute("INSERT INTO child (id, parent) VALUES (?, ?)", (row_id, parent))
    return row_id


def _slow(session: Any) -> None:
    time.sleep(0.3)  # the writer is busy: what comes meanwhile queues up into one group


def _count(session: Any, table: str) -> int:
    return int(session.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_a_group_commits_every_call_but_the_one_that_raised(database: Database) -> None:
    busy = asyncio.ensure_future(database.write(_slow))
    await asyncio.sleep(0.05)
    calls = [database.write(_insert, "parent", i) for i in range(40)]
    calls.append(database.write(_insert, "parent", 7))  # a duplicate key: rolled back alone
    outcomes = await asyncio.gather(busy, *calls, return_exceptions=True)
    assert outcomes[1:41] == list(range(40))
    assert isinstance(outcomes[41], sqlite3.IntegrityError)
    assert await database.read(_count, "parent") == 40


async def test_a_failed_commit_fails_its_whole_group_and_the_next_one_works(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A deferred foreign key fails only at COMMIT: nothing of the group is stored, every
    caller gets the error, the log says it, and the next write commits."""
    busy = asyncio.ensure_future(database.write(_slow))
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.WARNING, logger="service.store"):
        outcomes = await asyncio.gather(
            busy,
            database.write(_insert, "parent", 1),
            database.write(_insert, "child", 1, 99),  # no parent 99
            return_exceptions=True,
        )
    assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes[1:])
    assert "was not committed" in caplog.text
    assert await database.read(_count, "parent") == 0
    assert await database.write(_insert, "parent", 2) == 2
    assert await database.read(_count, "parent") == 1
