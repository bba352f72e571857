"""Fixtures of the service tests: a real Dask cluster shared by the session, and apps on real
SQLite data directories, driven in-process through `httpx.ASGITransport` with their lifespan
running (ASGITransport does not run it by itself)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from distributed import LocalCluster
from fastapi import FastAPI
from service_testing import ALICE_KEY, BOB_KEY, in_process_client, make_settings, running

from service.app import create_app


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """Two real worker processes, shared by every in-process app of the session."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.WARNING,
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="session")
def idle_scheduler() -> Iterator[str]:
    """A real scheduler without workers: jobs sent there stay queued."""
    with LocalCluster(
        n_workers=0, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
async def app(tmp_path: Path, dask_scheduler: str) -> AsyncIterator[FastAPI]:
    async with running(create_app(make_settings(tmp_path, dask_scheduler))) as started:
        yield started


@pytest.fixture
async def idle_app(tmp_path: Path, idle_scheduler: str) -> AsyncIterator[FastAPI]:
    settings = make_settings(tmp_path, idle_scheduler, max_queued_jobs=2, retry_after_s=7)
    async with running(create_app(settings)) as started:
        yield started


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(app, ALICE_KEY) as c:
        yield c


@pytest.fixture
async def bob(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(app, BOB_KEY) as c:
        yield c


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(app, None) as c:
        yield c


@pytest.fixture
async def idle_client(idle_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(idle_app, ALICE_KEY) as c:
        yield c
