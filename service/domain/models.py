"""Models: metadata, the stored dictionary, encoding new samples, the atoms as an image."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import anyio
import numpy as np

import solvers

from ..errors import InvalidArray, InvalidInput, PayloadTooLarge
from ..errors import NotFound as NotFoundError
from ..state import AppState
from ..store.models import ModelRepository
from ..store.records import ModelRecord

_CACHE_SIZE = 16
MAX_PNG_PIXELS = 16_000_000


_RECORD_CACHE_SIZE = 1024


async def get(state: AppState, tenant: str, model_id: str) -> ModelRecord:
    """The tenant's model `model_id`. A model never changes once stored (and is never deleted),
    so the records found are kept in a small per-app cache keyed by (tenant, id); an unknown id
    is looked up every time."""
    key = (tenant, model_id)
    cache = state.model_records
    model = cache.get(key)
    if model is not None:
        cache.move_to_end(key)
        return model
    model = await state.db.read(lambda s: ModelRepository(s).get(tenant, model_id))
    if model is None:
        raise NotFoundError(f"no model {model_id!r}")
    cache[key] = model
    while len(cache) > _RECORD_CACHE_SIZE:
        cache.popitem(last=False)
    return model


async def dictionary_file(state: AppState, tenant: str, model_id: str) -> Path:
    """The `.npy` of a model's dictionary (another tenant's model is not found)."""
    await get(state, tenant, model_id)
    return state.layout.dictionary(model_id)


async def list_(
    state: AppState, tenant: str, offset: int, limit: int
) -> tuple[list[ModelRecord], int]:
    return await state.db.read(lambda s: ModelRepository(s).list_page(tenant, offset, limit))


async def dictionary(state: AppState, model: ModelRecord) -> np.ndarray:
    """The model's dictionary (n_components, n_features), from a small per-app cache."""
    cache = state.dictionaries
    cached = cache.get(model.id)
    if cached is not None:
        cache.move_to_end(model.id)
        return cached
    path = state.layout.dictionary(model.id)
    W: np.ndarray = await anyio.to_thread.run_sync(lambda: np.load(path, allow_pickle=False))
    W.setflags(write=False)
    cache[model.id] = W
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return W


@dataclass(frozen=True)
class Encoded:
    codes: np.ndarray
    objective: float | None


def _encode(
    X: np.ndarray,
    W: np.ndarray,
    alpha: float,
    code_solver: str,
    positive: bool,
    n_nonzero_coefs: int | None = None,
) -> Encoded:
    if code_solver == "omp":  # ℓ0 codes: the lasso objective is not theirs
        omp = solvers.encode(X, W, code_solver="omp", n_nonzero_coefs=n_nonzero_coefs)
        return Encoded(omp, None)
    codes = solvers.encode(
        X, W, alpha=alpha, backend="numpy", code_solver=code_solver, positive=positive
    )
    value = float(solvers.objective(X, codes, W, alpha))
    return Encoded(codes, value if math.isfinite(value) else None)


# Encodes that cost less than about this many multiply-adds (G = W Wᵀ and C = X Wᵀ) run on the
# event loop: well under a millisecond, less than the hop to a worker thread and back costs.
INLINE_ENCODE_WORK = 4_000_000


def _is_small(X: np.ndarray, W: np.ndarray) -> bool:
    k, p = W.shape
    return (X.shape[0] + k) * k * p <= INLINE_ENCODE_WORK


async def encode(
    state: AppState,
    model: ModelRecord,
    X: np.ndarray,
    alpha: float | None,
    code_solver: str,
    positive: bool | None,
    n_nonzero_coefs: int | None = None,
) -> Encoded:
    """Codes (n_samples, n_components) of X with the model's dictionary: on the event loop when
    small (`INLINE_ENCODE_WORK`), else in a worker thread.

    This is one lasso per row with a fixed dictionary (no fit), bounded by
    `encode_max_values`, so it runs in the API process.
    """
    limit = state.settings.encode_max_values
    if X.size > limit:
        raise PayloadTooLarge(
            f"{X.shape[0]}×{X.shape[1]} values exceed the encode limit of {limit}"
        )
    if X.shape[1] != model.n_features:
        raise InvalidArray(
            f"data has {X.shape[1]} features per row; model {model.id!r} has {model.n_features}"
        )
    W = await dictionary(state, model)
    a = model.alpha if alpha is None else alpha
    pos = model.positive_codes if positive is None else positive
    dtype = solvers.working_dtype(X.dtype)
    try:
        # The first encode of a dtype loads its kernels (a fraction of a second): never on the
        # event loop.
        if _is_small(X, W) and dtype.name in state.kernels.loaded:
            return _encode(X, W, a, code_solver, pos, n_nonzero_coefs)
        encoded = await anyio.to_thread.run_sync(
            _encode, X, W, a, code_solver, pos, n_nonzero_coefs
        )
    except solvers.InvalidInputError as exc:
        raise InvalidInput(str(exc)) from exc
    state.kernels.loaded.add(dtype.name)
    return encoded


def atoms_png(W: np.ndarray, scale: int, columns: int | None) -> bytes:
    """The atoms as a grid of gray tiles (0 is mid-gray); square patches when n_features is a
    perfect square, otherwise one horizontal strip per atom."""
    from PIL import Image

    k, p = W.shape
    side = math.isqrt(p)
    if side * side == p:
        tiles = W.reshape(k, side, side)
        cols = columns or math.ceil(math.sqrt(k))
    else:
        tiles = W.reshape(k, 1, p)
        cols = columns or 1
    cols = max(1, min(cols, k))
    rows = math.ceil(k / cols)
    th, tw = tiles.shape[1] * scale, tiles.shape[2] * scale
    height, width = rows * (th + 1) + 1, cols * (tw + 1) + 1
    if height * width > MAX_PNG_PIXELS:
        raise InvalidInput(f"the image would have {height}×{width} pixels; lower scale")
    canvas = np.full((height, width), 255, dtype=np.uint8)
    for j in range(k):
        tile = tiles[j].astype(np.float64)
        peak = float(np.abs(tile).max()) or 1.0
        gray = np.round(127.5 + 127.5 * tile / peak).astype(np.uint8)
        gray = np.kron(gray, np.ones((scale, scale), dtype=np.uint8))
        r, c = divmod(j, cols)
        top, left = 1 + r * (th + 1), 1 + c * (tw + 1)
        canvas[top : top + th, left : left + tw] = gray
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return buffer.getvalue()
