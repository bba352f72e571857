"""The client side of a data-parallel fit: batch and online outer loops over chunk statistics.

They mirror `solvers.bcd.fit_batch` and `fit_online` step for step (same dictionary step, same
stopping rules, same progress records), with the code step replaced by one Dask task per chunk
whose partial statistics are summed here in chunk order.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.backends import get_backend
from solvers.bcd import (
    ONLINE_W_PASSES,
    batch_dictionary_step,
    forgetting_factor,
    relative_decrease,
    statistics_memory,
)
from solvers.certificates import objective_from_statistics
from solvers.checkpoint import load_checkpoint, save_checkpoint
from solvers.dictionary import dead_atoms, reseed_atoms, update_dictionary
from solvers.errors import InvalidInputError
from solvers.options import FitOptions, StopReason
from solvers.result import FitResult, Progress, ProgressCallback

from .chunks import ChunkStats, CodeSettings, candidate_rows, code_chunk

_HOST = get_backend("numpy")
_COUNTERS = ("objective_sum", "objective_count", "max_gap", "weight", "batches", "epoch")


@dataclass
class Run:
    """One data-parallel fit: the cluster, the chunk futures and what does not change."""

    client: Any
    chunks: list[Any]  # futures of `Chunk`, in row order
    starts: np.ndarray  # (n_chunks,) first row of each chunk
    n_samples: int
    n_features: int
    options: FitOptions
    code: CodeSettings
    token: str
    callback: ProgressCallback | None
    checkpoint: str | None
    history: list[Progress] = field(default_factory=list)
    elapsed_before: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    last_save: float = field(default_factory=time.perf_counter)
    backend: str = "numpy"
    tasks: int = 0  # code tasks submitted, for unique keys

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def report(self, record: Progress) -> bool:
        """Append `record` and ask the callback; False means the user cancelled."""
        self.history.append(record)
        return self.callback is None or self.callback(record) is not False

    def code_step(
        self, W: np.ndarray, parts: list[tuple[int, np.ndarray | None]]
    ) -> list[ChunkStats]:
        """Code chunk c's rows (all when None) for every (c, rows) on W; stats in that order."""
        self.tasks += 1
        futures = [
            self.client.submit(
                code_chunk,
                self.chunks[c],
                W,
                self.code,
                rows,
                self.tasks,
                key=f"sparsecoding-code-{self.token}-{self.tasks}-{c}",
            )
            for c, rows in parts
        ]
        stats: list[ChunkStats] = self.client.gather(futures)
        self.backend = stats[0].backend
        return stats

    def due(self) -> bool:
        return time.perf_counter() - self.last_save >= self.options.checkpoint_interval

    def save(self, mode: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        if self.checkpoint is None:
            return
        table = np.array(
            [[r.iteration, r.epoch, r.objective, r.elapsed_s, r.max_gap] for r in self.history],
            dtype=np.float64,
        ).reshape(-1, 5)
        meta = {**meta, **self._identity(mode), "elapsed": self.elapsed()}
        save_checkpoint(self.checkpoint, {**arrays, "history": table}, meta)
        self.last_save = time.perf_counter()

    def load(self, mode: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        if self.checkpoint is None or not os.path.exists(self.checkpoint):
            return None
        arrays, meta = load_checkpoint(self.checkpoint)
        expected = self._identity(mode)
        found = {key: meta.get(key) for key in expected}
        if found != expected:
            raise InvalidInputError(
                f"checkpoint {self.checkpoint} belongs to another fit: {found} != {expected}"
            )
        self.history = [
            Progress(
                int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), mode == "online"
            )
            for r in arrays["history"]
        ]
        self.elapsed_before = float(meta["elapsed"])
        return arrays, meta

    def _identity(self, mode: str) -> dict[str, Any]:
        # A mode name of its own: solvers.fit cannot resume these checkpoints (no codes in them).
        return {
            "mode": f"{mode}-data-parallel",
            "n_samples": self.n_samples,
            "n_features": self.n_features,
        }

    def reseed(
        self,
        W: np.ndarray,
        dead: np.ndarray,
        stats: list[ChunkStats],
        chunk_ids: list[int],
        W_coded: np.ndarray,
    ) -> np.ndarray:
        """W with dead atoms replaced as `solvers.dictionary.reseed_atoms` does over all rows.

        Each chunk reported its worst rows; the globally worst len(dead) are fetched (X row and
        codes, from the chunk's latest step, coded on W_coded) and handed to reseed_atoms.
        """
        ranked = sorted(
            (
                (-float(r), position, int(local))
                for position, s in enumerate(stats)
                for local, r in zip(s.worst_rows, s.worst_residual, strict=True)
            ),
        )[: dead.shape[0]]
        futures: list[Any] = []
        residuals: list[float] = []
        for position in sorted({item[1] for item in ranked}):
            local = np.array([item[2] for item in ranked if item[1] == position], dtype=np.int64)
            futures.append(
                self.client.submit(
                    candidate_rows,
                    self.chunks[chunk_ids[position]],
                    local,
                    W_coded,
                    self.code,
                    self.tasks,
                    key=f"sparsecoding-rows-{self.token}-{self.tasks}-{position}",
                )
            )
            residuals.extend(-item[0] for item in ranked if item[1] == position)
        rows = self.client.gather(futures)
        X = np.concatenate([r[0] for r in rows]).astype(W.dtype, copy=False)
        H = np.concatenate([r[1] for r in rows]).astype(W.dtype, copy=False)
        positive = self.options.positive_dictionary
        return reseed_atoms(_HOST, W, dead, X, H, np.asarray(residuals), positive)


def _sum(stats: list[ChunkStats]) -> tuple[np.ndarray, np.ndarray]:
    A, B = stats[0].A.copy(), stats[0].B.copy()
    for s in stats[1:]:
        A += s.A
        B += s.B
    return A, B


def fit_batch_parallel(run: Run, W0: np.ndarray) -> tuple[FitResult, np.ndarray, int | None]:
    """Batch BCD as `solvers.bcd.fit_batch`; returns (result, W of the last code step, its tag)."""
    o, n = run.options, run.n_samples
    W = W0
    W_coded = W
    iteration, previous = 0, math.inf
    resumed = run.load("batch")
    if resumed is not None:
        arrays, meta = resumed
        W, W_coded = arrays["W"].astype(W0.dtype), arrays["W_coded"].astype(W0.dtype)
        iteration, previous = int(meta["iteration"]), float(meta["previous"])
    everything: list[tuple[int, np.ndarray | None]] = [(c, None) for c in range(len(run.chunks))]

    def save() -> None:
        meta = {"iteration": iteration, "previous": previous}
        run.save("batch", {"W": W, "W_coded": W_coded}, meta)

    stop: StopReason = "max_iter"
    while iteration < o.max_iter:
        stats = run.code_step(W, everything)
        W_coded = W
        A, B = _sum(stats)
        l1 = sum(s.l1 for s in stats)
        max_gap = max(s.max_gap for s in stats)
        dead = dead_atoms(A, np)
        W = batch_dictionary_step(_HOST, A, B, W, o)
        if dead.shape[0]:
            W = run.reseed(W, dead, stats, list(range(len(stats))), W_coded)
        x_sq_sum = sum(s.x_sq_sum for s in stats)
        value = objective_from_statistics(x_sq_sum, A, B, W, l1, o.alpha, n, o.dictionary_penalty)
        iteration += 1
        decrease = relative_decrease(previous, value)
        previous = value
        if not run.report(Progress(iteration, float(iteration), value, run.elapsed(), max_gap)):
            stop = "cancelled"
            break
        if o.tol > 0 and decrease < o.tol and all(s.certified for s in stats):
            stop = "converged"
            break
        if o.time_limit is not None and run.elapsed() >= o.time_limit:
            stop = "time_limit"
            break
        if run.due():
            save()
    save()
    last = run.tasks if run.tasks else None
    return FitResult(W, None, run.history, iteration, stop, run.backend), W_coded, last


@dataclass
class _Online:
    """The running state of an online fit (the non-exact path of `solvers.bcd.fit_online`)."""

    W: np.ndarray
    W_average: np.ndarray
    W_epoch_start: np.ndarray
    A: np.ndarray
    B: np.ndarray
    rng_state: Any
    batches: int = 0
    epoch: int = 0
    position: int = 0
    objective_sum: float = 0.0
    objective_count: int = 0
    max_gap: float = 0.0
    weight: float = 0.0


def fit_online_parallel(
    run: Run, W0: np.ndarray, rng: np.random.Generator
) -> tuple[FitResult, np.ndarray, int | None]:
    """Online dictionary learning over shuffled mini-batches split between the chunks.

    Returns (result, the returned dictionary, None): final codes are computed on it afresh.
    """
    o, n = run.options, run.n_samples
    k, p = W0.shape
    b = min(o.batch_size, n)
    per_epoch = math.ceil(n / b)
    report_every = max(1, per_epoch // 10)
    s = _Online(
        W0, W0.copy(), W0.copy(), np.zeros((k, k)), np.zeros((k, p)), rng.bit_generator.state
    )
    resumed = run.load("online")
    if resumed is not None:
        arrays, meta = resumed
        for name in ("W", "W_average", "W_epoch_start", "A", "B"):
            setattr(s, name, arrays[name].astype(W0.dtype if name[0] == "W" else np.float64))
        for name in (*_COUNTERS, "position", "rng_state"):
            setattr(s, name, meta[name])

    def save() -> None:
        names = ("W", "W_average", "W_epoch_start", "A", "B")
        meta = {name: getattr(s, name) for name in (*_COUNTERS, "position", "rng_state")}
        run.save("online", {name: getattr(s, name) for name in names}, meta)

    def output() -> np.ndarray:
        return s.W_average if o.averaging is not None else s.W

    stop: StopReason = "max_iter"
    while s.epoch < o.max_iter and stop == "max_iter":
        rng.bit_generator.state = s.rng_state
        order = rng.permutation(n)
        while s.position < per_epoch:
            rows = np.sort(order[s.position * b : (s.position + 1) * b])
            _online_step(run, s, rows, b)
            s.position += 1
            s.batches += 1
            end_of_epoch = s.position == per_epoch
            if end_of_epoch:
                s.epoch += 1
                s.position = 0
                s.rng_state = rng.bit_generator.state
            if end_of_epoch or s.batches % report_every == 0:
                average = s.objective_sum / max(s.objective_count, 1)
                record = Progress(
                    s.batches, s.batches / per_epoch, average, run.elapsed(), s.max_gap, True
                )
                s.objective_sum, s.objective_count, s.max_gap = 0.0, 0, 0.0
                if not run.report(record):
                    stop = "cancelled"
            if stop == "max_iter" and o.time_limit is not None and run.elapsed() >= o.time_limit:
                stop = "time_limit"
            if stop != "max_iter" or end_of_epoch:
                break
            if run.due():
                save()
        if s.position == 0:
            W_now = output()
            change = float(np.linalg.norm(W_now - s.W_epoch_start))
            s.W_epoch_start = W_now.copy()
            if stop == "max_iter" and change <= o.tol * max(float(np.linalg.norm(W_now)), 1e-300):
                stop = "converged"
        if run.due():
            save()
    save()
    dictionary = output()
    return FitResult(dictionary, None, run.history, s.batches, stop, run.backend), dictionary, None


def _online_step(run: Run, s: _Online, rows: np.ndarray, batch_size: int) -> None:
    """Code the mini-batch X[rows] where its rows live, fold it into A and B, update W."""
    o = run.options
    owner = np.searchsorted(run.starts, rows, side="right") - 1
    chunk_ids = [int(c) for c in np.unique(owner)]
    parts = [(c, rows[owner == c] - run.starts[c]) for c in chunk_ids]
    stats = run.code_step(s.W, parts)
    A_batch, B_batch = _sum(stats)
    m = rows.shape[0]
    memory = statistics_memory(s.batches * batch_size, batch_size, s.A.shape[0])
    beta = forgetting_factor(memory, m)
    s.A *= beta
    s.B *= beta
    s.A += A_batch / m
    s.B += B_batch / m
    s.weight = beta * s.weight + 1.0
    dead = dead_atoms(s.A, np)
    W_coded = s.W
    penalty = (
        None if o.dictionary_penalty is None else o.dictionary_penalty * s.weight / run.n_samples
    )
    s.W = update_dictionary(
        _HOST,
        s.A,
        s.B,
        s.W,
        positive=o.positive_dictionary,
        dictionary_penalty=penalty,
        n_passes=ONLINE_W_PASSES,
    )
    if dead.shape[0]:
        s.W = run.reseed(s.W, dead, stats, chunk_ids, W_coded)
    if o.averaging is not None:
        s.W_average = (1 - o.averaging) * s.W_average + o.averaging * s.W
    value = sum(st.half_residual for st in stats) + o.alpha * sum(st.l1 for st in stats)
    s.objective_sum += value / m
    s.objective_count += 1
    s.max_gap = max(s.max_gap, *(st.max_gap for st in stats))
