"""Set-up of every embedded worker process: how it is started, and its Dask `preload`.

The workers run at a lower CPU priority than the API (WORKER_NICENESS): on a small machine a
fit must not take the cores from the requests, which are short; the fits get them back
whenever the API is idle. Only the embedded workers: an external cluster's are its own.

The stop signals are the API's to act on: a Ctrl-C in a terminal reaches the whole process
group, and a worker that took it would die with a traceback in the middle of its run (or of
its start). The API's shutdown stops the workers through their nannies instead, after their
runs have checkpointed (`Dispatcher.stop`). So the workers' Python is started with SIGINT and
SIGTERM ignored (`worker_python`: Python keeps a signal its parent ignores ignored, and so
does asyncio), and the preload ignores them again where another start method is configured.

A worker that is closing may still have a heartbeat to the scheduler in flight, which then
fails against its own closing connection pool and logs an ERROR with a traceback (a known race
of distributed's shutdown): the preload drops that one record while the worker closes, so that
an orderly stop logs no traceback. The same failure while the worker runs is still logged.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
WORKER_NICENESS = 10
HEARTBEAT_FAILED = "Failed to communicate with scheduler during heartbeat"
CLOSING = frozenset({"closing", "closing_gracefully", "closed"})


def worker_python(directory: Path) -> str | None:
    """An executable that runs this Python with the stop signals ignored from its first
    instruction (a two-line shell script in `directory`); None where it cannot be executed
    (a file system mounted noexec: the preload then ignores them, a second later)."""
    path = directory / "python-ignoring-stop-signals"
    script = (
        "#!/bin/sh\n# the embedded Dask workers' Python: Ctrl-C and SIGTERM are the API's\n"
        f"trap '' INT TERM\nexec {shlex.quote(sys.executable)} \"$@\"\n"
    )
    try:
        if not path.exists() or path.read_text() != script:
            path.write_text(script)
        path.chmod(0o755)
    except OSError:
        return None
    return str(path) if os.access(path, os.X_OK) else None


def dask_setup(worker: Any) -> None:
    """Called by Dask in the worker process's main thread as the worker starts."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    lower_priority(WORKER_NICENESS)
    logging.getLogger("distributed.worker").addFilter(QuietHeartbeatAtClose(worker))


class QuietHeartbeatAtClose(logging.Filter):
    """Drops the heartbeat-failure record of a worker that is closing (see the module)."""

    def __init__(self, worker: Any) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(getattr(self.worker, "status", None), "name", "")
        return not (status in CLOSING and record.getMessage().startswith(HEARTBEAT_FAILED))


def lower_priority(niceness: int) -> None:
    """Lower the CPU priority of every thread of this process by `niceness` (Linux: niceness
    is per thread, and threads started later inherit it from the thread that starts them)."""
    if not sys.platform.startswith("linux"):
        os.nice(niceness)  # pragma: no cover - elsewhere niceness is per process
        return
    target = os.getpriority(os.PRIO_PROCESS, 0) + niceness
    for tid in os.listdir("/proc/self/task"):
        try:
            if os.getpriority(os.PRIO_PROCESS, int(tid)) < target:
                os.setpriority(os.PRIO_PROCESS, int(tid), target)
        except OSError:  # the thread ended meanwhile
            pass
