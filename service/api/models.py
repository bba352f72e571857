"""/v1/models: learned dictionaries, encoding new samples with them, their atoms as a PNG."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response

from solvers import EncodeSolver

from ..domain import models
from ..domain.matrices import npy_from_bytes
from ..errors import InvalidArray, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from ..schemas.common import EXAMPLE_MODEL_ID, MatrixPublic
from ..schemas.models import EncodeOptions, EncodePublic, ModelPublic, ModelsPublic
from ..store.arrays import npy_bytes
from .content import matrix_response, media_type, wants_npy
from .deps import Limit, Offset, State, Tenant
from .json_bodies import values_at_least
from .responses import NPY_MEDIA_TYPE, npy_or_json, problems, request_body

router = APIRouter(prefix="/v1/models", tags=["models"])

ModelId = Annotated[
    str,
    Path(description="a model id, a succeeded job's model_id", examples=[EXAMPLE_MODEL_ID]),
]


@router.get("", summary="List models", responses=problems(422))
async def list_models(
    state: State,
    tenant: Tenant,
    offset: Offset = 0,
    limit: Limit = 20,
) -> ModelsPublic:
    """Your models, newest first."""
    records, count = await models.list_(state, tenant, offset, limit)
    return ModelsPublic(data=[ModelPublic.of(r) for r in records], count=count)


@router.get("/{model_id}", summary="Get a model", responses=problems(404))
async def get_model(model_id: ModelId, state: State, tenant: Tenant) -> ModelPublic:
    """What the model is: shape, alpha, objective reached, the options of its fit."""
    return ModelPublic.of(await models.get(state, tenant, model_id))


@router.get(
    "/{model_id}/dictionary",
    response_model=MatrixPublic,
    summary="Get the dictionary of a model",
    responses={**npy_or_json("The dictionary (n_components, n_features)"), **problems(404, 406)},
)
async def get_model_dictionary(
    model_id: ModelId, request: Request, state: State, tenant: Tenant
) -> Response:
    """The dictionary, one atom per row: JSON, or `.npy` with `Accept: application/x-npy`."""
    path = await models.dictionary_file(state, tenant, model_id)
    return await matrix_response(
        request, path, f"{model_id}-dictionary.npy", state.settings.encode_max_values
    )


_INLINE_BYTES = 1 << 16


def _parse_options(raw: dict[str, Any]) -> EncodeOptions:
    try:
        return EncodeOptions.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}") from exc


@router.post(
    "/{model_id}/encode",
    response_model=EncodePublic,
    summary="Encode rows with a model",
    responses={
        **npy_or_json("The codes (n_samples, n_components)"),
        **problems(404, 406, 413, 415, 422, 503),
    },
    openapi_extra=request_body(
        "EncodeRequest",
        "JSON {data, options}, or `.npy` rows with options as query parameters",
        {"data": [[0.0, 1.0, 2.0]], "alpha": 0.5},
    ),
)
async def encode_with_model(
    model_id: ModelId,
    request: Request,
    state: State,
    tenant: Tenant,
    alpha: Annotated[float | None, Query(gt=0, description="for .npy bodies")] = None,
    positive: Annotated[bool | None, Query(description="for .npy bodies")] = None,
    code_solver: Annotated[EncodeSolver | None, Query(description="for .npy bodies")] = None,
    n_nonzero_coefs: Annotated[int | None, Query(ge=1, description="for .npy bodies")] = None,
) -> Response:
    """Codes of new rows with the stored dictionary (synchronous, size-limited)."""
    model = await models.get(state, tenant, model_id)
    npy_out = wants_npy(request)
    kind = media_type(request)
    body = await request.body()  # BodyLimit has bounded it (max_json_bytes)
    inline = len(body) <= _INLINE_BYTES  # small bodies: a thread hop would cost more
    if kind in (NPY_MEDIA_TYPE, "application/octet-stream"):
        X = npy_from_bytes(body) if inline else await anyio.to_thread.run_sync(npy_from_bytes, body)
        given = {"code_solver": code_solver, "n_nonzero_coefs": n_nonzero_coefs}
        given = {name: value for name, value in given.items() if value is not None}
        options = _parse_options({"alpha": alpha, "positive": positive, **given})
    elif kind == "application/json":
        limit = state.settings.encode_max_values
        if values_at_least(body) > limit:  # decided from the bytes, before any parse
            raise PayloadTooLarge(
                f"the body holds more than the encode limit of {limit} values", limit=limit
            )
        document, rows = await state.json_bodies.parse(body)
        if rows is None:
            raise InvalidArray('JSON body must be an object with a "data" matrix')
        X, options = rows, _parse_options(document)
    else:
        raise UnsupportedMediaType(f"send {NPY_MEDIA_TYPE} or application/json")
    result = await models.encode(
        state,
        model,
        X,
        options.alpha,
        options.code_solver,
        options.positive,
        options.n_nonzero_coefs,
    )
    if npy_out:
        return Response(npy_bytes(result.codes), media_type=NPY_MEDIA_TYPE)
    # EncodePublic's shape, without validating the floats it is made of once more
    return JSONResponse({"codes": result.codes.tolist(), "objective": result.objective})


@router.get(
    "/{model_id}/atoms.png",
    response_class=Response,
    summary="Render the atoms as a PNG",
    responses={
        200: {
            "description": "PNG grid of the atoms",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems(404, 422),
    },
)
async def get_model_atoms_png(
    model_id: ModelId,
    state: State,
    tenant: Tenant,
    scale: Annotated[int, Query(ge=1, le=32, description="pixels per value")] = 4,
    columns: Annotated[
        int | None, Query(ge=1, le=1024, description="tiles per row (default: about square)")
    ] = None,
) -> Response:
    """The atoms as gray tiles: square patches when n_features is a square, else strips."""
    model = await models.get(state, tenant, model_id)
    W = await models.dictionary(state, model)
    png = await anyio.to_thread.run_sync(models.atoms_png, W, scale, columns)
    return Response(png, media_type="image/png")
