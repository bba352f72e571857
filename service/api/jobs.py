"""/v1/jobs: submit fits, follow them, cancel them, fetch their codes."""

from __future__ import annotations

import re
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from ..domain import jobs
from ..errors import InvalidInput, InvalidJson, UnsupportedMediaType
from ..schemas.common import EXAMPLE_JOB_ID, EXAMPLE_MODEL_ID, MatrixPublic
from ..schemas.jobs import JobCreate, JobPublic, JobsPublic
from ..state import AppState
from ..store.records import JobRecord, JobState
from .content import matrix_response, media_type
from .deps import Limit, Offset, State, Tenant
from .events import EventStream, job_events, parse_last_event_id
from .responses import location, npy_or_json, problems

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

JobId = Annotated[
    str, Path(description="a job id, as submit returned it", examples=[EXAMPLE_JOB_ID])
]
_SSE_EVENT = {
    "description": "One event of the stream (the schema describes each event, as OpenAPI 3.1 "
    "does for event streams): `data` is the JSON of a ProgressPublic, of a PhasePublic (what a "
    "running job is doing) or, last, of a JobPublic",
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["progress", "phase", "status"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string", "description": "progress events: the iteration"},
        "retry": {"type": "integer"},
    },
    "oneOf": [
        {
            "properties": {
                "event": {"const": "progress"},
                "data": {"contentSchema": {"$ref": "#/components/schemas/ProgressPublic"}},
            }
        },
        {
            "properties": {
                "event": {"const": "phase"},
                "data": {"contentSchema": {"$ref": "#/components/schemas/PhasePublic"}},
            }
        },
        {
            "properties": {
                "event": {"const": "status"},
                "data": {"contentSchema": {"$ref": "#/components/schemas/JobPublic"}},
            }
        },
    ],
}
_SSE_EXAMPLE = (
    "retry: 1000\n\n"
    "id: 1\nevent: progress\n"
    'data: {"iteration":1,"epoch":1.0,"objective":27.1,"elapsed_s":0.02,"max_gap":1e-11}\n\n'
    "event: status\n"
    f'data: {{"id":"{EXAMPLE_JOB_ID}","state":"succeeded","model_id":"{EXAMPLE_MODEL_ID}"}}\n\n'
)


_N_COMPONENTS = re.compile(rb'"n_components"\s*:\s*(-?[0-9]+)')
_INLINE = [[0.0]]  # stands for the inline matrix, parsed and checked apart, in validation


async def _read_job(request: Request, state: AppState) -> tuple[JobCreate, np.ndarray | None]:
    """The job a body asks for, and its inline matrix. What the bytes decide comes first
    (n_components over the limit: a key can only be followed by a colon in JSON); a large
    body is parsed off the event loop (`json_bodies`); the options are validated as JobCreate
    (errors as the validation problem they always were)."""
    kind = media_type(request)
    if kind not in ("", "application/json"):
        raise UnsupportedMediaType(f"Content-Type {kind!r}: send the job as application/json")
    body = await request.body()  # BodyLimit has bounded it (max_json_bytes)
    limit = state.settings.max_n_components
    found = _N_COMPONENTS.findall(body)  # the last one is what the parser keeps
    if found and (len(found[-1]) > 20 or int(found[-1]) > limit):
        raise InvalidInput(
            f"n_components is {found[-1][:20].decode()}…; this server allows at most {limit}"
        )
    try:
        document, X = await state.json_bodies.parse(body)
    except InvalidJson as exc:
        raise _invalid(("body",), exc.detail, "json_invalid") from None
    if not isinstance(document, dict):
        raise _invalid(("body",), "a job is a JSON object", "dict_type")
    try:
        spec = JobCreate.model_validate(
            {**document, "data": _INLINE} if X is not None else document
        )
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
    return spec, X


def _invalid(loc: tuple[str, ...], message: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": message, "type": kind}])


def job_response(
    job: JobRecord, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A job as JSON, serialised once: FastAPI would validate the JobPublic built from our own
    record a second time against its response model (submission is the busiest route)."""
    body = JobPublic.of(job).model_dump_json(by_alias=True)
    return Response(body, status_code, headers, media_type="application/json")


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobPublic,
    summary="Submit a fit",
    responses={
        202: {
            "description": "Queued (on disk); `Location` is the job's URL",
            "headers": {
                **location("the job's URL"),
                "Idempotent-Replayed": {
                    "schema": {"type": "string", "enum": ["true"]},
                    "description": "present when an earlier request with this key made the job",
                },
            },
        },
        **problems(400, 404, 409, 413, 415, 422, 429, 503, 507),
    },
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobCreate"}}},
            "required": True,
        }
    },
)
async def create_job(
    request: Request,
    state: State,
    tenant: Tenant,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="same key and body → the same job, once"),
    ] = None,
) -> Response:
    """Queue a fit of `dataset_id` (or of the inline `data`) with the given options."""
    spec, X = await _read_job(request, state)
    job, replayed = await jobs.create(state, tenant, spec, idempotency_key, X)
    headers = {"Location": f"/v1/jobs/{job.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return job_response(job, status.HTTP_202_ACCEPTED, headers)


@router.get("", summary="List jobs", responses=problems(422))
async def list_jobs(
    state: State,
    tenant: Tenant,
    status: Annotated[JobState | None, Query(description="only jobs in this state")] = None,
    offset: Offset = 0,
    limit: Limit = 20,
) -> JobsPublic:
    """Your jobs, newest first; `count` is the total over all pages."""
    records, count = await jobs.list_(state, tenant, status, offset, limit)
    return JobsPublic(data=[JobPublic.of(r) for r in records], count=count)


@router.get("/{job_id}", summary="Get a job", responses=problems(404))
async def get_job(job_id: JobId, state: State, tenant: Tenant) -> JobPublic:
    """State, latest progress, error and result model of a job."""
    return JobPublic.of(await jobs.get(state, tenant, job_id))


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Cancel a job",
    responses={202: {"description": "Cancel requested (or done)"}, **problems(404, 409)},
)
async def cancel_job(job_id: JobId, state: State, tenant: Tenant) -> JobPublic:
    """Cooperative cancel: a queued job is cancelled at once, a running one within ~1-2 s."""
    return JobPublic.of(await jobs.cancel(state, tenant, job_id))


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    summary="Follow a job (Server-Sent Events)",
    responses={
        200: {
            "description": "`progress` events (data: ProgressPublic, id = iteration) and `phase` "
            "events (data: PhasePublic) as a running job changes what it does, then one "
            "`status` event (data: JobPublic) when the job has finished",
            "content": {"text/event-stream": {"schema": _SSE_EVENT, "example": _SSE_EXAMPLE}},
        },
        **problems(404, 429),
    },
)
async def stream_job_events(
    job_id: JobId,
    request: Request,
    state: State,
    tenant: Tenant,
    last_event_id: Annotated[
        str | None, Header(description="resume after this event id (an iteration)")
    ] = None,
) -> StreamingResponse:
    """Server-Sent Events: every progress record in order, then the final job as `status`."""
    await jobs.get(state, tenant, job_id)
    stream = job_events(state, request, job_id, parse_last_event_id(last_event_id))
    return EventStream(state, tenant, stream)


@router.get(
    "/{job_id}/codes",
    response_model=MatrixPublic,
    summary="Get the codes of a job",
    responses={**npy_or_json("The codes (n_samples, n_components)"), **problems(404, 406, 409)},
)
async def get_job_codes(job_id: JobId, request: Request, state: State, tenant: Tenant) -> Response:
    """The codes of a succeeded job: JSON, or `.npy` with `Accept: application/x-npy`."""
    path = await jobs.codes_file(state, tenant, job_id)
    return await matrix_response(
        request, path, f"{job_id}-codes.npy", state.settings.encode_max_values
    )
