"""Content negotiation and request bodies: `.npy` or JSON, bounded in size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import numpy as np
from fastapi import Request
from starlette.responses import FileResponse, JSONResponse, Response

from ..errors import NotAcceptable
from .responses import NPY_MEDIA_TYPE

_NPY_TYPES = {NPY_MEDIA_TYPE, "application/octet-stream"}
_JSON_TYPES = {"application/json", "application/*", "*/*"}


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def wants_npy(request: Request) -> bool:
    """True when the Accept header prefers `.npy`; JSON is the default; 406 if neither fits."""
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return False
    best: tuple[float, int, bool] | None = None
    for position, part in enumerate(accept.split(",")):
        kind, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = kind.lower()
        if q <= 0 or (kind not in _NPY_TYPES and kind not in _JSON_TYPES):
            continue
        candidate = (q, -position, kind in _NPY_TYPES)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        raise NotAcceptable(f"available: application/json, {NPY_MEDIA_TYPE}")
    return best[2]


def _matrix_json(path: Path, max_values: int) -> dict[str, Any]:
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    if array.size > max_values:
        raise NotAcceptable(
            f"{array.shape[0]}×{array.shape[1]} values are too many for JSON; "
            f"ask for Accept: {NPY_MEDIA_TYPE}"
        )
    values = np.asarray(array, dtype=np.float64)
    return {"shape": list(array.shape), "dtype": array.dtype.name, "data": values.tolist()}


async def matrix_response(request: Request, path: Path, filename: str, max_values: int) -> Response:
    """A stored matrix as `.npy` (streamed from disk) or as JSON {shape, dtype, data}."""
    if wants_npy(request):
        return FileResponse(path, media_type=NPY_MEDIA_TYPE, filename=filename)
    body = await anyio.to_thread.run_sync(_matrix_json, path, max_values)
    return JSONResponse(body)
