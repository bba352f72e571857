"""/v1/backends, /healthz, /readyz, /metrics."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from ..domain import jobs
from ..errors import NotReady
from ..schemas.system import BackendPublic, BackendsPublic, Health, Readiness
from .deps import Operator, State, Tenant
from .responses import problems

router = APIRouter(tags=["system"])


@router.get("/v1/backends", summary="List backends", responses=problems(503))
async def list_backends(state: State, tenant: Tenant) -> BackendsPublic:
    """Backends the workers of this deployment can run (cupy: device name and memory)."""
    probed = await state.require_dispatcher().worker_backends()
    merged: dict[str, BackendPublic] = {}
    for address, backends in sorted(probed.items()):
        for b in backends:
            entry = merged.setdefault(b["name"], BackendPublic(name=b["name"], available=False))
            if b["available"]:
                entry.available = True
                entry.workers.append(address)
                entry.device = entry.device or b.get("device")
                entry.memory_bytes = entry.memory_bytes or b.get("memory_bytes")
                entry.reason = None
            elif not entry.available:
                entry.reason = b.get("reason")
    data = list(merged.values())
    return BackendsPublic(data=data, count=len(data))


@router.get("/healthz", summary="Liveness")
async def healthz() -> Health:
    """Liveness: the process answers."""
    return Health()


@router.get(
    "/readyz",
    summary="Readiness",
    responses=problems(503, authenticated=False),
)
async def readyz(state: State) -> Readiness:
    """Readiness: the database answers, the CPU kernels are compiled (the first start after
    an install compiles them, a few seconds) and at least one Dask worker is connected. Jobs
    submitted before then wait in the queue."""
    await state.db.read(lambda s: s.execute("SELECT 1").fetchone())
    if not state.kernels.ready:
        raise NotReady(state.kernels.detail, kernels=state.kernels.state.value)
    dispatcher = state.require_dispatcher()
    workers = len(await dispatcher.worker_addresses())
    if workers == 0:
        raise NotReady("no Dask worker is connected")
    return Readiness(status="ready", database=True, kernels="ready", workers=workers)


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **problems(401, authenticated=False),
    },
)
async def metrics(state: State, operator: Operator) -> Response:
    """Prometheus metrics: jobs by state, queue length, fit seconds, iterations, over all
    tenants; for the operator's key (`Authorization: Bearer` SPARSECODING_METRICS_KEY) only."""
    counts = await jobs.counts_by_state(state)
    state.metrics.set_job_counts(counts)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
