"""Dependencies of the routers: the app's state and the caller's tenant.

`Tenant` and `State` are `Annotated` aliases, so a route declares what it needs in its
signature and the OpenAPI description shows the bearer scheme on every protected operation.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Query, Request

from ..errors import Unauthorized
from ..settings import hash_key
from ..state import AppState


# Both dependencies are `async def` although they never await: FastAPI runs a plain `def`
# dependency in its thread pool, a thread hop per dependency per request.
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.service
    return state


# The bearer scheme as OpenAPI shows it on every operation that takes `Tenant` (added by
# `build_openapi`): FastAPI's HTTPBearer dependency would add it too, at the price of one more
# dependency to solve on every request.
SECURITY_SCHEME_NAME = "ApiKey"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "an API key: `Authorization: Bearer <key>`",
}


async def current_tenant(request: Request) -> str:
    """The tenant whose API key the request carries; 401 otherwise."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    state: AppState = request.app.state.service
    # A lookup by digest: what its timing could reveal is a sha256 of the key, not the key.
    tenant = state.keys.tenant(key)
    if tenant is None:
        raise Unauthorized("the API key is not valid")
    return tenant


async def operator(request: Request) -> None:
    """The operator's metrics key (SPARSECODING_METRICS_KEY), or 401: what /metrics shows
    is every tenant's activity."""
    state: AppState = request.app.state.service
    expected = state.settings.metrics_key
    if expected is None:
        raise Unauthorized(
            "metrics need the operator's key: set SPARSECODING_METRICS_KEY and send it as "
            "'Authorization: Bearer <key>'"
        )
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    given = hash_key(key.strip()) if scheme.lower() == "bearer" else ""
    if not hmac.compare_digest(given, hash_key(expected.get_secret_value())):
        raise Unauthorized("send the operator's metrics key as 'Authorization: Bearer <key>'")


State = Annotated[AppState, Depends(get_state)]
Operator = Annotated[None, Depends(operator)]
Tenant = Annotated[str, Depends(current_tenant)]
# Paging parameters of the list routes.
Offset = Annotated[int, Query(ge=0, le=2**63 - 1, description="records to skip")]
Limit = Annotated[int, Query(ge=1, le=100, description="records per page")]
