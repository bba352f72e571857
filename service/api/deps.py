"""Dependencies of the routers: the app's state and the caller's tenant.

`Tenant` and `State` are `Annotated` aliases, so a route declares what it needs in its
signature and the OpenAPI description shows the bearer scheme on every protected operation.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import Unauthorized
from ..settings import hash_key
from ..state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.service
    return state


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="an API key: `Authorization: Bearer <key>`",
)


def current_tenant(
    state: Annotated[AppState, Depends(get_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The tenant whose API key the request carries; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    digest = hash_key(credentials.credentials)
    for known, tenant in state.key_hashes.items():
        if hmac.compare_digest(known, digest):
            return tenant
    raise Unauthorized("the API key is not valid")


State = Annotated[AppState, Depends(get_state)]
Tenant = Annotated[str, Depends(current_tenant)]
