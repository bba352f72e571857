"""/v1/datasets: upload a matrix, read its metadata, list, delete."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, Response, status

from ..domain import datasets
from ..errors import UnsupportedMediaType
from ..schemas.datasets import DatasetPublic, DatasetsPublic
from ..store.arrays import parse_json_matrix_body
from .content import media_type, read_body
from .deps import State, Tenant
from .responses import NPY_MEDIA_TYPE, problems, request_body

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])

Offset = Annotated[int, Query(ge=0)]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problems(413, 415, 422),
    openapi_extra=request_body(
        "MatrixUpload",
        f"`{NPY_MEDIA_TYPE}` (or octet-stream) `.npy` bytes, never unpickled; or JSON rows",
    ),
)
async def upload_dataset(
    request: Request,
    response: Response,
    state: State,
    tenant: Tenant,
    name: Annotated[str | None, Query(max_length=200)] = None,
) -> DatasetPublic:
    """Store a matrix (n_samples, n_features). `.npy` bodies stream to disk; NaN, Inf,
    object or structured dtypes, and malformed files are refused with 422."""
    kind = media_type(request)
    if kind in (NPY_MEDIA_TYPE, "application/octet-stream"):
        record = await datasets.upload_npy(state, tenant, request.stream(), name)
    elif kind == "application/json":
        body = await read_body(request, state.settings.max_json_bytes)
        X, extra = await anyio.to_thread.run_sync(parse_json_matrix_body, body)
        label = name if name is not None else extra.get("name")
        record = await datasets.store_matrix(
            state, tenant, X, str(label)[:200] if label is not None else None
        )
    else:
        raise UnsupportedMediaType(
            f"Content-Type {kind or '(none)'!r}: send {NPY_MEDIA_TYPE} or application/json"
        )
    response.headers["Location"] = f"/v1/datasets/{record.id}"
    return DatasetPublic.of(record)


@router.get("", responses=problems(422))
async def list_datasets(
    state: State, tenant: Tenant, offset: Offset = 0, limit: Limit = 20
) -> DatasetsPublic:
    """Your datasets, newest first."""
    records, count = await datasets.list_(state, tenant, offset, limit)
    return DatasetsPublic(data=[DatasetPublic.of(r) for r in records], count=count)


@router.get("/{dataset_id}", responses=problems(404))
async def get_dataset(dataset_id: str, state: State, tenant: Tenant) -> DatasetPublic:
    """Shape, dtype, size and sha256 of the uploaded body."""
    return DatasetPublic.of(await datasets.get(state, tenant, dataset_id))


@router.delete(
    "/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404, 409)
)
async def delete_dataset(dataset_id: str, state: State, tenant: Tenant) -> None:
    """Delete a dataset that no queued or running job uses (models learned from it stay)."""
    await datasets.delete(state, tenant, dataset_id)
