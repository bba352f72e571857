"""The Dask cluster of the service: an embedded LocalCluster, or an external scheduler."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import dask
from distributed import Client, LocalCluster

from ..settings import Settings
from ..store.layout import DataLayout
from . import worker_setup

log = logging.getLogger("service.runner")


@dataclass
class Cluster:
    client: Client
    local: LocalCluster | None

    async def close(self) -> None:
        await self.client.close()
        if self.local is not None:
            # the embedded cluster runs on its own event loop thread (see start_cluster)
            await asyncio.to_thread(self.local.close)


def _start_local(settings: Settings, layout: DataLayout) -> LocalCluster:
    config: dict[str, Any] = {
        "distributed.scheduler.allowed-failures": 0,
    }
    python = worker_setup.worker_python(layout.dask)
    if python is not None and dask.config.get("distributed.worker.multiprocessing-method") == (
        "spawn"
    ):
        # The one multiprocessing user of this process: its spawned children are the workers.
        multiprocessing.get_context("spawn").set_executable(python)
    with dask.config.set(config):
        return LocalCluster(
            n_workers=settings.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # its HTTP server (health, metrics), any port
            local_directory=str(layout.dask),
            silence_logs=logging.WARNING,
            preload=[worker_setup.__name__],
        )


def start_embedded(settings: Settings, layout: DataLayout) -> Future[LocalCluster] | None:
    """Begin starting the embedded cluster now, in a thread (None with an external scheduler).

    `sparsecoding serve` calls this before it even imports the app: the worker processes take
    about a second to start, which then overlaps the API's own start instead of following it.
    """
    if settings.dask_scheduler:
        return None
    layout.create()
    starter = ThreadPoolExecutor(1, thread_name_prefix="start-cluster")
    try:
        return starter.submit(_start_local, settings, layout)
    finally:
        starter.shutdown(wait=False)


async def start_cluster(
    settings: Settings, layout: DataLayout, embedded: Future[LocalCluster] | None = None
) -> Cluster:
    """Connect to `settings.dask_scheduler`, or start `settings.workers` worker processes
    (or take those `start_embedded` is starting).

    Embedded workers are processes with one thread each (a fit uses the cores through its own
    compiled kernels), bound to the loopback interface, at a lower CPU priority than the API
    (`worker_setup`). Their scheduler and nannies run on an event loop of their own, in a
    thread of this process, not on the API's loop: scheduling hundreds of small tasks never
    holds up a request. A task whose worker dies is not retried by Dask (`allowed-failures:
    0`): the dispatcher requeues the job itself, so that attempts are counted in one place.
    """
    if settings.dask_scheduler:
        client = await Client(settings.dask_scheduler, asynchronous=True)
        return Cluster(client, None)
    # without `asynchronous`, LocalCluster runs on its own loop in a background thread
    if embedded is None:
        embedded = start_embedded(settings, layout)
        assert embedded is not None
    local = await asyncio.wrap_future(embedded)
    try:
        client = await Client(local.scheduler_address, asynchronous=True)
    except BaseException:
        await asyncio.to_thread(local.close)
        raise
    return Cluster(client, local)
