"""OpenAPI descriptions of the responses every route can give: problems and binary arrays.

Routes list the statuses they may answer with `problems(...)`, so generated SDKs know every
error shape; `npy_or_json` documents `.npy` bodies next to the JSON one.
"""

from __future__ import annotations

from typing import Any

from .problems import PROBLEM_JSON

NPY_MEDIA_TYPE = "application/x-npy"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BINARY = {"type": "string", "format": "binary"}

_DESCRIPTIONS = {
    400: "Malformed request: the body is not JSON",
    401: "Missing or invalid API key",
    404: "No such resource for this tenant (another tenant's ids are not found either)",
    406: "No representation matches the Accept header",
    409: "Conflict with the resource's state, or backend not available in this deployment",
    413: "Request body larger than the limit",
    415: "Unsupported Content-Type",
    422: "Invalid input: the problem's detail says what and where",
    429: "Too many queued jobs, or open event streams, for this tenant; retry after "
    "Retry-After seconds",
    503: "Not ready (the database or the Dask cluster is not available) or overloaded (too "
    "many large bodies at once); retry after Retry-After seconds where it is given",
    507: "Not enough room on the data disk (SPARSECODING_MIN_FREE_BYTES stays free)",
}

_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {"detail": "There was an error parsing the body", "slug": None},
    401: {"detail": "the API key is not valid", "slug": "unauthorized"},
    404: {"detail": "no dataset 'ds_3f9c2a7e5b1d4c6f8a0e2b4d6f8a0c1e'", "slug": "not-found"},
    406: {"detail": f"available: application/json, {NPY_MEDIA_TYPE}", "slug": "not-acceptable"},
    409: {"detail": "the job has already finished", "slug": "conflict"},
    413: {"detail": "the body exceeds the limit of 67108864 bytes", "slug": "payload-too-large"},
    415: {"detail": f"send {NPY_MEDIA_TYPE} or application/json", "slug": "unsupported-media-type"},
    422: {"detail": "body.n_components: Field required", "slug": "validation"},
    429: {"detail": "64 jobs are queued; retry later", "slug": "too-many-queued-jobs"},
    503: {"detail": "no Dask worker is connected", "slug": "not-ready"},
    507: {
        "detail": "the data disk has 180 MiB free; this needs 512 MiB and 256 MiB must stay "
        "free (SPARSECODING_MIN_FREE_BYTES)",
        "slug": "insufficient-storage",
    },
}


def problem_example(status: int) -> dict[str, Any]:
    example = _EXAMPLES[status]
    return {
        "type": f"urn:sparsecoding:problem:{example['slug']}" if example["slug"] else "about:blank",
        "title": _DESCRIPTIONS[status].split(":")[0],
        "status": status,
        "detail": example["detail"],
        "instance": "/v1/…",
    }


def problem_response(status: int) -> dict[str, Any]:
    """One RFC 9457 problem response (with the headers that come with its status)."""
    entry: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF, "example": problem_example(status)}},
    }
    if status == 401:
        entry["headers"] = {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}
        }
    if status in (429, 503):
        entry["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}
        }
    return entry


def problems(*statuses: int, authenticated: bool = True) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for these statuses (and 401 when authenticated), each a problem."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in ((401,) if authenticated else ()) + statuses:
        out[status] = problem_response(status)
    return out


def npy_or_json(description: str) -> dict[int | str, dict[str, Any]]:
    """A 200 that is JSON by default and `.npy` when `Accept: application/x-npy`."""
    return {
        200: {
            "description": description + f"; `.npy` bytes with `Accept: {NPY_MEDIA_TYPE}`",
            "content": {NPY_MEDIA_TYPE: {"schema": BINARY}},
        }
    }


def request_body(json_schema_ref: str, description: str, example: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a body that is either `.npy` bytes or a JSON document."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{json_schema_ref}"},
                    "example": example,
                },
                NPY_MEDIA_TYPE: {"schema": BINARY},
                "application/octet-stream": {"schema": BINARY},
            },
        }
    }


def location(description: str) -> dict[str, Any]:
    """The `Location` header of a created or accepted resource."""
    return {"Location": {"schema": {"type": "string"}, "description": description}}
