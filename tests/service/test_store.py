"""The store on a real SQLite file: schema, job state transitions, atomic arrays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from service.domain.matrices import finalize_upload, read_header
from service.errors import InvalidArray
from service.store.arrays import save_npy
from service.store.db import connect, migrate, now, transaction
from service.store.jobs import JobRepository
from service.store.records import JobRecord, JobState


@pytest.fixture
def conn(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = connect(tmp_path / "db.sqlite")
    migrate(c)
    migrate(c)  # idempotent
    yield c
    c.close()


def _job(conn, job_id: str = "job_1") -> None:  # type: ignore[no-untyped-def]
    record = JobRecord(job_id, "t", "ds_1", 2, {"alpha": 1.0}, JobState.queued, now())
    with transaction(conn, write=True) as s:
        JobRepository(s).insert(record)


def test_wal_mode(conn) -> None:  # type: ignore[no-untyped-def]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_claim_heartbeat_finish_need_the_current_token(conn) -> None:  # type: ignore[no-untyped-def]
    _job(conn)
    with transaction(conn, write=True) as s:
        jobs = JobRepository(s)
        claimed = jobs.claim("job_1", "A", "w1")
        assert claimed is not None and claimed.state == "running" and claimed.attempts == 1
        assert jobs.claim("job_1", "B", "w2") is None  # already running
        assert jobs.heartbeat("job_1", "A") == (False, False)  # (cancel, yield) asked
        assert jobs.heartbeat("job_1", "B") is None
        jobs.request_cancel("job_1")
        assert jobs.heartbeat("job_1", "A") == (True, False)
        assert not jobs.finish("job_1", "B", JobState.succeeded)
        assert jobs.finish("job_1", "A", JobState.cancelled)
        job = jobs.get_by_id("job_1")
        assert job is not None and job.state == "cancelled" and job.run_token is None


def test_lost_runs_are_bounded(conn) -> None:  # type: ignore[no-untyped-def]
    _job(conn)
    with transaction(conn, write=True) as s:
        jobs = JobRepository(s)
        for attempt in (1, 2):
            jobs.claim("job_1", f"T{attempt}", "w")
            job = jobs.mark_lost("job_1", "worker died", max_attempts=3)
            assert job is not None and job.state == "queued" and job.attempts == attempt
        assert jobs.heartbeat("job_1", "T2") is None
        jobs.claim("job_1", "T3", "w")
        job = jobs.mark_lost("job_1", "worker died", max_attempts=3)
        assert job is not None and job.state == "failed"
        assert job.error == "gave up after 3 attempts; last: worker died"


def test_a_run_lost_before_claiming_is_not_counted(conn) -> None:  # type: ignore[no-untyped-def]
    """A job that waited in a dead worker's queue never ran: nothing is charged to it."""
    _job(conn)
    with transaction(conn, write=True) as s:
        job = JobRepository(s).mark_lost("job_1", "boom", max_attempts=1)
    assert job is not None and job.state == "queued" and job.attempts == 0 and job.error is None


def test_a_new_run_clears_the_last_ones_error(conn) -> None:  # type: ignore[no-untyped-def]
    _job(conn)
    with transaction(conn, write=True) as s:
        jobs = JobRepository(s)
        jobs.claim("job_1", "A", "w")
        jobs.release("job_1")
        assert "shutdown" in (jobs.get_by_id("job_1").error or "")  # type: ignore[union-attr]
        job = jobs.claim("job_1", "B", "w")
    assert job is not None and job.state == "running" and job.error is None


def test_release_does_not_count(conn) -> None:  # type: ignore[no-untyped-def]
    _job(conn)
    with transaction(conn, write=True) as s:
        jobs = JobRepository(s)
        jobs.claim("job_1", "A", "w")
        jobs.release("job_1")
        job = jobs.get_by_id("job_1")
    assert job is not None and job.state == "queued" and job.attempts == 0


def test_progress_rows_are_replaced_by_a_resumed_run(conn) -> None:  # type: ignore[no-untyped-def]
    from solvers import Progress as ProgressRecord

    _job(conn)
    with transaction(conn, write=True) as s:
        jobs = JobRepository(s)
        jobs.add_progress("job_1", [ProgressRecord(i, i, 10.0 - i, 0.1, 0) for i in (1, 2, 3)])
        jobs.add_progress("job_1", [ProgressRecord(3, 3, 6.5, 0.2, 0)])
        rows = jobs.progress_after("job_1", 1)
    assert [(r.iteration, r.objective) for r in rows] == [(2, 8.0), (3, 6.5)]


def test_save_npy_is_atomic_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "a" / "x.npy"
    save_npy(path, np.arange(6.0).reshape(2, 3))
    save_npy(path, np.ones((2, 3)))
    assert np.load(path).sum() == 6 and [p.name for p in path.parent.iterdir()] == ["x.npy"]


def test_read_header_refuses_oversized_claims() -> None:
    body = io.BytesIO()
    np.save(body, np.zeros((3, 3)))
    data = body.getvalue()
    with pytest.raises(InvalidArray, match="malformed"):
        read_header(io.BytesIO(data + b"\0" * 8), len(data) + 8)


def test_finalize_converts_float16_to_float32(tmp_path: Path) -> None:
    tmp = tmp_path / "up.npy"
    np.save(tmp, np.ones((4, 2), dtype=np.float16))
    shape, dtype = finalize_upload(tmp, tmp_path / "final.npy")
    assert (shape, dtype) == ((4, 2), "float32") and not tmp.exists()
    assert np.load(tmp_path / "final.npy").dtype == np.float32


def test_a_run_asked_to_give_way_is_queued_again_uncounted(conn) -> None:  # type: ignore[no-untyped-def]
    _job(conn)
    with transaction(conn, write=True) as s:
        jobs = JobRepository(s)
        jobs.claim("job_1", "A", "w")
        assert jobs.request_yield("job_1") and jobs.yielding() == ["job_1"]
        assert jobs.heartbeat("job_1", "A") == (False, True)
        assert not jobs.requeue_yielded("job_1", "B")  # not its run
        assert jobs.requeue_yielded("job_1", "A")
        job = jobs.get_by_id("job_1")
        assert job is not None and job.state == "queued" and job.attempts == 0
        assert job.yield_requested is False and "another tenant" in (job.error or "")
        again = jobs.claim("job_1", "C", "w")
        assert again is not None and again.attempts == 1 and again.error is None


def test_job_options_are_typed_where_they_are_run() -> None:
    """A job's stored options read back as the fit's options, an initial dictionary that is a
    model reference or a name, and an execution; unknown options are a corrupt record."""
    from service.store.records import JobOptions, ModelRef

    stored = {"alpha": 0.5, "max_iter": 3, "init": "mdl_" + "0" * 32, "execution": "local"}
    options = JobOptions.from_json(stored)
    assert options.init == ModelRef("mdl_" + "0" * 32) and options.execution == "local"
    assert options.fit == {"alpha": 0.5, "max_iter": 3} and options.to_json() == stored
    assert JobOptions.from_json({"init": "svd"}).init == "svd"
    appending = {**stored, "append": True}
    assert JobOptions.from_json(appending).append is True
    assert JobOptions.from_json(appending).to_json() == appending
    with pytest.raises(ValueError, match="unknown options"):
        JobOptions.from_json({"learning_rate": 1.0})
