"""The Dask cluster of the service: an embedded LocalCluster, or an external scheduler."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import dask
from distributed import Client, LocalCluster

from ..settings import Settings
from ..store.layout import DataLayout


@dataclass
class Cluster:
    client: Client
    local: LocalCluster | None

    async def close(self) -> None:
        await self.client.close()
        if self.local is not None:
            await self.local.close()  # type: ignore[misc]


async def start_cluster(settings: Settings, layout: DataLayout) -> Cluster:
    """Connect to `settings.dask_scheduler`, or start `settings.workers` worker processes.

    Embedded workers are processes with one thread each (a fit uses the cores through its own
    compiled kernels), bound to the loopback interface. A task whose worker dies is not retried
    by Dask (`allowed-failures: 0`): the dispatcher requeues the job itself, so that attempts
    are counted in one place.
    """
    if settings.dask_scheduler:
        client = await Client(settings.dask_scheduler, asynchronous=True)
        return Cluster(client, None)
    config: dict[str, Any] = {
        "distributed.scheduler.allowed-failures": 0,
    }
    with dask.config.set(config):
        local = await LocalCluster(
            n_workers=settings.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # its HTTP server (health, metrics), any port
            local_directory=str(layout.dask),
            silence_logs=logging.WARNING,
            asynchronous=True,
        )
        client = await Client(local, asynchronous=True)
    return Cluster(client, local)
