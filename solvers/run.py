"""What both outer loops share: the clock that survives a resume, the progress history and its
callback, and checkpoints that know which fit they belong to."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checkpoint import load_checkpoint, save_checkpoint
from .errors import InvalidInputError
from .executors import Executor, StepStats
from .options import FitOptions
from .result import Progress, ProgressCallback

# The final codes of an online fit are a pass over every row, warm where the rows' latest codes
# are kept. Measured on four workloads (benchmarks.workloads), a row of it costs 0.5 to 1.1 times
# a row of the latest mini-batch code steps (cold passes the most), and less than the early
# steps (those code on a dictionary with denser codes, through smaller calls): the time limit
# keeps room for the pass at the latest steps' cost per row, with no margin.
# The cost per row of a run's code steps is the least of its latest RECENT_STEPS (robust to a
# slow one: a pause, a collection), leaving out the run's first step, which also pays one-off
# costs (on a Dask cluster, the rows reaching their worker: 0.2 s for one mini-batch of P1).
RECENT_STEPS = 3


_now = time.perf_counter  # tests replace it, to make time pass as they say


def clock() -> float:
    """The clock of every fit: seconds, from an arbitrary origin."""
    return _now()


@dataclass
class Run:
    """One fit: where it runs, its options, and what it has reported and saved so far."""

    executor: Executor
    options: FitOptions
    callback: ProgressCallback | None = None
    checkpoint: str | None = None
    history: list[Progress] = field(default_factory=list)
    elapsed_before: float = 0.0
    started: float = field(default_factory=lambda: clock())  # the call of `fit`, by default
    last_save: float = field(default_factory=lambda: clock())
    step_seconds: float = 0.0  # the last code step's
    row_costs: list[float] = field(default_factory=list)  # s per row, latest steps but the first
    steps_timed: int = 0

    @property
    def n_samples(self) -> int:
        return self.executor.n_samples

    def elapsed(self) -> float:
        """Seconds of fitting, those before a resume included."""
        return self.elapsed_before + clock() - self.started

    def out_of_time(self, ahead: float = 0.0) -> bool:
        """Whether the time limit is reached, or would be `ahead` seconds from now."""
        limit = self.options.time_limit
        return limit is not None and self.elapsed() + ahead >= limit

    def final_codes_seconds(self) -> float:
        """About how long the final pass over every row takes, from the latest code steps (0
        before there is one to go by)."""
        if not self.row_costs:  # nothing to go by yet but the first step
            return 0.0
        return min(self.row_costs) * self.n_samples

    def must_stop(self, ahead: float = 0.0) -> bool:
        """Whether to start no further code step: out of time `ahead` seconds from now, and
        where the executor cannot stop a step in the middle, once one more like the last
        would have ended."""
        inside = self.executor.stops_inside
        return self.out_of_time(ahead + (0.0 if inside else self.step_seconds))

    def code(
        self,
        W: Any,
        rows: Any = None,
        *,
        replaced: bool = False,
        ahead: float = 0.0,
        complete: bool = False,
    ) -> StepStats:
        """The executor's code step, timed; unless `complete`, it raises `OutOfTime` when the
        time limit (less `ahead` seconds) passes in the middle, the executor's state intact."""
        deadline: Callable[[], bool] | None = None
        if self.options.time_limit is not None and not complete:
            deadline = lambda: self.out_of_time(ahead)  # noqa: E731 - the check, deferred
        start = clock()
        step = self.executor.code(W, rows, replaced=replaced, deadline=deadline)
        self.step_seconds = clock() - start
        self.steps_timed += 1
        if self.steps_timed > 1:
            self.row_costs = [*self.row_costs, self.step_seconds / max(step.n_rows, 1)]
            self.row_costs = self.row_costs[-RECENT_STEPS:]
        return step

    def report(self, record: Progress) -> bool:
        """Append `record` and ask the callback; False means the user cancelled."""
        self.history.append(record)
        return self.callback is None or self.callback(record) is not False

    def checkpoint_due(self) -> bool:
        return clock() - self.last_save >= self.options.checkpoint_interval

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
        self.last_save = clock()

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
