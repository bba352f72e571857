"""/v1/jobs: submit fits, follow them, cancel them, fetch their codes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from ..domain import jobs
from ..schemas.common import MatrixPublic
from ..schemas.jobs import JobCreate, JobPublic, JobsPublic
from ..store.records import JobState
from .content import matrix_response
from .deps import State, Tenant
from .events import job_events, parse_last_event_id
from .responses import npy_or_json, problems

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **problems(404, 409, 413, 422, 429),
        202: {
            "description": "Queued (on disk); `Location` is the job's URL",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
    },
)
async def create_job(
    spec: JobCreate,
    response: Response,
    state: State,
    tenant: Tenant,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="same key and body → the same job, once"),
    ] = None,
) -> JobPublic:
    """Queue a fit of `dataset_id` (or of the inline `data`) with the given options."""
    job, replayed = await jobs.create(state, tenant, spec, idempotency_key)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return JobPublic.of(job)


@router.get("", responses=problems(422))
async def list_jobs(
    state: State,
    tenant: Tenant,
    status: Annotated[JobState | None, Query(description="only jobs in this state")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobsPublic:
    """Your jobs, newest first; `count` is the total over all pages."""
    records, count = await jobs.list_(state, tenant, status, offset, limit)
    return JobsPublic(data=[JobPublic.of(r) for r in records], count=count)


@router.get("/{job_id}", responses=problems(404))
async def get_job(job_id: str, state: State, tenant: Tenant) -> JobPublic:
    """State, latest progress, error and result model of a job."""
    return JobPublic.of(await jobs.get(state, tenant, job_id))


@router.post("/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED, responses=problems(404, 409))
async def cancel_job(job_id: str, state: State, tenant: Tenant) -> JobPublic:
    """Cooperative cancel: a queued job is cancelled at once, a running one within ~1-2 s."""
    return JobPublic.of(await jobs.cancel(state, tenant, job_id))


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        **problems(404),
        200: {
            "description": "`progress` events (id = iteration), then one `status` event",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
)
async def stream_job_events(
    job_id: str,
    request: Request,
    state: State,
    tenant: Tenant,
    last_event_id: Annotated[str | None, Header(description="resume after this id")] = None,
) -> StreamingResponse:
    """Server-Sent Events: every progress record in order, then the final job as `status`."""
    await jobs.get(state, tenant, job_id)
    stream = job_events(state, request, job_id, parse_last_event_id(last_event_id))
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{job_id}/codes",
    response_model=MatrixPublic,
    responses={**npy_or_json("The codes (n_samples, n_components)"), **problems(404, 406, 409)},
)
async def get_job_codes(job_id: str, request: Request, state: State, tenant: Tenant) -> Response:
    """The codes of a succeeded job: JSON, or `.npy` with `Accept: application/x-npy`."""
    await jobs.succeeded(state, tenant, job_id)
    path = state.layout.codes(job_id)
    return await matrix_response(
        request, path, f"{job_id}-codes.npy", state.settings.encode_max_values
    )
