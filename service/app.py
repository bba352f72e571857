"""`create_app(settings)`: the FastAPI app, whose lifespan opens the database, starts (or
connects to) the Dask cluster and the dispatcher, and stops them again."""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
from collections.abc import AsyncIterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from distributed import LocalCluster
from fastapi import FastAPI
from fastapi.routing import APIRoute

from .api import routers
from .api.openapi import build_openapi
from .api.problems import install_handlers
from .keys import KeyRing
from .limits import BodyLimit
from .metrics import Metrics
from .runner.cluster import start_cluster
from .runner.dispatcher import Dispatcher
from .settings import Settings
from .state import AppState
from .store.db import Database
from .store.layout import DataLayout

log = logging.getLogger("service")
VERSION = "0.1.0"


def _operation_id(route: APIRoute) -> str:
    return route.name  # the endpoint function's name: upload_dataset, get_job, ...


async def _start_execution(state: AppState, embedded: Future[LocalCluster] | None) -> None:
    """Start (or connect to) the Dask cluster and the dispatcher; a failure is kept for
    /readyz and the log (the API goes on answering)."""
    try:
        state.cluster = await start_cluster(state.settings, state.layout, embedded)
        dispatcher = Dispatcher(
            state.settings, state.db, state.layout, state.cluster, state.metrics
        )
        await dispatcher.recover()
        dispatcher.start()
        state.dispatcher = dispatcher
    except Exception as exc:
        state.execution_error = f"the Dask cluster did not start: {type(exc).__name__}: {exc}"
        log.error(state.execution_error)
        return
    log.info("sparsecoding service ready; data in %s", state.layout.root)


async def _stop_execution(state: AppState) -> None:
    if state.execution is not None and not state.execution.done():
        state.execution.cancel()
        await asyncio.gather(state.execution, return_exceptions=True)
    if state.dispatcher is not None:
        log.info(_stopped_runs(await state.dispatcher.stop()))
        state.dispatcher = None
    if state.cluster is not None:
        await state.cluster.close()
        state.cluster = None


def _stopped_runs(job_ids: list[str]) -> str:
    """The one line a shutdown says about the jobs it interrupted."""
    if not job_ids:
        return "stopping: no job was running"
    names = ", ".join(job_ids)
    return (
        f"stopping: {len(job_ids)} running job(s) ({names}) queued again; they resume from "
        "their last checkpoint when the service starts again"
    )


@dataclass(frozen=True)
class Prestarted:
    """What `sparsecoding serve` starts before it imports the app, so that it overlaps the
    API's own start (about a second): the embedded cluster's worker processes
    (`runner.cluster.start_embedded`) and, on a fresh install, the kernels' compilation
    (`warmup.begin_compiling`). The lifespan takes both over."""

    cluster: Future[LocalCluster] | None = None
    compiling: subprocess.Popen[bytes] | None = None


def create_app(settings: Settings | None = None, prestarted: Prestarted | None = None) -> FastAPI:
    """The app for `settings` (default: from the environment). Nothing starts until the
    lifespan runs, but what `prestarted` holds."""
    settings = settings or Settings()
    layout = DataLayout(settings.data_dir)
    state = AppState(
        settings=settings,
        layout=layout,
        db=Database(layout.database, settings.sqlite_synchronous),
        metrics=Metrics(),
        keys=KeyRing(settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        layout.create()
        state.db.open()
        # Both take a second or more (the kernels several on a fresh install): the API answers
        # meanwhile, and jobs submitted wait in the queue until workers are there.
        early = prestarted or Prestarted()
        state.kernels.start(early.compiling)
        state.execution = asyncio.create_task(
            _start_execution(state, early.cluster), name="execution"
        )
        # What start-up built (routes, schemas) lives as long as the app: out of the
        # collector's sight, a full collection scans only what requests leave behind — 80 ms
        # pauses of every request otherwise, the p99 of submission.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # what the app leaves behind can be collected again
            await _stop_execution(state)
            await state.kernels.stop()
            state.json_bodies.close()
            await state.job_feed.close()
            state.db.close()

    app = FastAPI(
        title="sparsecoding",
        version=VERSION,
        summary="Dictionary learning and sparse coding as a service",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        # no 307 to the slash-less path: its Location would echo the request's Host header
        redirect_slashes=False,
    )
    app.state.service = state
    install_handlers(app)
    for router in routers:
        app.include_router(router)
    app.add_middleware(
        BodyLimit,
        default=settings.max_json_bytes,
        uploads=settings.max_upload_bytes,
        upload_path="/v1/datasets",
        in_flight_budget=settings.max_json_in_flight_bytes,
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
