"""/v1/datasets: upload a matrix, read its metadata, list, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from ..domain import datasets
from ..errors import InvalidArray, InvalidInput, UnsupportedMediaType
from ..schemas.common import EXAMPLE_DATASET_ID
from ..schemas.datasets import DatasetPublic, DatasetsPublic
from .content import media_type
from .deps import Limit, Offset, State, Tenant
from .responses import NPY_MEDIA_TYPE, location, problems, request_body

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])

MAX_NAME = 200

# SQLite integers are 64-bit: a larger offset would be a 500, not a 422
DatasetId = Annotated[
    str, Path(description="a dataset id, as upload returned it", examples=[EXAMPLE_DATASET_ID])
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a matrix",
    responses={
        201: {"description": "Stored", "headers": location("the dataset's URL")},
        **problems(413, 415, 422, 503, 507),
    },
    openapi_extra=request_body(
        "MatrixUpload",
        f"`{NPY_MEDIA_TYPE}` (or octet-stream) `.npy` bytes, never unpickled; or JSON rows",
        {"data": [[0.0, 1.0, 2.0], [1.5, -0.5, 0.25]], "name": "example"},
    ),
)
async def upload_dataset(
    request: Request,
    response: Response,
    state: State,
    tenant: Tenant,
    name: Annotated[
        str | None, Query(max_length=MAX_NAME, description="a label (JSON bodies may carry it too)")
    ] = None,
) -> DatasetPublic:
    """Store a matrix (n_samples, n_features). `.npy` bodies stream to disk; NaN, Inf,
    object or structured dtypes, and malformed files are refused with 422."""
    kind = media_type(request)
    if kind in (NPY_MEDIA_TYPE, "application/octet-stream"):
        length = request.headers.get("content-length", "")
        announced = int(length) if length.isdigit() else None  # BodyLimit has checked it
        record = await datasets.upload_npy(state, tenant, request.stream(), name, announced)
    elif kind == "application/json":
        body = await request.body()  # BodyLimit has bounded it (max_json_bytes)
        extra, X = await state.json_bodies.parse(body)
        if X is None:
            raise InvalidArray('JSON body must be an object with a "data" matrix')
        label = extra.get("name")
        if label is not None and (not isinstance(label, str) or len(label) > MAX_NAME):
            raise InvalidInput(f"name must be a string of at most {MAX_NAME} characters")
        record = await datasets.store_matrix(state, tenant, X, name if name is not None else label)
    else:
        raise UnsupportedMediaType(
            f"Content-Type {kind or '(none)'!r}: send {NPY_MEDIA_TYPE} or application/json"
        )
    response.headers["Location"] = f"/v1/datasets/{record.id}"
    return DatasetPublic.of(record)


@router.get("", summary="List datasets", responses=problems(422))
async def list_datasets(
    state: State, tenant: Tenant, offset: Offset = 0, limit: Limit = 20
) -> DatasetsPublic:
    """Your datasets, newest first."""
    records, count = await datasets.list_(state, tenant, offset, limit)
    return DatasetsPublic(data=[DatasetPublic.of(r) for r in records], count=count)


@router.get("/{dataset_id}", summary="Get a dataset", responses=problems(404))
async def get_dataset(dataset_id: DatasetId, state: State, tenant: Tenant) -> DatasetPublic:
    """Shape, dtype, size and sha256 of the uploaded body."""
    return DatasetPublic.of(await datasets.get(state, tenant, dataset_id))


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a dataset",
    responses={204: {"description": "Deleted"}, **problems(404, 409)},
)
async def delete_dataset(dataset_id: DatasetId, state: State, tenant: Tenant) -> None:
    """Delete a dataset that no queued or running job uses (models learned from it stay)."""
    await datasets.delete(state, tenant, dataset_id)
