"""Fits on a Dask cluster, for data larger than one machine's memory: `DaskExecutor`.

    solvers.fit("X.npy", 256, executor=solvers.DaskExecutor(client))

X is split by rows into chunks that stay on the workers (`solvers.dask_tasks`). Every code step
runs where the chunks are and sends back only the partial statistics A = HᵀH (k, k) and
B = HᵀX (k, p); they are summed here in chunk order, so the result does not depend on which
worker finished first, and the same batch and online loops as in-process fits take the
dictionary step. Final codes are written by each chunk into a shared `.npy` (`codes_path`), or
collected here when there is none; they are never gathered on a worker.

A worker that dies loses nothing that cannot be recomputed: a chunk's rows are a Dask task
(reading its row range from the `.npy`, or holding the rows it embeds), and its codes only
warm-start the next step; a fit that finds them gone starts that chunk cold (and takes its
exact sums afresh), which changes the result by no more than the code tolerance.
"""

from __future__ import annotations

import glob
import itertools
import math
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from . import dask_tasks as tasks
from .backends import get_backend
from .checkpoint import codes_folder
from .dictionary import reseed_atoms
from .executors import StepStats
from .placement import ClusterWorkers, task_restrictions
from .rows import WARM_START_BYTES, CodeSettings

# A chunk's target size: small enough that several fit in a worker next to their codes, large
# enough that a code step's compiled work dominates Dask's per-task overhead (~1 ms).
CHUNK_BYTES = 64 * 2**20

_HOST = get_backend("numpy")


def default_n_chunks(n_rows: int, row_bytes: int, n_workers: int) -> int:
    """At least one chunk per worker, none over CHUNK_BYTES, never more chunks than rows."""
    by_size = math.ceil(n_rows * row_bytes / CHUNK_BYTES)
    return max(1, min(n_rows, max(n_workers, by_size)))


class DaskExecutor:
    """Where to run a fit: the workers of the Dask `client`, X split by rows into `n_chunks`
    (default: `default_n_chunks`). `codes_path`: a `.npy` on storage every worker can write,
    where the final codes go chunk by chunk (the result's codes are then a memory map of it).

    X for such a fit is a `.npy` path every worker can read (the rows never pass through this
    process), a Dask array (its rows are computed on the cluster), or an array, whose chunks
    then travel inside their tasks.
    """

    def __init__(
        self,
        client: Any,
        n_chunks: int | None = None,
        codes_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.client, self.n_chunks = client, n_chunks
        self.codes_path = None if codes_path is None else os.fspath(codes_path)

    def workers(self) -> ClusterWorkers:
        """The cluster's workers now, by kind (one probe of every worker)."""
        return ClusterWorkers.of(self.client)

    def start(
        self,
        source: Any,
        shape: tuple[int, int],
        dtype: np.dtype,
        backend: str,
        code: CodeSettings,
        workers: ClusterWorkers | None = None,
    ) -> ChunkedRows:
        """The chunks of X (a path or an array, of `shape`) loaded on the workers; `workers`:
        as `self.workers()` gave them when the fit chose its backend (else probed here)."""
        return ChunkedRows(self, source, shape, dtype, backend, code, workers)


class ChunkedRows:
    """The executor of one fit on the cluster (the `solvers.executors.Executor` protocol)."""

    kind = "-data-parallel"
    backend = _HOST
    # A step's chunks run on the workers at once; stopping some of them would leave codes of
    # two dictionaries. The loops stop before a step that would end past the limit instead.
    stops_inside = False

    def __init__(
        self,
        where: DaskExecutor,
        source: Any,
        shape: tuple[int, int],
        dtype: np.dtype,
        backend: str,
        code: CodeSettings,
        workers: ClusterWorkers | None = None,
    ) -> None:
        self.client, self.codes_path = where.client, where.codes_path
        self.n_samples, self.n_features = shape
        self.dtype, self.device, self.settings = np.dtype(dtype), backend, code
        self.workers = workers or ClusterWorkers.of(self.client)
        if not self.workers.every:
            raise ValueError("the Dask cluster has no workers")
        if backend == "cupy" and not self.workers.cupy:
            raise ValueError("no worker of the Dask cluster has a usable GPU (backend='cupy')")
        runners = self.workers.cupy if backend == "cupy" else self.workers.cpu
        n_runners = len(runners or self.workers.every)
        count = where.n_chunks or default_n_chunks(
            self.n_samples, self.n_features * self.dtype.itemsize, n_runners
        )
        bounds = np.linspace(0, self.n_samples, min(count, self.n_samples) + 1).astype(np.int64)
        self.starts = bounds[:-1]
        self.token = f"sparsecoding-{uuid.uuid4().hex[:12]}"
        self.rows = [
            self.client.submit(
                tasks.load_rows,
                self._block(source, int(start), int(stop)),
                int(start),
                int(stop),
                self.dtype.name,
                key=f"{self.token}-rows-{c}",
                **task_restrictions(self.workers, backend, chunk=c),
            )
            for c, (start, stop) in enumerate(itertools.pairwise(bounds))
        ]
        self.versions: list[int | None] = [None] * len(self.rows)
        self.steps = 0  # rounds of tasks so far, for unique task keys
        self.saved = [-1, -1]  # the last two save numbers (the `.npz` names one of them)
        self.largest_chunk = int(np.diff(bounds).max())
        everything = [(c, ()) for c in range(len(self.rows))]
        self.x_sq_sum = float(sum(self._run("norms", tasks.norms_task, everything)))

    def _block(self, source: Any, start: int, stop: int) -> Any:
        """What the task loading rows [start, stop) receives: the `.npy` path (the worker reads
        the rows), a future of a Dask array's rows (computed on the cluster), or the rows."""
        if isinstance(source, str):
            return source
        if is_dask_array(source):
            return self.client.compute(source[start:stop])
        return np.ascontiguousarray(source[start:stop])

    # -- tasks -------------------------------------------------------------------------------

    def _run(self, name: str, function: Any, parts: list[tuple[int, tuple[Any, ...]]]) -> list:
        """function(chunk key, chunk rows, backend, *args) for every (chunk, args), gathered
        in the order given."""
        self.steps += 1
        futures = [
            self.client.submit(
                function,
                f"{self.token}-{c}",
                self.rows[c],
                self.device,
                *args,
                key=f"{self.token}-{name}-{self.steps}-{c}",
                **task_restrictions(self.workers, self.device),
            )
            for c, args in parts
        ]
        return list(self.client.gather(futures))

    def code(
        self,
        W: Any,
        rows: np.ndarray | None = None,
        *,
        replaced: bool = False,
        deadline: Any = None,
    ) -> StepStats:
        if rows is None:
            parts = [(c, None) for c in range(len(self.rows))]
        else:
            owner = np.searchsorted(self.starts, rows, side="right") - 1
            parts = [(int(c), rows[owner == c] - self.starts[c]) for c in np.unique(owner)]
        args = [(c, (W, self.settings, local, self.versions[c], replaced)) for c, local in parts]
        stats = self._run("code", tasks.code_task, args)
        for (c, _), s in zip(parts, stats, strict=True):
            self.versions[c] = s.version
        return StepStats.total([(c, s) for (c, _), s in zip(parts, stats, strict=True)], len(W))

    def reseed(self, W: Any, dead: Any, step: StepStats, W_coded: Any, positive: bool) -> Any:
        chosen = step.worst[: int(dead.shape[0])]
        blocks = sorted({block for _, block, _ in chosen})
        parts = [
            (
                c,
                (
                    np.array([r for _, b, r in chosen if b == c]),
                    W_coded,
                    self.settings,
                    self.versions[c],
                ),
            )
            for c in blocks
        ]
        found = dict(zip(blocks, self._run("rows", tasks.candidates_task, parts), strict=True))
        taken = {c: 0 for c in blocks}
        X_rows, H_rows = [], []
        for _, c, _ in chosen:  # in the order chosen, the worst first
            X_rows.append(found[c][0][taken[c]])
            H_rows.append(found[c][1][taken[c]])
            taken[c] += 1
        residual = np.array([r for r, _, _ in chosen])
        X, H = np.stack(X_rows).astype(W.dtype), np.stack(H_rows).astype(W.dtype)
        return reseed_atoms(_HOST, W, dead, X, H, residual, positive)

    def keeps_codes(self, k: int) -> bool:
        return self.largest_chunk * k * 4 <= WARM_START_BYTES

    def code_sums(self, k: int) -> tuple[Any, Any]:
        parts = self._run("sums", tasks.sums_task, [(c, (k,)) for c in range(len(self.rows))])
        A, B = parts[0][0].copy(), parts[0][1].copy()
        for a, b in parts[1:]:
            A += a
            B += b
        return A, B

    def step_codes(self, W_coded: Any) -> Any:
        if all(v is None for v in self.versions):
            return None
        codes, _ = self._codes(W_coded, self.versions, keep=True)
        return codes

    def final_codes(self, W: Any, keep: bool) -> tuple[Any, float]:
        return self._codes(W, [None] * len(self.rows), keep)

    def _codes(self, W: Any, versions: list[int | None], keep: bool) -> tuple[Any, float]:
        k = int(W.shape[0])
        path = self.codes_path if keep else None
        if path is not None:
            tmp = os.fspath(partial_codes(path))
            np.lib.format.open_memmap(tmp, mode="w+", dtype=self.dtype, shape=(self.n_samples, k))
        parts = [
            (c, (W, self.settings, versions[c], None if path is None else (tmp, int(start)), keep))
            for c, start in enumerate(self.starts)
        ]
        results = self._run("codes", tasks.codes_task, parts)
        total = sum(t for _, t in results)
        if path is not None:
            os.replace(tmp, path)
            return np.load(path, mmap_mode="r", allow_pickle=False), total
        if not keep:
            return None, total
        return np.concatenate([c for c, _ in results]).astype(self.dtype, copy=False), total

    # -- checkpoints -------------------------------------------------------------------------

    def state(self, checkpoint: str) -> dict[str, np.ndarray]:
        """Each chunk writes its codes beside the checkpoint (`<checkpoint>.codes/`) under a
        new save number, which the `.npz` records: a crash between the two leaves the `.npz`
        pointing at the codes of its own time (the save before is kept until the next)."""
        folder = codes_folder(checkpoint)
        os.makedirs(folder, exist_ok=True)
        number = secrets.randbits(40)  # never one a fit before a resume used
        parts = [(c, (os.path.join(folder, f"{number}-{c}.npy"),)) for c in range(len(self.rows))]
        saved = self._run("save", tasks.save_codes_task, parts)
        self.saved = [self.saved[1], number]
        for old in glob.glob(os.path.join(folder, "*.npy")):
            if int(os.path.basename(old).split("-")[0]) not in self.saved:
                os.unlink(old)
        return {"codes_saved": np.array([number if ok else -1 for ok in saved], dtype=np.int64)}

    def restore(self, arrays: dict[str, np.ndarray], checkpoint: str) -> None:
        if "codes_saved" not in arrays:
            return
        files = [
            (c, os.path.join(codes_folder(checkpoint), f"{int(number)}-{c}.npy"))
            for c, number in enumerate(arrays["codes_saved"])
            if number >= 0
        ]
        parts = [(c, (path,)) for c, path in files if os.path.exists(path)]
        self.saved = [-1, int(max(arrays["codes_saved"]))]
        if parts:
            versions = self._run("restore", tasks.restore_codes_task, parts)
            for (c, _), version in zip(parts, versions, strict=True):
                self.versions[c] = version

    def close(self) -> None:
        """Release the chunks and forget their codes on the workers."""
        self.client.cancel(self.rows)
        try:
            self.client.run(tasks.drop_blocks, self.token)
        except Exception:  # the workers are gone, and their blocks with them
            pass


def is_dask_array(X: Any) -> bool:
    """A Dask array (told without importing Dask): its rows are computed on the cluster."""
    return getattr(X, "__dask_graph__", None) is not None and hasattr(X, "chunks")


def partial_codes(codes_path: str | os.PathLike[str]) -> Path:
    """Where the chunks write the codes meant for `codes_path` until all of them are there."""
    return Path(os.fspath(codes_path) + ".partial")
