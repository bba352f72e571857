"""The state one app shares between its requests (built by the lifespan)."""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .api.job_feed import JobFeed
from .api.json_bodies import JsonBodies
from .errors import NotReady
from .keys import KeyRing
from .metrics import Metrics
from .runner.cluster import Cluster
from .runner.dispatcher import Dispatcher
from .settings import Settings
from .store.db import Database
from .store.layout import DataLayout
from .store.records import ModelRecord
from .warmup import KernelWarmup


@dataclass
class AppState:
    settings: Settings
    layout: DataLayout
    db: Database
    metrics: Metrics
    keys: KeyRing
    dispatcher: Dispatcher | None = None
    cluster: Cluster | None = None
    execution: asyncio.Task[None] | None = None  # starting the cluster and the dispatcher
    execution_error: str | None = None
    stopping: bool = False
    kernels: KernelWarmup = field(default_factory=KernelWarmup)
    json_bodies: JsonBodies = field(default_factory=JsonBodies)
    dictionaries: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    model_records: OrderedDict[tuple[str, str], ModelRecord] = field(default_factory=OrderedDict)
    job_feed: JobFeed = field(init=False)
    open_streams: Counter[str] = field(default_factory=Counter)  # event streams per tenant

    def __post_init__(self) -> None:
        self.job_feed = JobFeed(self.db)

    def begin_stop(self) -> None:
        """A stop signal arrived: open event streams end now (the lifespan stops the rest)."""
        self.stopping = True
        self.job_feed.wake_all()

    def require_dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            raise NotReady(self.execution_error or "the Dask cluster is starting")
        return self.dispatcher

    async def started(self) -> None:
        """Wait until the start-up work of the lifespan (kernels, cluster) is over."""
        await self.kernels.wait()
        if self.execution is not None:
            await asyncio.shield(self.execution)
