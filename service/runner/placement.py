"""Where a job's fit runs: on one worker, or data-parallel over the cluster when its data is
too large for one worker's memory (the `execution` option, "auto" by default); and on which
kind of worker, CPU or GPU (`job_restrictions`)."""

from __future__ import annotations

from typing import Any

from solvers import CPU_ONLY_CODE_SOLVERS, ClusterWorkers, task_restrictions

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


def job_restrictions(
    options: dict[str, Any], workers: dict[str, dict[str, Any]], cupy_workers: list[str]
) -> dict[str, Any]:
    """`client.submit` keywords placing a job's run on the right kind of worker.

    `workers`: the scheduler's {address: info} (info["resources"] marks a GPU worker started
    with `--resources GPU=1`); `cupy_workers`: those where CuPy is usable. A cupy job runs on
    those only. A CPU job (numpy, or auto with a CPU-only code solver) runs on the other
    workers while the cluster has any, waiting for one rather than taking a GPU worker's slot
    (a strict restriction: Dask steals loosely restricted tasks to idle workers of any kind);
    auto with a solver that runs on both goes wherever Dask puts it, and runs on the GPU there
    if it has one.
    """
    backend = options.get("backend", "numpy")
    if backend == "auto" and options.get("code_solver", "auto") not in CPU_ONLY_CODE_SOLVERS:
        return {}
    kinds = ClusterWorkers.classify(workers, cupy_workers)
    return task_restrictions(kinds, "cupy" if backend == "cupy" else "numpy")
