"""The compiled CPU kernels: compile them before a fit needs them, and tell whether they are.

numba compiles each kernel for each argument type on its first call and keeps the machine code
in its on-disk cache (`cache=True`: beside the sources, or under NUMBA_CACHE_DIR), so only the
first process after an install pays, a few seconds per dtype on a small machine; later
processes load the code in a fraction of a second. `compile_kernels` makes that first call on
purpose, on tiny problems that take the same paths as real fits and encodes, with a lock per
dtype so that concurrent processes (the workers of a fresh service) compile once: the others
wait, then load. It leaves a stamp beside numba's cache, from which `kernels_cached` answers
without compiling anything. `sparsecoding compile-kernels` runs it from a shell (a container
build, a fresh service).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import _cd_kernel, _dictionary_kernel

DTYPES: tuple[str, ...] = ("float64", "float32")
_SOURCES = (_cd_kernel, _dictionary_kernel)
_loaded: set[str] = set()  # dtypes whose kernels this process has compiled or loaded


def _dtype_names(dtypes: Iterable[Any]) -> list[str]:
    names = [np.dtype(d).name for d in dtypes]
    unknown = sorted(set(names) - set(DTYPES))
    if unknown:
        raise ValueError(f"kernels exist for {DTYPES}; not for {unknown}")
    return names


def cache_directory() -> Path:
    """Where numba keeps the kernels' machine code (and this module its stamps and locks)."""
    return Path(str(_cd_kernel._solve_rows.stats.cache_path))


def _fingerprint(dtype: str) -> str:
    """What the cached code depends on: the kernel sources (and their file stamps), numba,
    Python and the CPU."""
    import llvmlite.binding as llvm
    import numba

    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # pragma: no cover - a platform without the query
        features = ""
    digest = hashlib.sha256()
    for module in _SOURCES:
        source = Path(str(module.__file__))
        digest.update(source.read_bytes())
        # numba keys its cache on the source's modification time and size: a touched file
        # (a git checkout) is compiled again, so it must not count as cached here either
        info = source.stat()
        digest.update(f"{info.st_mtime!r}:{info.st_size}".encode())
    return json.dumps(
        {
            "dtype": dtype,
            "sources": digest.hexdigest(),
            "numba": numba.__version__,
            "python": sys.version,
            "cpu": llvm.get_host_cpu_name(),
            "features": features,
        },
        sort_keys=True,
    )


def _stamp(dtype: str) -> Path:
    return cache_directory() / f"sparsecoding-kernels-{dtype}.stamp"


def kernels_cached(dtypes: Iterable[Any] = DTYPES) -> bool:
    """Whether `compile_kernels(dtypes)` has run against the current sources, numba and CPU,
    so that a fit of data of these dtypes only loads its kernels."""
    for dtype in _dtype_names(dtypes):
        try:
            if _stamp(dtype).read_text() != _fingerprint(dtype):
                return False
        except OSError:
            return False
    return True


@contextlib.contextmanager
def _locked(dtype: str) -> Iterator[None]:
    """An exclusive lock between processes for compiling `dtype` (none where files cannot be
    locked: then concurrent processes may each compile, which is only slower)."""
    try:
        import fcntl

        directory = cache_directory()
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / f"sparsecoding-kernels-{dtype}.lock", "a")
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _exercise(dtype: str) -> None:
    """Every kernel specialisation a CPU fit or encode of `dtype` data uses: a batch fit, an
    online fit long enough to switch to its exact statistics, an encode of more than one chunk
    of rows (the threaded path)."""
    from .api import encode, fit

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6)).astype(dtype)
    fit(X, 3, alpha=0.1, max_iter=2, random_state=0)
    fit(X, 3, alpha=0.1, mode="online", batch_size=8, max_iter=3, random_state=0)
    fit(X, 3, alpha=0.1, max_iter=1, positive_codes=True, positive_dictionary=True)
    encode(rng.standard_normal((70, 6)).astype(dtype), X[:3], alpha=0.1)


def compile_kernels(dtypes: Iterable[Any] = DTYPES) -> float:
    """Compile (or load from numba's cache) the CPU kernels for data of these dtypes; seconds.

    Safe to call from several processes at once: one compiles each dtype, the others wait for
    it and then load. Cheap (well under a second) when `kernels_cached(dtypes)`, free once this
    process has loaded them.
    """
    started = time.perf_counter()
    for dtype in _dtype_names(dtypes):
        if dtype in _loaded:
            continue
        with _locked(dtype):
            _exercise(dtype)
            stamp = _stamp(dtype)
            fingerprint = _fingerprint(dtype)
            with contextlib.suppress(OSError):  # a read-only cache only loses the hint
                if not stamp.exists() or stamp.read_text() != fingerprint:
                    stamp.write_text(fingerprint)
        _loaded.add(dtype)
    return time.perf_counter() - started
