"""Runs of rows in parallel on Python threads, for compiled kernels that release the GIL.

The kernels are serial `@njit(nogil=True)` functions over a range of rows; this module hands
the ranges to the cores. It replaces numba's `parallel=True` (prange), whose compilation cost
5–6 s per kernel and dtype on a cold cache, most of a fresh install's first fit (a serial
kernel compiles in a fraction of a second). Ranges are taken from a shared counter, so a
thread that finishes early takes the next one; the results do not depend on which thread ran
which range.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (owner pid, pool)


def n_threads() -> int:
    """Threads a kernel call uses: NUMBA_NUM_THREADS when set, else the CPUs this process may
    run on (its affinity mask, as a container or `taskset` limits it)."""
    if os.environ.get("NUMBA_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["NUMBA_NUM_THREADS"]))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _executor(workers: int) -> ThreadPoolExecutor:
    """The process's pool (a forked child builds its own: threads do not survive a fork)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="sparsecoding"))
        return _pool[1]


def run_ranges(work: Callable[[int, int], object], n: int, size: int) -> None:
    """Call work(first, stop) for the ranges [0, size), [size, 2·size), … covering 0..n−1.

    The calling thread takes part; up to n_threads() − 1 pool threads join it when there is
    more than one range. An exception in any call is raised here once every thread is done.
    """
    n_ranges = (n + size - 1) // size
    helpers = min(n_threads(), n_ranges) - 1
    counter = itertools.count()

    def drain() -> None:
        for index in counter:  # next() on itertools.count is atomic under the GIL
            if index >= n_ranges:
                return
            first = index * size
            work(first, min(n, first + size))

    if helpers <= 0:
        drain()
        return
    pool = _executor(n_threads() - 1)
    futures: list[Future[None]] = [pool.submit(drain) for _ in range(helpers)]
    try:
        drain()
    finally:
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
