"""The web console: a static page and its script, served by the service itself.

The files live in `service/console/` (no build step, no asset from elsewhere). They are public,
like any login page; everything they show comes from the API with the key the user signs in
with. Not part of the API's OpenAPI description.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import RedirectResponse, Response

from ..errors import NotFound

router = APIRouter(include_in_schema=False)

_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}


def _asset(name: str) -> Response:
    if name not in _TYPES:
        raise NotFound(f"no console file {name!r}")
    body = resources.files("service.console").joinpath(name).read_bytes()
    headers = {
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        # the page runs its own script and talks to this origin only
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'"
        ),
    }
    return Response(body, media_type=_TYPES[name], headers=headers)


@router.get("/", response_class=RedirectResponse)
async def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=307)


@router.get("/console")
async def console() -> Response:
    return _asset("index.html")


@router.get("/console/{name}")
async def console_file(name: Annotated[str, Path(max_length=64)]) -> Response:
    return _asset(name)
