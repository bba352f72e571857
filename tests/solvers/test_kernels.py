"""The compiled CPU kernels: compiled once per install into numba's cache, under a lock, and
only loaded by every later process. Each test runs fresh Python processes against an empty
NUMBA_CACHE_DIR, which is what a fresh install has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# Compiles or loads the float64 kernels with a fit, then prints what numba did: the cache
# misses (compilations) and hits (loads) of every kernel, and what kernels_cached says.
PROBE = """
import json, sys
import numpy as np
import solvers
from solvers import _cd_kernel, _dictionary_kernel
before = solvers.kernels_cached(["float64"])
if sys.argv[1] == "compile":
    solvers.compile_kernels(["float64"])
else:
    solvers.fit(np.random.default_rng(0).standard_normal((300, 8)), 4, alpha=0.1, max_iter=2)
stats = [k.stats for k in (_cd_kernel._solve_rows, _dictionary_kernel._add_run,
                           _dictionary_kernel.bcd_pass)]
print(json.dumps({
    "before": before,
    "after": solvers.kernels_cached(["float64"]),
    "float32": solvers.kernels_cached(["float32"]),
    "misses": sum(sum(s.cache_misses.values()) for s in stats),
    "hits": sum(sum(s.cache_hits.values()) for s in stats),
}))
"""


def _probe(cache: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-c", PROBE, *args], env=env, stdout=subprocess.PIPE, text=True
    )


def _result(process: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_compiled_once_then_only_loaded(tmp_path: Path) -> None:
    first = _result(_probe(tmp_path, "compile"))
    assert first["before"] is False and first["after"] is True and first["misses"]
    assert first["float32"] is False  # compiled for the dtypes asked for only
    later = _result(_probe(tmp_path, "fit"))
    assert later["before"] is True
    assert later["misses"] == 0 and later["hits"]  # the fit only loaded its kernels


def test_processes_compiling_at_once_compile_once(tmp_path: Path) -> None:
    """The lock: of two processes started together on an empty cache, one compiles while the
    other waits, then loads what the first wrote."""
    runs = [_result(p) for p in [_probe(tmp_path, "compile"), _probe(tmp_path, "compile")]]
    assert sorted(bool(r["misses"]) for r in runs) == [False, True]
    assert all(r["after"] is True for r in runs)


def test_fit_command_says_it_compiles_on_first_use(tmp_path: Path) -> None:
    import numpy as np

    data = tmp_path / "X.npy"
    np.save(data, np.random.default_rng(0).standard_normal((100, 6)))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def fit(out: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "service.cli", "fit", str(data), "-k", "3", "-q"]
        return subprocess.run(
            [*command, "--out", str(tmp_path / out)],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    first, second = fit("a.npz"), fit("b.npz")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stderr.count("compiling the CPU kernels for float64 data") == 1
    assert "compiling" not in second.stderr


def test_a_touched_kernel_source_is_no_longer_cached(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """numba recompiles a source whose modification time changed (a git checkout touches
    files): kernels_cached must not call such kernels cached."""
    import types

    import solvers
    from solvers import kernels

    source = tmp_path / "kernel.py"
    source.write_text("# a kernel module\n")
    monkeypatch.setattr(kernels, "_SOURCES", (types.SimpleNamespace(__file__=str(source)),))
    monkeypatch.setattr(kernels, "cache_directory", lambda: tmp_path)
    monkeypatch.setattr(kernels, "_exercise", lambda dtype: None)
    monkeypatch.setattr(kernels, "_loaded", set())
    solvers.compile_kernels(["float64"])
    assert solvers.kernels_cached(["float64"])
    stamp = source.stat()
    os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 10**9))
    assert not solvers.kernels_cached(["float64"])
    source.write_text("# a kernel module, edited\n")
    assert not solvers.kernels_cached(["float64"])
