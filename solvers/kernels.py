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

from . import _cd_kernel, _dictionary_kernel, _homotopy_kernel

DTYPES: tuple[str, ...] = ("float64", "float32")
_SOURCES = (_cd_kernel, _homotopy_kernel, _dictionary_kernel)
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
    """Every kernel specialisation a CPU fit or encode of `dtype` data uses, through the calls
    the outer loops make (not through `solvers.fit`, which would make this module, which the
    Dask workers load, import the whole API): code steps over all rows, cold then warm; over a
    mini-batch with float32 warm starts, plain then with exact statistics; both signs; the
    dictionary step; a code step of more rows than one thread's share (the threaded path)."""
    from .backends import get_backend
    from .codes import solve_codes
    from .dictionary import update_dictionary
    from .options import default_code_tol
    from .rows import CodeSettings, RowBlock

    host = get_backend("numpy")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6)).astype(dtype)
    W = X[:3] / np.linalg.norm(X[:3], axis=1, keepdims=True)
    for positive in (False, True):
        code = CodeSettings(0.1, "auto", default_code_tol(dtype), 100, positive)
        everything, mini_batches = RowBlock(0, X, host), RowBlock(0, X, host)
        for replaced in (False, True):
            stats = everything.code(W, code, None)
            mini_batches.code(W, code, np.arange(8), replaced=replaced)
            update_dictionary(
                host, stats.A, stats.B, W.copy(), positive=positive, n_passes=2, tol=1e-7
            )
        mini_batches.code_sums(3, 6)
        everything.final_codes(W, code, keep=True)
    solve_codes(host, rng.standard_normal((70, 6)).astype(dtype), W, 0.1)


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
