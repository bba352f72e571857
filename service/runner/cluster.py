"""The Dask cluster of the service: an embedded LocalCluster, or an external scheduler."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

import dask
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

from ..settings import Settings
from ..store.layout import DataLayout
from . import worker_setup

log = logging.getLogger("service.runner")

WORKER_NICENESS = 10
"""How much lower than the API the embedded workers run (`nice`): on a small machine a fit
must not take the cores from the requests, which are short; the fits get them back whenever the
API is idle. Only the embedded workers: an external cluster's are its own business."""


class LowerPriority(WorkerPlugin):
    """Lowers the CPU priority of every thread of a worker process (Linux: niceness is per
    thread, and threads started later inherit it from the thread that starts them)."""

    idempotent = True

    def __init__(self, niceness: int) -> None:
        self.niceness = niceness

    def setup(self, worker: Any) -> None:
        if not sys.platform.startswith("linux"):
            os.nice(self.niceness)  # pragma: no cover - elsewhere niceness is per process
            return
        target = os.getpriority(os.PRIO_PROCESS, 0) + self.niceness
        for tid in os.listdir("/proc/self/task"):
            try:
                if os.getpriority(os.PRIO_PROCESS, int(tid)) < target:
                    os.setpriority(os.PRIO_PROCESS, int(tid), target)
            except OSError:  # the thread ended meanwhile
                pass


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


async def start_cluster(settings: Settings, layout: DataLayout) -> Cluster:
    """Connect to `settings.dask_scheduler`, or start `settings.workers` worker processes.

    Embedded workers are processes with one thread each (a fit uses the cores through its own
    compiled kernels), bound to the loopback interface, at a lower CPU priority than the API
    (`WORKER_NICENESS`). Their scheduler and nannies run on an event loop of their own, in a
    thread of this process, not on the API's loop: scheduling hundreds of small tasks never
    holds up a request. A task whose worker dies is not retried by Dask (`allowed-failures:
    0`): the dispatcher requeues the job itself, so that attempts are counted in one place.
    """
    if settings.dask_scheduler:
        client = await Client(settings.dask_scheduler, asynchronous=True)
        return Cluster(client, None)
    # without `asynchronous`, LocalCluster runs on its own loop in a background thread
    local = await asyncio.to_thread(_start_local, settings, layout)
    try:
        client = await Client(local.scheduler_address, asynchronous=True)
        try:
            await client.register_plugin(LowerPriority(WORKER_NICENESS), name="lower-priority")
        except BaseException:
            await client.close()
            raise
    except BaseException:
        await asyncio.to_thread(local.close)
        raise
    return Cluster(client, local)
