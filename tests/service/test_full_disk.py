"""A data directory on a small tmpfs that fills up: uploads are refused with 507 before they
fill it, nothing half-written is kept, and a job whose checkpoint found no room waits, queued
and uncharged, then resumes when there is room again. Needs the right to mount a tmpfs (root
on Linux); skipped, saying so, where it has not."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from service_testing import (
    LONG_FIT,
    NPY,
    assert_problem,
    in_process_client,
    make_settings,
    matrix,
    npy,
    running,
    submit,
    upload,
    wait_for,
)

from service.app import create_app

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

DISK_BYTES = 24 * 2**20
RESERVE = 2 * 2**20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
async def disk_app(small_disk: Path, dask_scheduler: str) -> AsyncIterator[FastAPI]:
    settings = make_settings(small_disk / "data", dask_scheduler, min_free_bytes=RESERVE)
    async with running(create_app(settings)) as app:
        yield app


@pytest.fixture
async def client(disk_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(disk_app) as c:
        yield c


def _left_behind(app: FastAPI) -> list[Path]:
    layout = app.state.service.layout
    return [*layout.tmp.iterdir(), *(layout.root / "datasets").iterdir()]


def _fill(app: FastAPI, leave: int) -> Path:
    """A file that takes all the room but `leave` bytes."""
    import shutil

    layout = app.state.service.layout
    filler = layout.root / "filler"
    free = shutil.disk_usage(layout.root).free
    with open(filler, "wb") as f:
        f.truncate(0)
        block = b"\0" * 2**20
        remaining = max(free - leave, 0)
        while remaining > 0:
            f.write(block[: min(remaining, len(block))])
            remaining -= len(block)
    return filler


async def test_an_upload_bigger_than_the_room_is_refused_before_it_is_read(
    disk_app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = npy(np.zeros((4000, 1000)))  # 32 MB on a 24 MiB disk
    r = await client.post("/v1/datasets", content=body, headers={"Content-Type": NPY})
    problem = assert_problem(r, 507, "insufficient-storage")
    assert "MiB free" in problem["detail"] and "SPARSECODING_MIN_FREE_BYTES" in problem["detail"]
    assert _left_behind(disk_app) == []


async def test_an_unannounced_upload_is_stopped_when_the_room_runs_out(
    disk_app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = npy(np.zeros((4000, 1000)))

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for start in range(0, len(body), 2**20):
            yield body[start : start + 2**20]

    r = await client.post("/v1/datasets", content=chunks(), headers={"Content-Type": NPY})
    assert_problem(r, 507, "insufficient-storage")
    assert _left_behind(disk_app) == []
    small = npy(matrix(100, 8))  # and the disk still takes what fits
    r = await client.post("/v1/datasets", content=small, headers={"Content-Type": NPY})
    assert r.status_code == 201, r.text


async def test_json_data_and_inline_jobs_need_room_too(
    disk_app: FastAPI, client: httpx.AsyncClient
) -> None:
    filler = _fill(disk_app, leave=RESERVE + 2**19)
    try:
        rows = matrix(2000, 64).tolist()  # 1 MB as float64: more than the room above the reserve
        assert_problem(await client.post("/v1/datasets", json={"data": rows}), 507)
        r = await client.post("/v1/jobs", json={"data": rows, "n_components": 4})
        assert_problem(r, 507, "insufficient-storage")
        assert (await client.get("/v1/jobs")).json()["count"] == 0
        assert _left_behind(disk_app) == []
    finally:
        filler.unlink()


async def test_a_job_out_of_room_waits_uncharged_and_resumes(
    disk_app: FastAPI, client: httpx.AsyncClient
) -> None:
    dataset_id = await upload(client, matrix(5000, 64))
    job = await submit(client, dataset_id=dataset_id, **{**LONG_FIT, "n_components": 32})
    checkpoint = disk_app.state.service.layout.checkpoint(job["id"])
    await wait_for(
        client, job["id"], {"running"}, predicate=lambda j: j["progress"] and checkpoint.exists()
    )
    filler = _fill(disk_app, leave=2**18)  # room for the database, not for a checkpoint
    try:
        waiting = await wait_for(
            client, job["id"], {"queued"}, predicate=lambda j: "disk is full" in (j["error"] or "")
        )
        assert waiting["attempts"] == 0, waiting  # the job did nothing wrong
        assert checkpoint.exists()  # the last good checkpoint is kept
    finally:
        filler.unlink()
    resumed = await wait_for(client, job["id"], {"running"}, predicate=lambda j: j["progress"])
    assert resumed["attempts"] == 1
    await client.post(f"/v1/jobs/{job['id']}/cancel")
    done = await wait_for(client, job["id"])
    assert done["state"] == "cancelled"
