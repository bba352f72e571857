"""Checkpoints: plain NumPy arrays and counters in one `.npz`, written atomically.

The scalars and the random generator's state travel as JSON in a 0-d string array, so a
checkpoint loads with `allow_pickle=False`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

_META = "__meta__"


def save_checkpoint(
    path: str | os.PathLike[str], arrays: dict[str, Any], meta: dict[str, Any]
) -> None:
    """Write `arrays` and `meta` to `path`: a temporary file beside it, then an atomic rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            payload: dict[str, Any] = {**arrays, _META: np.array(json.dumps(meta))}
            np.savez(handle, **payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, meta) from a checkpoint written by `save_checkpoint`."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files if name != _META}
        meta = json.loads(str(data[_META]))
    return arrays, meta


def codes_folder(path: str | os.PathLike[str]) -> str:
    """Where the chunks of a fit on a cluster write their codes for the checkpoint `path`."""
    return os.fspath(path) + ".codes"


def remove_checkpoint(path: str | os.PathLike[str]) -> None:
    """Delete the checkpoint `path` and the codes written beside it, if any."""
    Path(path).unlink(missing_ok=True)
    shutil.rmtree(codes_folder(path), ignore_errors=True)
