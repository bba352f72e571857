"""Set-up of every embedded worker process, run by Dask as the workers' `preload`.

The stop signals are the API's to act on: a Ctrl-C in a terminal reaches the whole process
group, and a worker that took it would die with a traceback in the middle of its run. The
API's shutdown stops the workers through their nannies instead, after their runs have
checkpointed (`Dispatcher.stop`).
"""

from __future__ import annotations

import signal
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def dask_setup(worker: Any) -> None:
    """Called by Dask in the worker process's main thread as the worker starts."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
