"""The CPU kernels of the API process's machine, made ready while the service starts.

On the first start after an install numba's cache lacks the kernels: they are compiled in a
subprocess (`sparsecoding compile-kernels`, a few seconds), which leaves the event loop and
its GIL alone, while the Dask workers start beside it. The workers' first fits wait for it on
the kernels' lock instead of compiling the same code again (`solvers.compile_kernels`).
`/readyz` says what stage this is at. This process loads the kernels of a dtype with its
first encode of that dtype, in a worker thread (`loaded` says which it has): only then do
small encodes run on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from enum import StrEnum

import solvers

log = logging.getLogger("service")

COMPILING = "compiling the CPU kernels (the first start after an install; a few seconds)"


def begin_compiling() -> subprocess.Popen[bytes] | None:
    """Start compiling the kernels in a subprocess when numba's cache lacks them (else None).

    `sparsecoding serve` calls this before it imports the app, so that the compilation
    overlaps the API's own start; `KernelWarmup.start` adopts the process.
    """
    if solvers.kernels_cached():
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "compile-kernels"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a terminal's Ctrl-C is the API's to handle, not its
    )


class KernelState(StrEnum):
    compiling = "compiling"
    ready = "ready"
    failed = "failed"


class KernelWarmup:
    def __init__(self) -> None:
        self.state = KernelState.compiling
        self.detail = "looking for the compiled CPU kernels"
        self.loaded: set[str] = set()  # dtypes whose kernels this process has loaded
        self._task: asyncio.Task[None] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def ready(self) -> bool:
        return self.state == KernelState.ready

    def start(self, compiling: subprocess.Popen[bytes] | None = None) -> None:
        """Make the kernels ready: adopt the compilation `begin_compiling` started, or look
        for them and compile them now."""
        self._task = asyncio.create_task(self._run(compiling), name="kernel-warmup")

    async def _run(self, compiling: subprocess.Popen[bytes] | None) -> None:
        try:
            if compiling is None:
                compiling = await asyncio.to_thread(begin_compiling)
            if compiling is not None:
                self._process = compiling
                self.detail = COMPILING
                log.info(COMPILING)
                output, _ = await asyncio.to_thread(compiling.communicate)
                text = output.decode(errors="replace").strip()
                if compiling.returncode != 0:
                    tail = text.splitlines()[-1:] or ["no output"]
                    self._fail(f"exit status {compiling.returncode}: {tail[0]}")
                    return
                log.info(text)
        except Exception as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
            return
        self.state, self.detail = KernelState.ready, "CPU kernels compiled"

    def _fail(self, reason: str) -> None:
        self.state = KernelState.failed
        self.detail = f"the CPU kernels failed to compile ({reason})"
        log.error(self.detail)

    async def wait(self) -> None:
        """Until the kernels are ready or failed."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
