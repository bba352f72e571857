"""What a Dask worker reports about itself, for `client.run(worker_backends)`."""

from __future__ import annotations

from typing import Any

import solvers

# The resource a GPU worker is started with (`dask worker ... --resources GPU=1`), so that a
# deployment can tell its GPU workers apart (`placement.job_restrictions`): backend="cupy"
# jobs go to the workers whose `worker_backends()` report cupy, CPU jobs to the others.
GPU_RESOURCE = solvers.GPU_RESOURCE


def worker_backends() -> list[dict[str, Any]]:
    """`solvers.available_backends()` as seen on the worker that runs this.

    Use as `client.run(worker_backends)` → {worker address: [{name, available, device,
    reason}, ...]}; importing this module loads neither CuPy nor the web app.
    """
    return solvers.available_backends()
