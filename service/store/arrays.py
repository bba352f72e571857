"""Arrays on disk: atomic `.npy` writes (a temporary file beside the target, fsynced, then
renamed, the directory fsynced), and `.npy` bytes of an array. What makes a matrix usable is
the domain's (`service.domain.matrices`); this module only persists.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, final: Path) -> None:
    """Make a fully written temp file visible under its final name, durably and atomically."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    _fsync_dir(final.parent)


class _Hashing:
    """A binary file that also feeds what is written to `digest`."""

    def __init__(self, f: IO[bytes], digest: Any) -> None:
        self.f = f
        self.digest = digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.f.write(data)


def save_npy(path: Path, array: np.ndarray, digest: Any = None) -> None:
    """np.save to a temp file beside `path`, then `publish`: readers see all or nothing.

    `digest` (a hashlib object), when given, is fed the file's bytes as they are written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            out = f if digest is None else _Hashing(f, digest)
            np.save(out, np.ascontiguousarray(array), allow_pickle=False)
        publish(Path(name), path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
