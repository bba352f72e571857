"""Peak memory of an online fit on a memory-mapped .npy file larger than what it should allocate.

    PYTHONPATH=. .venv/bin/python -m benchmarks.memory [--n 1000000] [--k 128] [--dir /tmp]

1. Writes an n × 64 float32 matrix (10⁶ rows: 256 MB) to a .npy file in a temporary directory, a
   chunk of 65,536 rows at a time (the whole matrix is never in memory). The data are structured
   random samples: sparse combinations (4 of 128 random unit atoms, Laplace weights) plus
   Gaussian noise of standard deviation 0.1, from `default_rng(0)`.
2. In a fresh Python process: imports, a small warm-up fit (so compiled kernels are loaded), then
   records the baseline, starts a thread that reads /proc/self/status every 5 ms, and runs
   `solvers.fit(np.load(path, mmap_mode="r"), k, max_iter=1, random_state=0,
   return_codes=False)` at the defaults (online, mini-batches of 8·k rows within
   [256, max(1024, k)]), or with `--batch-size`.
3. Prints the child's peak RSS (VmHWM, equal to getrusage's ru_maxrss) and the sampled peaks of
   RssAnon (memory the process allocated) and RssFile (pages of the memory map and of shared
   libraries that are resident), against the target: peak RSS within file size + 300 MB.

Pages of the map that the fit reads count toward RSS (as RssFile) although the kernel can drop
them at any time, so the peak RSS minus the file size, and RssAnon above its baseline, are what
the fit itself allocated. The sampled peaks can miss an allocation shorter than 5 ms; VmHWM cannot.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

MB = 2**20
TARGET_OVER_FILE = 300 * MB
CHUNK = 65536


def write_npy(path: str, n: int, p: int, seed: int = 0) -> int:
    """Write the (n, p) float32 matrix chunk by chunk; returns the file size in bytes."""
    rng = np.random.default_rng(seed)
    atoms = rng.standard_normal((128, p))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {**header, "shape": (n, p)})
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            support = np.argsort(rng.random((m, atoms.shape[0])), axis=1)[:, :4]
            weights = rng.laplace(size=(m, 4))
            block = np.einsum("ms,msp->mp", weights, atoms[support])
            block += 0.1 * rng.standard_normal((m, p))
            f.write(block.astype(np.float32).tobytes())
    return os.path.getsize(path)


def read_status() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile, RssShmem of this process, in bytes."""
    values: dict[str, int] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                values[key] = int(rest.split()[0]) * 1024
    return values


class Sampler(threading.Thread):
    """Polls /proc/self/status and keeps the largest value of every field."""

    def __init__(self, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak: dict[str, int] = {}
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for key, value in read_status().items():
                self.peak[key] = max(self.peak.get(key, 0), value)
            self.samples += 1
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def child(path: str, k: int, batch_size: int | None) -> None:
    """Run in the fresh process: warm up, then fit on the memory map; print JSON."""
    import resource

    import solvers

    warm = np.random.default_rng(1).standard_normal((2048, 64)).astype(np.float32)
    solvers.fit(warm, k, mode="online", max_iter=1, random_state=0, return_codes=False)
    del warm
    baseline = read_status()
    sampler = Sampler()
    sampler.start()
    start = time.perf_counter()
    X = np.load(path, mmap_mode="r")
    result = solvers.fit(
        X,
        k,
        batch_size=batch_size,
        max_iter=1,
        random_state=0,
        return_codes=False,
    )
    seconds = time.perf_counter() - start
    sampler.stop()
    final = read_status()
    report = {
        "seconds": seconds,
        "objective": result.objective,
        "is_memmap": isinstance(X, np.memmap),
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "baseline": baseline,
        "peak": sampler.peak,
        "final": final,
        "samples": sampler.samples,
    }
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--p", type=int, default=64)
    parser.add_argument("--k", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the fit's choice")
    parser.add_argument("--dir", default=None, help="where the temporary .npy goes")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.k, args.batch_size)
        return

    from benchmarks.common import machine_line, table

    print(machine_line())
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = os.path.join(tmp, "X.npy")
        start = time.perf_counter()
        size = write_npy(path, args.n, args.p)
        print(
            f"# wrote {path}: ({args.n}, {args.p}) float32, {size / MB:.1f} MB "
            f"in {time.perf_counter() - start:.1f} s"
        )
        command = [
            sys.executable,
            "-m",
            "benchmarks.memory",
            "--child",
            path,
            "--k",
            str(args.k),
            *(["--batch-size", str(args.batch_size)] if args.batch_size else []),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stdout, done.stderr, sep="\n")
            raise SystemExit(f"child failed with exit status {done.returncode}")
        report = json.loads(done.stdout.strip().splitlines()[-1])

    base, peak = report["baseline"], report["peak"]
    hwm = report["ru_maxrss"]
    print(
        f"# child: default fit, k={args.k}, batch_size={args.batch_size or 'default'}, one epoch "
        f"on the memory "
        f"map (np.memmap: {report['is_memmap']}): {report['seconds']:.1f} s, objective "
        f"{report['objective']:.4f}; {report['samples']} samples of /proc/self/status"
    )
    rows = [
        ["file size", f"{size / MB:.0f}", ""],
        ["baseline RSS before the fit (VmRSS)", f"{base['VmRSS'] / MB:.0f}", ""],
        ["baseline RssAnon before the fit", f"{base['RssAnon'] / MB:.0f}", ""],
        [
            "peak RSS (VmHWM = ru_maxrss)",
            f"{hwm / MB:.0f}",
            f"≤ file + 300 = {(size + TARGET_OVER_FILE) / MB:.0f}: "
            + ("met" if hwm <= size + TARGET_OVER_FILE else "NOT met"),
        ],
        [
            "peak RSS − file size",
            f"{(hwm - size) / MB:.0f}",
            "≤ 300: " + ("met" if hwm - size <= TARGET_OVER_FILE else "NOT met"),
        ],
        ["peak RssFile (sampled: map + libraries)", f"{peak['RssFile'] / MB:.0f}", ""],
        ["peak RssAnon (sampled)", f"{peak['RssAnon'] / MB:.0f}", ""],
        [
            "peak RssAnon − baseline: the fit's own allocations",
            f"{(peak['RssAnon'] - base['RssAnon']) / MB:.0f}",
            "≤ 300: "
            + ("met" if peak["RssAnon"] - base["RssAnon"] <= TARGET_OVER_FILE else "NOT met"),
        ],
    ]
    print(table(["figure", "MB", "target"], rows))


if __name__ == "__main__":
    main()
