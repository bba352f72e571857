"""Datasets: uploads streamed to disk and checked, metadata, deletion."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from ..disk import is_full, require_room, write_all
from ..errors import Conflict, InsufficientStorage, NotFound, PayloadTooLarge
from ..state import AppState
from ..store.arrays import save_npy
from ..store.datasets import DatasetRepository
from ..store.db import Session, now
from ..store.records import DatasetRecord, new_id
from .matrices import StreamScan, finalize_upload

_UPLOAD_BLOCK = 4 << 20
_WRITEBACK_EVERY = 32 << 20
_START_WRITEBACK = hasattr(os, "posix_fadvise")


class _Upload:
    """An upload streaming into the file `f`: hashed, scanned and written a block at a time."""

    def __init__(self, f: Any) -> None:
        self.f, self.digest, self.scan, self.written = f, hashlib.sha256(), StreamScan(), 0

    def absorb(self, block: bytes) -> None:  # in a worker thread: hashing, writing, scanning
        self.digest.update(block)
        write_all(self.f.fileno(), block)  # a short write (a disk filling up) is not the end
        self.scan.feed(block)
        self.written += len(block)
        if _START_WRITEBACK and self.written % _WRITEBACK_EVERY < len(block):
            # Hand what is written so far to the disk now (Linux starts writeback of dirty
            # pages in the range): otherwise the kernel holds it all in memory and the final
            # fsync writes the whole upload while the client waits.
            os.posix_fadvise(self.f.fileno(), 0, self.written, os.POSIX_FADV_DONTNEED)


async def _receive(state: AppState, chunks: AsyncIterator[bytes], upload: _Upload) -> None:
    """The body into `upload`: blocks of _UPLOAD_BLOCK bytes are absorbed in a thread while
    the next one is received (at most two blocks in memory, the work beside the network);
    the size limit and, for a body of unannounced size, the disk's room checked as it comes."""
    limit, reserve = state.settings.max_upload_bytes, state.settings.min_free_bytes
    size, buffered = 0, 0
    pending: list[bytes] = []
    busy: asyncio.Future[None] | None = None
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the body exceeds the upload limit of {limit} bytes")
            pending.append(chunk)
            buffered += len(chunk)
            if buffered >= _UPLOAD_BLOCK:
                require_room(state.layout.root, buffered, reserve)
                block = b"".join(pending)
                pending, buffered = [], 0
                if busy is not None:
                    await busy
                busy = asyncio.ensure_future(asyncio.to_thread(upload.absorb, block))
        if busy is not None:
            await busy
        if pending:
            await asyncio.to_thread(upload.absorb, b"".join(pending))
    finally:  # never close the file under the thread
        if busy is not None and not busy.done():
            await asyncio.wait({busy})
        if busy is not None and busy.done() and not busy.cancelled():
            busy.exception()  # retrieved: the error that matters is already raised


async def upload_npy(
    state: AppState,
    tenant: str,
    chunks: AsyncIterator[bytes],
    name: str | None,
    announced: int | None = None,
) -> DatasetRecord:
    """Stream an `.npy` body to a temp file (hashing it on the way), check it, keep it.

    `announced`, the body's Content-Length, is checked against the room on the disk first;
    what streams in is checked again as it comes. A disk that fills up anyway is a 507.
    """
    # (a conversion may need more room than announced)
    require_room(state.layout.root, announced or 0, state.settings.min_free_bytes)
    dataset_id = new_id("ds")
    tmp = state.layout.tmp / f"{dataset_id}.upload"
    try:
        with open(tmp, "wb", buffering=0) as f:
            upload = _Upload(f)
            await _receive(state, chunks, upload)
        final = state.layout.dataset(dataset_id)
        shape, dtype = await anyio.to_thread.run_sync(finalize_upload, tmp, final, upload.scan)
    except OSError as exc:
        if is_full(exc):
            raise InsufficientStorage(f"the data disk filled up during the upload: {exc}") from None
        raise
    finally:
        tmp.unlink(missing_ok=True)
    record = DatasetRecord(
        dataset_id,
        tenant,
        name,
        shape[0],
        shape[1],
        dtype,
        final.stat().st_size,
        upload.digest.hexdigest(),
        now(),
    )
    return await _insert(state, record, final)


def _write_matrix(path: Path, X: np.ndarray) -> str:
    digest = hashlib.sha256()
    save_npy(path, X, digest)  # hashed as written, not read back
    return digest.hexdigest()


async def write_matrix(
    state: AppState, tenant: str, X: np.ndarray, name: str | None
) -> DatasetRecord:
    """Store a checked matrix as a new dataset file; the record is not inserted yet."""
    require_room(state.layout.root, X.nbytes, state.settings.min_free_bytes)
    dataset_id = new_id("ds")
    path = state.layout.dataset(dataset_id)
    try:
        sha = await anyio.to_thread.run_sync(_write_matrix, path, X)
    except OSError as exc:
        if is_full(exc):
            raise InsufficientStorage(f"the data disk is full: {exc}") from None
        raise
    return DatasetRecord(
        dataset_id,
        tenant,
        name,
        int(X.shape[0]),
        int(X.shape[1]),
        X.dtype.name,
        path.stat().st_size,
        sha,
        now(),
    )


async def store_matrix(
    state: AppState, tenant: str, X: np.ndarray, name: str | None
) -> DatasetRecord:
    record = await write_matrix(state, tenant, X, name)
    return await _insert(state, record, state.layout.dataset(record.id))


async def _insert(state: AppState, record: DatasetRecord, path: Path) -> DatasetRecord:
    try:
        await state.db.write(lambda s: DatasetRepository(s).insert(record))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return record


async def get(state: AppState, tenant: str, dataset_id: str) -> DatasetRecord:
    record = await state.db.read(lambda s: DatasetRepository(s).get(tenant, dataset_id))
    if record is None:
        raise NotFound(f"no dataset {dataset_id!r}")
    return record


async def list_(
    state: AppState, tenant: str, offset: int, limit: int
) -> tuple[list[DatasetRecord], int]:
    return await state.db.read(lambda s: DatasetRepository(s).list_page(tenant, offset, limit))


async def delete(state: AppState, tenant: str, dataset_id: str) -> None:
    def tx(session: Session) -> None:
        repo = DatasetRepository(session)
        if repo.get(tenant, dataset_id) is None:
            raise NotFound(f"no dataset {dataset_id!r}")
        if repo.used_by_active_job(dataset_id):
            raise Conflict(f"dataset {dataset_id!r} is used by a queued or running job")
        repo.delete(tenant, dataset_id)

    await state.db.write(tx)
    state.layout.dataset(dataset_id).unlink(missing_ok=True)
