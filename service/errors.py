"""Domain exceptions, free of HTTP: code anywhere in the service (the workers' included)
raises a `ServiceError` subclass; `api.problems` maps each to an RFC 9457 problem document.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """Base of the domain errors; `slug` names the problem type, `status` its HTTP status."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    def headers(self) -> dict[str, str]:
        return {}


class Unauthorized(ServiceError):
    status, slug, title = 401, "unauthorized", "Missing or invalid API key"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="sparsecoding"'}


class NotFound(ServiceError):
    status, slug, title = 404, "not-found", "Resource not found"


class Conflict(ServiceError):
    status, slug, title = 409, "conflict", "Conflict with the resource's state"


class BackendUnavailable(ServiceError):
    status, slug, title = 409, "backend-unavailable", "Backend not available in this deployment"


class PayloadTooLarge(ServiceError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(ServiceError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported content type"


class NotAcceptable(ServiceError):
    status, slug, title = 406, "not-acceptable", "No acceptable representation"


class InvalidInput(ServiceError):
    status, slug, title = 422, "invalid-input", "Invalid input"


class InvalidArray(ServiceError):
    status, slug, title = 422, "invalid-array", "Unusable array"


class InvalidJson(InvalidArray):
    """A body that is not usable JSON (an upload's or an encode's: their problem type; a
    job's is answered as a validation problem, as its other body errors are)."""


class IdempotencyMismatch(ServiceError):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency-Key reused with another body"


class TooManyJobs(ServiceError):
    status, slug, title = 429, "too-many-queued-jobs", "Too many queued jobs"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extensions.get("retry_after", 5))}


class TooManyStreams(ServiceError):
    status, slug, title = 429, "too-many-streams", "Too many open event streams"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extensions.get("retry_after", 5))}


class InsufficientStorage(ServiceError):
    status, slug, title = 507, "insufficient-storage", "Not enough room on the data disk"


class NotReady(ServiceError):
    status, slug, title = 503, "not-ready", "Service not ready"


class Overloaded(ServiceError):
    """Too much is being received at once: the client is asked to come back shortly."""

    status, slug, title = 503, "overloaded", "Service overloaded"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extensions.get("retry_after", 1))}
