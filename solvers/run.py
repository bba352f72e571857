"""What both outer loops share: the clock that survives a resume, the progress history and its
callback, and checkpoints that know which fit they belong to."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checkpoint import load_checkpoint, save_checkpoint
from .errors import InvalidInputError
from .executors import Executor
from .options import FitOptions
from .result import Progress, ProgressCallback


@dataclass
class Run:
    """One fit: where it runs, its options, and what it has reported and saved so far."""

    executor: Executor
    options: FitOptions
    callback: ProgressCallback | None = None
    checkpoint: str | None = None
    history: list[Progress] = field(default_factory=list)
    elapsed_before: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    last_save: float = field(default_factory=time.perf_counter)

    @property
    def n_samples(self) -> int:
        return self.executor.n_samples

    def elapsed(self) -> float:
        """Seconds of fitting, those before a resume included."""
        return self.elapsed_before + time.perf_counter() - self.started

    def out_of_time(self) -> bool:
        limit = self.options.time_limit
        return limit is not None and self.elapsed() >= limit

    def report(self, record: Progress) -> bool:
        """Append `record` and ask the callback; False means the user cancelled."""
        self.history.append(record)
        return self.callback is None or self.callback(record) is not False

    def checkpoint_due(self) -> bool:
        return time.perf_counter() - self.last_save >= self.options.checkpoint_interval

    def save(self, mode: str, arrays: dict[str, Any], meta: dict[str, Any]) -> None:
        """Write the loop's `arrays` and `meta`, the executor's codes and the history."""
        if self.checkpoint is None:
            return
        table = np.array(
            [[r.iteration, r.epoch, r.objective, r.elapsed_s, r.max_gap] for r in self.history],
            dtype=np.float64,
        ).reshape(-1, 5)
        backend = self.executor.backend
        payload = {name: backend.to_numpy(value) for name, value in arrays.items()}
        payload.update(self.executor.state(self.checkpoint))
        meta = {**meta, **self._identity(mode), "elapsed": self.elapsed()}
        save_checkpoint(self.checkpoint, {**payload, "history": table}, meta)
        self.last_save = time.perf_counter()

    def load(self, mode: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """(arrays, meta) of this fit's checkpoint, the executor's codes restored; None when
        there is none. A checkpoint of another fit is an error, not a silent fresh start."""
        if self.checkpoint is None or not os.path.exists(self.checkpoint):
            return None
        arrays, meta = load_checkpoint(self.checkpoint)
        expected = self._identity(mode)
        found = {key: meta.get(key) for key in expected}
        if found != expected:
            raise InvalidInputError(
                f"checkpoint {self.checkpoint} belongs to another fit: {found} != {expected}"
            )
        estimate = mode == "online"  # online records estimate the objective
        self.history = [
            Progress(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), estimate)
            for r in arrays["history"]
        ]
        self.elapsed_before = float(meta["elapsed"])
        self.executor.restore(arrays, self.checkpoint)
        return arrays, meta

    def _identity(self, mode: str) -> dict[str, Any]:
        return {
            "mode": mode + self.executor.kind,
            "n_samples": self.executor.n_samples,
            "n_features": self.executor.n_features,
        }
