"""The OpenAPI description the app serves at `/openapi.json`, and that
`scripts/generate-openapi` commits as `openapi/openapi.json` (`service.openapi_file`) for the
generated SDKs.

FastAPI derives most of it from the routes; this adds what it cannot see: the schemas of the
bodies routes read themselves (`.npy` or JSON) and of the event stream's events, the problem
documents of every error, the tags' descriptions, and it replaces FastAPI's default 422 (never
sent: every error here is problem JSON) with the problem the handlers actually send.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ..schemas.common import MatrixUpload, Problem
from ..schemas.jobs import JobCreate, PhasePublic
from ..schemas.models import EncodeRequest
from .deps import SECURITY_SCHEME, SECURITY_SCHEME_NAME, current_tenant
from .responses import problem_response

DESCRIPTION = """\
Learn sparse codes and dictionaries, minimising ½‖X − HW‖²_F + α‖H‖₁ with ‖W_j‖₂ ≤ 1, as durable
jobs on Dask workers.

Upload a matrix (`POST /v1/datasets`, `.npy` or JSON), submit a fit (`POST /v1/jobs`, 202 and a
`Location`), follow it (`GET /v1/jobs/{job_id}/events`, Server-Sent Events), then read the learned
dictionary (`GET /v1/models/{model_id}/dictionary`, JSON or `.npy`) and encode new rows with it.

Every `/v1` operation needs `Authorization: Bearer <api key>`; every resource belongs to the
key's tenant. Every error is an RFC 9457 `application/problem+json` document.
"""

TAGS = [
    {"name": "datasets", "description": "Matrices to fit: upload (`.npy` or JSON), list, delete"},
    {"name": "jobs", "description": "Fits as durable jobs: submit, follow, cancel, codes"},
    {"name": "models", "description": "Learned dictionaries: read, encode new rows, atoms"},
    {"name": "system", "description": "Backends, liveness, readiness, metrics"},
]

_FASTAPI_422 = {"HTTPValidationError", "ValidationError"}


def _needs_key(dependant: Dependant) -> bool:
    return any(d.call is current_tenant or _needs_key(d) for d in dependant.dependencies)


def _add_security(schema: dict[str, Any]) -> None:
    """The bearer scheme on every operation whose route depends on `current_tenant`."""
    from . import routers  # the routers as declared (app.routes nests them)

    schema["components"].setdefault("securitySchemes", {})[SECURITY_SCHEME_NAME] = SECURITY_SCHEME
    routes = [route for router in routers for route in router.routes]
    for route in routes:
        if isinstance(route, APIRoute) and route.include_in_schema and _needs_key(route.dependant):
            operations = schema["paths"][route.path_format]
            for method in route.methods or ():
                operations[method.lower()]["security"] = [{SECURITY_SCHEME_NAME: []}]


def _request_body_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """The component schemas of request bodies that routes read themselves (to parse them off
    the event loop), exactly as FastAPI renders a body parameter of that model."""
    probe = FastAPI()
    for model in models:

        async def route(body: Any) -> None:  # pragma: no cover - never called
            return None

        route.__annotations__["body"] = model
        probe.post(f"/{model.__name__}")(route)
    rendered = get_openapi(title="probe", version="0", routes=probe.routes)
    return dict(rendered["components"]["schemas"])


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The description of `app`: deterministic for a given code base (no settings in it)."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=DESCRIPTION,
        routes=app.routes,
        tags=TAGS,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(_request_body_schemas(JobCreate))
    for model in (Problem, MatrixUpload, EncodeRequest, PhasePublic):
        components[model.__name__] = model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
    for operations in schema["paths"].values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            default_422 = responses.get("422", {}).get("content", {}).get("application/json")
            if default_422 is not None:
                responses["422"] = problem_response(422)
    for name in _FASTAPI_422:
        components.pop(name, None)
    _add_security(schema)
    return schema
