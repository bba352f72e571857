"""Which workers of a Dask cluster run a data-parallel fit's chunk tasks, by backend.

A cluster may mix CPU workers and GPU workers (docker-compose.yml's `worker` and `gpu-worker`).
A cupy fit's every task is pinned to the workers where CuPy is usable (`allow_other_workers=
False`: anywhere else the task would fail, and Dask's work stealing would otherwise move some
there); a NumPy fit's tasks are pinned to the other workers while there are any, so that they
leave the GPU free. The pins are strict: Dask steals a task with a loose restriction to any
idle worker when its own are busy (`WorkStealing._get_thief`), which put CPU chunks on an idle
GPU worker under load.

A GPU worker is one whose CuPy is usable or that was started with the Dask resource
`GPU_RESOURCE` (`dask worker ... --resources GPU=1`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .backends import CPU_ONLY_CODE_SOLVERS, available_backends
from .errors import BackendUnavailableError

# The Dask resource a deployment's GPU workers are started with.
GPU_RESOURCE = "GPU"


def cupy_usable() -> bool:
    """Whether CuPy runs where this is called (for `client.run` on every worker)."""
    return any(b["name"] == "cupy" and b["available"] for b in available_backends())


@dataclass(frozen=True)
class ClusterWorkers:
    """The cluster's worker addresses, sorted: all, those that can run cupy, the CPU ones."""

    every: list[str]
    cupy: list[str]
    cpu: list[str]

    @classmethod
    def of(cls, client: Any) -> ClusterWorkers:
        """Asked of the cluster: the scheduler's view and a CuPy probe on every worker."""
        info = client.scheduler_info(n_workers=-1)["workers"]
        usable = client.run(cupy_usable) if info else {}
        return cls.classify(info, [address for address, ok in usable.items() if ok])

    @classmethod
    def classify(cls, info: dict[str, dict[str, Any]], cupy: Iterable[str]) -> ClusterWorkers:
        """From the scheduler's {address: worker info} and the addresses where CuPy is usable:
        a GPU worker is one of those, or one started with the resource GPU_RESOURCE."""
        cupy = sorted(cupy)
        gpu = set(cupy) | {
            address
            for address, worker in info.items()
            if (worker.get("resources") or {}).get(GPU_RESOURCE)
        }
        return cls(sorted(info), cupy, sorted(set(info) - gpu))


def backend_name(workers: ClusterWorkers, name: str, code_solver: str) -> str:
    """The backend a fit asked for with `name` runs on: "auto" is cupy when some worker has a
    usable GPU and the code solver runs there; "cupy" needs such a worker."""
    if name == "numpy" or (name == "auto" and code_solver in CPU_ONLY_CODE_SOLVERS):
        return "numpy"
    if workers.cupy:
        return "cupy"
    if name == "auto":
        return "numpy"
    raise BackendUnavailableError(
        "cupy", "no worker of the Dask cluster has a usable GPU", ["numpy"]
    )


def task_restrictions(
    workers: ClusterWorkers, backend: str, chunk: int | None = None
) -> dict[str, Any]:
    """`client.submit` keywords for a task of a fit on `backend`; `chunk`: the task that loads
    chunk number `chunk` (without GPU workers to keep free, chunks go to the workers in turn,
    any other worker taking one whose worker is gone)."""
    if backend == "cupy":
        return {"workers": list(workers.cupy), "allow_other_workers": False}
    if workers.cpu and len(workers.cpu) < len(workers.every):
        return {"workers": list(workers.cpu), "allow_other_workers": False}
    if chunk is not None:
        return {"workers": [workers.every[chunk % len(workers.every)]], "allow_other_workers": True}
    return {}
