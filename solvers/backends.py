"""The only module that knows about array backends (NumPy on the CPU, CuPy on a GPU).

Everything else asks for a `Backend` and then uses `backend.xp` alone. Arrays cross between the
host and a device only here: `backend.asarray` on the way in, `backend.to_numpy` on the way out,
each once, at the boundary, on purpose.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ._cuda_sources import bcd_pass_source
from .errors import BackendUnavailableError


@dataclass(frozen=True)
class Backend:
    """An array namespace and the few operations that differ between NumPy and CuPy."""

    name: str
    xp: ModuleType

    @property
    def is_gpu(self) -> bool:
        return self.name == "cupy"

    def asarray(self, a: Any, dtype: Any) -> Any:
        """`a` on this backend's device with `dtype` (a copy only where needed)."""
        out = self.xp.asarray(a, dtype=dtype)
        if self.is_gpu and not _on_device(a):
            TRANSFERS.to_device_bytes += int(out.nbytes)
        return out

    def to_numpy(self, a: Any) -> np.ndarray:
        """The one way back to the host."""
        if self.is_gpu:
            TRANSFERS.to_host_bytes += int(a.nbytes)
            return self.xp.asnumpy(a)
        return np.asarray(a)

    @contextlib.contextmanager
    def peak_memory(self) -> Iterator[dict[str, int]]:
        """Within: {"peak_bytes": the most device memory in use at once} (0 on the CPU),
        through an allocator that records CuPy's pool after every allocation."""
        record = {"peak_bytes": 0}
        if not self.is_gpu:
            yield record
            return
        pool = self.xp.get_default_memory_pool()

        def malloc(size: int) -> Any:
            memory = pool.malloc(size)
            record["peak_bytes"] = max(record["peak_bytes"], int(pool.used_bytes()))
            return memory

        self.xp.cuda.set_allocator(malloc)
        try:
            yield record
        finally:
            self.xp.cuda.set_allocator(pool.malloc)

    def synchronize(self) -> None:
        if self.is_gpu:
            self.xp.cuda.get_current_stream().synchronize()

    def prox_step(
        self, Y: Any, YG: Any, C: Any, step: Any, threshold: Any, positive: bool, out: Any
    ) -> Any:
        """Proximal gradient step of the lasso, all rows at once, written into `out`.

        out = S_{threshold}(Y − step·(Y G − C)), where S is soft thresholding (or its
        non-negative variant), `step` = 1/L and `threshold` = α/L are 0-d arrays. Shapes:
        Y, YG, C, out (n, k).
        """
        if self.is_gpu:
            kernel = _cupy_kernels()["prox_pos" if positive else "prox"]
            return kernel(Y, YG, C, step, threshold, out)
        xp = self.xp
        xp.subtract(YG, C, out=out)
        out *= -step
        out += Y
        if positive:
            out -= threshold
            xp.maximum(out, 0, out=out)
        else:
            magnitude = xp.abs(out)
            magnitude -= threshold
            xp.maximum(magnitude, 0, out=magnitude)
            xp.copysign(magnitude, out, out=out)
        return out

    def momentum_step(self, H_new: Any, H_old: Any, beta: Any, out: Any) -> Any:
        """FISTA extrapolation out = H_new + β (H_new − H_old), β of shape (n, 1)."""
        if self.is_gpu:
            return _cupy_kernels()["momentum"](H_new, H_old, beta, out)
        xp = self.xp
        xp.subtract(H_new, H_old, out=out)
        out *= beta
        out += H_new
        return out

    def dictionary_pass(
        self,
        A: Any,
        B: Any,
        W: Any,
        used: Any,
        denominator: Any,
        ridge: float,
        positive: bool,
        constrained: bool,
    ) -> None:
        """One block-coordinate pass over W's atoms, in place, in one launch (GPU only; the
        CPU's is compiled by numba). A (k, k), B and W (k, p) C-contiguous in W's dtype,
        used (k,) bool, denominator (k,) = A_jj + λ (1 where unused); `_cuda_sources`."""
        assert self.is_gpu, "the CPU's pass is solvers._dictionary_kernel.bcd_pass"
        k, p = W.shape
        threads = min(1024, max(32, 1 << max(p - 1, 1).bit_length()))
        scalar = np.dtype(W.dtype).type
        flags = (np.int32(positive), np.int32(constrained), np.int32(k), np.int32(p))
        arguments = (A, B, W, used, denominator, scalar(ridge), *flags)
        kernel = _bcd_kernel(np.dtype(W.dtype).char)
        kernel((1,), (threads,), arguments, shared_mem=threads * np.dtype(W.dtype).itemsize)

    def compute_scope(self) -> contextlib.AbstractContextManager[Any]:
        """Where a fit or an encode runs: on the CPU, BLAS single-threaded.

        The compiled kernels already use every core; OpenBLAS threads that spin-wait between
        small matrix products would steal those cores from them (measured: an online P1 epoch
        2.6× slower with BLAS left at two threads on two cores).
        """
        if self.is_gpu:
            return contextlib.nullcontext()
        return _blas_controller().limit(limits=1, user_api="blas")

    def memory(self) -> dict[str, int] | None:
        """Free and total device memory in bytes (None on the CPU)."""
        if not self.is_gpu:
            return None
        free, total = self.xp.cuda.runtime.memGetInfo()
        return {"free_bytes": int(free), "total_bytes": int(total)}


NUMPY = Backend("numpy", np)


@dataclass
class Transfers:
    """Bytes moved between the host and the device through `Backend.asarray` / `to_numpy`
    (the only crossings, by design), since the process started or `reset`."""

    to_device_bytes: int = 0
    to_host_bytes: int = 0

    def reset(self) -> None:
        self.to_device_bytes = self.to_host_bytes = 0


TRANSFERS = Transfers()


@functools.cache
def _blas_controller() -> Any:
    """One ThreadpoolController for the process: building one scans every loaded library
    (~2 ms), which would dominate encoding a few rows."""
    # SciPy brings its own OpenBLAS (used by scikit-learn's LARS and SVD): load it first so that
    # the controller, which sees only libraries loaded when it is built, limits both.
    import scipy.linalg  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


# CuPy's float32 products use TF32 tensor cores (a 10-bit mantissa) when this is set to a
# positive integer: FISTA's gradient would then be too coarse to certify float32 codes at 1e-6.
_TF32_VARIABLE = "CUPY_TF32"


def _tf32_requested() -> bool:
    value = os.environ.get(_TF32_VARIABLE, "").strip()
    return value.isdigit() and int(value) > 0


@functools.cache
def _cupy_module() -> tuple[ModuleType | None, str | None]:
    """(cupy, None) when a CUDA device is usable, else (None, why not).

    Usable means more than counted: a fused kernel compiles and runs and a cuBLAS product gives
    the right numbers (a driver too old for the CUDA libraries, or a device without memory, only
    shows there).
    """
    if _tf32_requested():
        return None, (
            f"{_TF32_VARIABLE} is set: CuPy's float32 matrix products would run in TF32 "
            f"(about 3 decimal digits), too coarse to certify the codes; unset {_TF32_VARIABLE}"
        )
    try:
        import cupy
    except Exception as exc:  # ImportError, or a CUDA library that fails to load
        return None, f"cupy is not installed or failed to import: {exc.__class__.__name__}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"no usable CUDA device: {exc}"
    if count < 1:
        return None, "no CUDA device"
    try:
        _probe_device(cupy)
    except Exception as exc:  # a compile, launch or cuBLAS failure, or a wrong result
        return None, f"the CUDA device failed a kernel and cuBLAS check: {exc}"
    return cupy, None


def _probe_device(cupy: ModuleType) -> None:
    """Compile and run the fused prox kernel and a float32 cuBLAS product, and compare both
    with NumPy; raises on any failure. The product's entries need 13 bits of mantissa, so
    TF32 however enabled (10 bits) fails it too."""
    a = np.full((32, 32), 1 + 2.0**-13, dtype=np.float32)
    product = cupy.asnumpy(cupy.asarray(a) @ cupy.ones((32, 32), dtype=cupy.float32))
    if not np.array_equal(product, a @ np.ones((32, 32), np.float32)):
        raise RuntimeError(
            f"a float32 cuBLAS product is off by {float(np.abs(product - 32 - 2.0**-8).max())}"
            " (TF32 or a faulty device)"
        )
    a = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    y = cupy.asarray(a)
    out = cupy.empty_like(y)
    step, threshold = cupy.asarray(np.float32(1.0)), cupy.asarray(np.float32(2.5))
    _build_kernels(cupy)["prox"](y, y, y, step, threshold, out)
    expected = np.sign(a) * np.maximum(np.abs(a) - 2.5, 0)
    if not np.allclose(cupy.asnumpy(out), expected):
        raise RuntimeError("the fused prox kernel gave wrong values")
    cupy.cuda.get_current_stream().synchronize()


@functools.cache
def _bcd_kernel(dtype_char: str) -> Any:
    """The compiled dictionary pass for float32 ("f") or float64 ("d")."""
    cupy, _ = _cupy_module()
    assert cupy is not None
    source, name = bcd_pass_source({"f": "float", "d": "double"}[dtype_char])
    return cupy.RawKernel(source, name)


@functools.cache
def _cupy_kernels() -> dict[str, Any]:
    """Fused element-wise kernels: one pass over memory instead of four or five."""
    cupy, _ = _cupy_module()
    assert cupy is not None
    return _build_kernels(cupy)


def _build_kernels(cupy: ModuleType) -> dict[str, Any]:
    prox = cupy.ElementwiseKernel(
        "T y, T yg, T c, T step, T thr",
        "T out",
        "T z = y - step * (yg - c); T m = fabs(z) - thr; out = m > 0 ? copysign(m, z) : 0",
        "sparsecoding_prox",
    )
    prox_pos = cupy.ElementwiseKernel(
        "T y, T yg, T c, T step, T thr",
        "T out",
        "T z = y - step * (yg - c) - thr; out = z > 0 ? z : 0",
        "sparsecoding_prox_pos",
    )
    momentum = cupy.ElementwiseKernel(
        "T h_new, T h_old, T beta",
        "T out",
        "out = h_new + beta * (h_new - h_old)",
        "sparsecoding_momentum",
    )
    return {"prox": prox, "prox_pos": prox_pos, "momentum": momentum}


def available_backends() -> list[dict[str, Any]]:
    """What this machine can run: name, available, device, reason, memory_bytes."""
    rows: list[dict[str, Any]] = [
        {"name": "numpy", "available": True, "device": "cpu", "reason": None, "memory_bytes": None}
    ]
    cupy, reason = _cupy_module()
    if cupy is None:
        rows.append(
            {
                "name": "cupy",
                "available": False,
                "device": None,
                "reason": reason,
                "memory_bytes": None,
            }
        )
    else:
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        rows.append(
            {
                "name": "cupy",
                "available": True,
                "device": name.decode() if isinstance(name, bytes) else str(name),
                "reason": None,
                "memory_bytes": int(props["totalGlobalMem"]),
            }
        )
    return rows


# Code solvers with compiled CPU kernels only: `backend="auto"` means NumPy for them.
CPU_ONLY_CODE_SOLVERS = frozenset({"cd", "lars", "omp"})


def get_backend(name: str, code_solver: str = "auto") -> Backend:
    """The backend called `name` ("numpy", "cupy" or "auto"). "auto" is cupy when a GPU is
    usable and `code_solver` runs there ("auto" or "fista"), NumPy otherwise."""
    if name == "numpy" or (name == "auto" and code_solver in CPU_ONLY_CODE_SOLVERS):
        return NUMPY
    if name not in ("cupy", "auto"):
        raise BackendUnavailableError(name, "unknown backend", _available_names())
    cupy, reason = _cupy_module()
    if cupy is None:
        if name == "auto":
            return NUMPY
        raise BackendUnavailableError(name, reason or "unavailable", _available_names())
    return Backend("cupy", cupy)


def _available_names() -> list[str]:
    return [row["name"] for row in available_backends() if row["available"]]


def _on_device(a: Any) -> bool:
    """Whether `a` is a CuPy array, told without importing CuPy."""
    return not isinstance(a, np.ndarray) and type(a).__module__.split(".")[0] == "cupy"


def backend_of(a: Any) -> Backend:
    """The backend an array lives on (cupy arrays are recognised without importing cupy)."""
    return get_backend("cupy") if _on_device(a) else NUMPY


def to_host(a: Any) -> Any:
    """A device array copied to the host (once, here); anything else as it is. For inputs:
    the solvers take device arrays wherever they take host ones."""
    return a.get() if _on_device(a) else a
