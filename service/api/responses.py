"""OpenAPI descriptions of the responses every route can give: problems and binary arrays.

Routes list the statuses they may answer with `problems(...)`, so generated SDKs know every
error shape; `NPY` documents `.npy` bodies next to the JSON one.
"""

from __future__ import annotations

from typing import Any

NPY_MEDIA_TYPE = "application/x-npy"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BINARY = {"type": "string", "format": "binary"}

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or invalid API key",
    404: "No such resource for this tenant (another tenant's ids are not found either)",
    406: "No representation matches the Accept header",
    409: "Conflict with the resource's state, or backend not available in this deployment",
    413: "Request body larger than the limit",
    415: "Unsupported Content-Type",
    422: "Invalid input: the problem's detail says what and where",
    429: "Too many queued jobs for this tenant; retry after Retry-After seconds",
    503: "Not ready",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these statuses, each an RFC 9457 problem."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in (401, *statuses):
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {"schema": PROBLEM_REF}},
        }
        if status == 429:
            entry["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}
            }
        out[status] = entry
    return out


def npy_or_json(description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 that is JSON by default and `.npy` when `Accept: application/x-npy`."""
    return {
        200: {
            "description": description,
            "content": {NPY_MEDIA_TYPE: {"schema": BINARY}},
        }
    }


def request_body(json_schema_ref: str, description: str) -> dict[str, Any]:
    """`openapi_extra` for a body that is either `.npy` bytes or a JSON document."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                NPY_MEDIA_TYPE: {"schema": BINARY},
                "application/octet-stream": {"schema": BINARY},
                "application/json": {"schema": {"$ref": f"#/components/schemas/{json_schema_ref}"}},
            },
        }
    }
