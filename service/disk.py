"""Room on the data disk: checked before data is written, and a full disk told apart.

Every dataset, model, checkpoint and the database live in one data directory; a write that
fills its disk must not become a 500, a truncated file blamed on the client, or a job failed
for good. Uploads are refused (507) while they would leave less than `min_free_bytes`; a
write that fails for lack of room anyway is an InsufficientStorage; jobs wait for room.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from .errors import InsufficientStorage

FULL = (errno.ENOSPC, errno.EDQUOT)


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def require_room(path: Path, needed: int, reserve: int) -> None:
    """InsufficientStorage unless writing `needed` bytes under `path` leaves `reserve` free."""
    free = free_bytes(path)
    if free - needed < reserve:
        raise InsufficientStorage(
            f"the data disk has {free // 2**20} MiB free; this needs {needed // 2**20} MiB "
            f"and {reserve // 2**20} MiB must stay free (SPARSECODING_MIN_FREE_BYTES)",
            free_bytes=free,
        )


def is_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk (or the user's quota) is full."""
    if isinstance(exc, OSError) and exc.errno in FULL:
        return True
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until every byte is written: a short write is not the end of the data."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written == 0:
            raise OSError(errno.ENOSPC, "no byte could be written")
        view = view[written:]
