"""The one mapping of errors to RFC 9457 `application/problem+json` responses.

`install_handlers` turns a domain error (`service.errors`), a request validation error, an
HTTP error of the framework, or an unexpected exception into a problem document. Nothing else
builds error responses.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse

from ..disk import is_full
from ..errors import InsufficientStorage, PayloadTooLarge, ServiceError

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:sparsecoding:problem:"
log = logging.getLogger("service")


class BodyTooLarge(StarletteHTTPException):
    """A body that streams past its limit (raised by `limits.BodyLimit` while the route reads
    it). An HTTPException, because FastAPI's own body parsing lets those through and turns any
    other exception into a 400; answered as PayloadTooLarge."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body exceeds the limit of {limit} bytes")
        self.limit = limit


def problem(
    status: int,
    title: str,
    detail: str | None,
    type_: str,
    instance: str | None,
    extensions: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions or {})
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def problem_of(exc: ServiceError, instance: str) -> JSONResponse:
    """The problem document of a domain error (also for middleware outside the handlers)."""
    return problem(
        exc.status,
        exc.title,
        exc.detail,
        TYPE_PREFIX + exc.slug,
        instance,
        exc.extensions,
        exc.headers(),
    )


def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return problem_of(exc, request.url.path)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    return problem(
        422,
        "Invalid request",
        detail,
        TYPE_PREFIX + "validation",
        request.url.path,
        {"errors": errors},
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, BodyTooLarge):
        return problem_of(PayloadTooLarge(exc.detail, limit=exc.limit), request.url.path)
    from http import HTTPStatus

    title = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem(
        exc.status_code,
        title,
        detail,
        "about:blank",
        request.url.path,
        None,
        headers or None,
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route at this path (Starlette's 405 names only one route's)."""
    from starlette.routing import Match, Route

    scope = {"type": "http", "path": request.url.path, "method": "", "root_path": ""}
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] != Match.NONE:
            methods |= route.methods
    return sorted(methods)


def _client_gone(request: Request, exc: Exception) -> JSONResponse:
    """The client went away in the middle of its request body (what it sent was dropped)."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return problem(400, "Client disconnected", None, TYPE_PREFIX + "client-gone", None)


def _storage_error(request: Request, exc: Exception) -> JSONResponse:
    """OS and SQLite errors: a full data disk, wherever it surfaced, is a 507, not a 500."""
    if is_full(exc):
        return problem_of(InsufficientStorage(f"the data disk is full: {exc}"), request.url.path)
    return _unexpected(request, exc)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        500,
        "Internal error",
        "an unexpected error occurred",
        TYPE_PREFIX + "internal",
        request.url.path,
    )


def install_handlers(app: FastAPI) -> None:
    """Map every error the app can raise to problem JSON."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    for storage in (OSError, sqlite3.Error):
        app.add_exception_handler(storage, _storage_error)
    app.add_exception_handler(Exception, _unexpected)
