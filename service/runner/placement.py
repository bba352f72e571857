"""Where a job's fit runs: on one worker, or data-parallel over the cluster when its data is
too large for one worker's memory (the `execution` option, "auto" by default)."""

from __future__ import annotations

from typing import Any

# Data-parallel is chosen automatically once X exceeds this fraction of one worker's memory.
MEMORY_FRACTION = 0.25


def should_use_data_parallel(
    n_bytes: int, worker_memory_bytes: float | None, requested: bool | None = None
) -> bool:
    """Whether a fit over X of `n_bytes` should be data-parallel.

    `requested` (a job option) wins when given; otherwise X must exceed MEMORY_FRACTION of the
    smallest worker's memory limit (None or 0: unlimited, so never automatically).
    """
    if requested is not None:
        return requested
    if not worker_memory_bytes:
        return False
    return n_bytes > MEMORY_FRACTION * worker_memory_bytes


def worker_memory(client: Any) -> float | None:
    """The smallest memory limit in bytes among the cluster's workers (None: unlimited/none)."""
    limits = [w.get("memory_limit") or 0 for w in client.scheduler_info()["workers"].values()]
    limits = [limit for limit in limits if limit > 0]
    return float(min(limits)) if limits else None
