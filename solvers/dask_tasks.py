"""The worker side of a fit on a Dask cluster: the tasks that code a chunk of rows.

A chunk's rows are an immutable Dask result (`load_rows`: read from the `.npy` file by row
range, or the block embedded in its task), so Dask can recompute them after a worker died and
copy them where it likes. What changes from step to step, the chunk's latest codes, is never
kept behind a future: it lives in this worker process's `RowBlock` registry, keyed by fit and
chunk. A task that finds no block (a new worker, a copy elsewhere) builds one from the rows and
starts cold; the versions of `solvers.rows` tell the client when that happened. Blocks idle for
BLOCK_IDLE_S are dropped (a fit whose driver died never says goodbye).
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .backends import get_backend
from .kernels import compile_kernels
from .rows import BlockStats, CodeSettings, RowBlock
from .validation import validate_data

BLOCK_IDLE_S = 900.0

Task = TypeVar("Task", bound=Callable[..., Any])

_blocks: dict[str, tuple[RowBlock, float]] = {}
_lock = threading.Lock()


def load_rows(source: Any, start: int, stop: int, dtype: str) -> np.ndarray:
    """Rows [start, stop) of the `.npy` file `source` (memory-mapped), or `source` itself when
    it is the block of rows already; validated (finite, real) and cast to `dtype`."""
    if isinstance(source, str):
        source = np.load(source, mmap_mode="r", allow_pickle=False)[start:stop]
    return validate_data(np.array(source), name=f"X[{start}:{stop}]", dtype=dtype)


def _block(key: str, rows: np.ndarray, backend_name: str) -> RowBlock:
    """This worker's block `key`, built from `rows` when it has none."""
    now = time.monotonic()
    with _lock:
        for name in [n for n, (_, touched) in _blocks.items() if now - touched > BLOCK_IDLE_S]:
            del _blocks[name]
        found = _blocks.get(key)
        if found is not None:
            _blocks[key] = (found[0], now)
            return found[0]
    backend = get_backend(backend_name)
    if not backend.is_gpu:  # once per worker process; compiled once per install, under a lock
        compile_kernels([rows.dtype])
    block = RowBlock(0, backend.asarray(rows, rows.dtype), backend)
    with _lock:
        _blocks[key] = (block, now)
    return block


def _in_compute_scope(task: Task) -> Task:
    """The task run as in-process fits run (`Backend.compute_scope`: BLAS single-threaded on
    the CPU, the kernels' own threads using the cores)."""

    @functools.wraps(task)
    def run(key: str, rows: Any, backend: str, *args: Any) -> Any:
        with get_backend(backend).compute_scope():
            return task(key, rows, backend, *args)

    return run  # type: ignore[return-value]


def drop_blocks(prefix: str) -> int:
    """Forget the blocks of one fit (keys starting with `prefix`); how many there were."""
    with _lock:
        names = [name for name in _blocks if name.startswith(prefix)]
        for name in names:
            del _blocks[name]
    return len(names)


@_in_compute_scope
def norms_task(key: str, rows: np.ndarray, backend: str) -> float:
    """Σ‖x‖² over the chunk (and its block built, kernels loaded, before the first step)."""
    return float(_block(key, rows, backend).x_sq.sum())


@_in_compute_scope
def code_task(
    key: str,
    rows: np.ndarray,
    backend: str,
    W: np.ndarray,
    cfg: CodeSettings,
    local: np.ndarray | None,
    expected: int | None,
    replaced: bool,
) -> BlockStats:
    """`RowBlock.code` on this worker's block; host statistics."""
    block = _block(key, rows, backend)
    W_dev = block.backend.asarray(W, block.X.dtype)
    index = None if local is None else block.backend.asarray(local, np.int64)
    stats = block.code(W_dev, cfg, index, expected=expected, replaced=replaced)
    return stats.on_host(block.backend)


@_in_compute_scope
def candidates_task(
    key: str,
    rows: np.ndarray,
    backend: str,
    local: np.ndarray,
    W_coded: np.ndarray,
    cfg: CodeSettings,
    version: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(X rows, codes) on the host for block-local rows `local` (`RowBlock.candidates`)."""
    block = _block(key, rows, backend)
    W_dev = block.backend.asarray(W_coded, block.X.dtype)
    X, H = block.candidates(local, W_dev, cfg, -1 if version is None else version)
    return block.backend.to_numpy(X), block.backend.to_numpy(H)


@_in_compute_scope
def sums_task(key: str, rows: np.ndarray, backend: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Σ h hᵀ, Σ h xᵀ over the block's latest codes, on the host."""
    block = _block(key, rows, backend)
    A, B = block.code_sums(k, int(rows.shape[1]))
    return block.backend.to_numpy(A), block.backend.to_numpy(B)


@_in_compute_scope
def codes_task(
    key: str,
    rows: np.ndarray,
    backend: str,
    W: np.ndarray,
    cfg: CodeSettings,
    version: int | None,
    out: tuple[str, int] | None,
    keep: bool,
) -> tuple[np.ndarray | None, float]:
    """The block's codes on W: those of step `version` (W is the dictionary it coded on), or,
    with version None, every row coded afresh (warm from the codes the block holds) with their
    objective sum (NaN otherwise).

    `out` (path, first row): write them into rows [first, first + m) of that `.npy` (made by
    the client, on storage the workers share) instead of returning them.
    """
    block = _block(key, rows, backend)
    W_dev = block.backend.asarray(W, block.X.dtype)
    if version is not None:
        codes, total = block.step_codes(version, W_dev, cfg), float("nan")
    else:
        codes, total = block.final_codes(W_dev, cfg, keep or out is not None)
    host = None if codes is None else block.backend.to_numpy(codes)
    if out is not None and host is not None:
        path, first = out
        target = np.load(path, mmap_mode="r+", allow_pickle=False)
        target[first : first + host.shape[0]] = host.astype(target.dtype, copy=False)
        target.flush()
        return None, total
    return host, total


def save_codes_task(key: str, rows: np.ndarray, backend: str, path: str) -> bool:
    """Write the block's latest codes to `path` (atomically); False when it has none."""
    block = _block(key, rows, backend)
    if block.codes is None:
        return False
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, block.backend.to_numpy(block.codes))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def restore_codes_task(key: str, rows: np.ndarray, backend: str, path: str) -> int:
    """Take the codes saved at `path` as the block's latest; returns their version."""
    block = _block(key, rows, backend)
    codes = np.load(path, allow_pickle=False)
    return block.restore(block.backend.asarray(codes, codes.dtype))
