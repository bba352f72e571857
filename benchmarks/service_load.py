"""Load figures of the HTTP service on loopback (not a test: timings never pass or fail).

    python -m benchmarks.service_load [--upload-mb 512] [--jobs-per-client 20]
                                      [--encode-seconds 10] [--url URL --key KEY]

Without --url it starts `sparsecoding serve` (the console script beside this Python) on a
free port over a temporary data directory (SQLite synchronous=FULL, the default; 2 embedded
worker processes) and stops it at the end. Requests go through `benchmarks.http_load`, a
lean keep-alive client (httpx used more CPU per request than the API it measured). Client,
API and workers share this machine's cores.
It prints:
  1. `.npy` upload throughput (MB/s, sent with sendfile) and the API's peak RSS meanwhile;
  2. job submission latency p50/p99 with 32 concurrent clients (closed loop), twice:
     a. on the normal server, whose two workers run the accepted jobs *during* the
        measurement (API and fits compete for the cores);
     b. on a second server whose Dask scheduler has no worker, so jobs stay queued: the API
        alone (validation, durable group commit, dispatch) — skipped with --url;
  3. encode of 16 rows with a k = 128 dictionary at 100 requests/s (open loop, latency counted
     from each request's due time), `.npy` and JSON bodies, on an idle cluster;
  4. submission as in 2a while two long fits keep both workers busy (the new jobs queue).
Each phase also reports the API process's CPU time per request and its peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import numpy as np
import psutil

from benchmarks.common import machine_line
from benchmarks.http_load import Connection, Reply

KEY = "bench-key-0123456789abcdefghij"
NPY = "application/x-npy"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


REPO = Path(__file__).resolve().parents[1]


def start_server(
    data_dir: Path, scheduler: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """The service on a free port; with `scheduler`, using that (external) Dask scheduler."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARSECODING_")}
    env.update(
        SPARSECODING_API_KEYS=f"bench:{KEY}",
        SPARSECODING_MAX_QUEUED_JOBS="100000",
        SPARSECODING_MAX_UPLOAD_BYTES=str(8 * 2**30),
    )
    if scheduler is not None:
        env["SPARSECODING_DASK_SCHEDULER"] = scheduler
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "sparsecoding"), "serve", "--port", str(port),
         "--data-dir", str(data_dir)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    ready = "/healthz" if scheduler is not None else "/readyz"  # no worker: never "ready"
    for _ in range(600):
        try:
            if httpx.get(f"{url}{ready}", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not become ready")


def start_idle_scheduler() -> tuple[subprocess.Popen[bytes], str]:
    """A Dask scheduler without workers: jobs sent there stay queued."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    address = f"tcp://127.0.0.1:{port}"
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process, address
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("scheduler did not start")


def npy(array: np.ndarray) -> bytes:
    """`array` as the bytes of an `.npy` file."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1e3, q))


class PeakRSS:
    """Samples a process's resident memory every 5 ms in a thread; also its CPU time."""

    def __init__(self, pid: int | None) -> None:
        self.process = psutil.Process(pid) if pid else None
        self.peak = 0
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _cpu(self) -> float:
        if self.process is None:
            return 0.0
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def _run(self) -> None:
        while not self._stop.is_set() and self.process is not None:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRSS:
        self._cpu0 = self._cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_s = self._cpu() - self._cpu0

    def describe(self, requests: int) -> str:
        if self.process is None:
            return ""
        return (
            f"; API CPU {self.cpu_s / max(requests, 1) * 1e3:.2f} ms/request, "
            f"peak RSS {self.peak / 2**20:.0f} MiB"
        )


async def upload_throughput(
    client: httpx.AsyncClient, url: str, auth: dict[str, str], pid: int | None, mb: int
) -> None:
    rows = mb * 2**20 // (64 * 8)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.npy"
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, 64))
        rng = np.random.default_rng(0)
        for start in range(0, rows, 1 << 16):
            out[start : start + (1 << 16)] = rng.standard_normal((min(1 << 16, rows - start), 64))
        out.flush()
        del out
        size = path.stat().st_size

        base = psutil.Process(pid).memory_info().rss if pid else 0
        rates = []
        headers = {"Content-Type": NPY}
        for _ in range(3):
            async with Connection(url, auth) as connection:
                with PeakRSS(pid) as rss:
                    t0 = time.perf_counter()
                    reply = await connection.send_file("/v1/datasets", path, headers)
                    elapsed = time.perf_counter() - t0
            assert reply.status == 201, reply.body
            await client.delete(f"/v1/datasets/{reply.json()['id']}")
            rates.append(size / 2**20 / elapsed)
    print(
        f"upload {size / 2**20:.0f} MiB .npy: {np.median(rates):.0f} MB/s median of 3 "
        f"(best {max(rates):.0f}); API process RSS {base / 2**20:.0f} MiB before, "
        f"peak {rss.peak / 2**20:.0f} MiB during the last upload"
    )


async def submission_latency(
    client: httpx.AsyncClient,
    url: str,
    auth: dict[str, str],
    pid: int | None,
    per_client: int,
    label: str,
) -> None:
    X = np.random.default_rng(1).standard_normal((64, 8))
    r = await client.post("/v1/datasets", content=npy(X), headers={"Content-Type": NPY})
    spec = {"dataset_id": r.json()["id"], "n_components": 4, "max_iter": 1}
    latencies: list[float] = []

    async def one_client() -> None:
        async with Connection(url, auth) as connection:
            for _ in range(per_client):
                t0 = time.perf_counter()
                reply = await connection.post_json("/v1/jobs", spec)
                latencies.append(time.perf_counter() - t0)
                assert reply.status == 202, reply.body

    client_cpu = time.process_time()
    with PeakRSS(pid) as usage:
        await asyncio.gather(*(one_client() for _ in range(32)))
    client_cpu = time.process_time() - client_cpu
    print(
        f"job submission, 32 concurrent clients, {len(latencies)} jobs, {label}: "
        f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms"
        + usage.describe(len(latencies))
        + f"; client CPU {client_cpu / len(latencies) * 1e3:.2f} ms/request"
    )


async def _paced(
    connections: asyncio.Queue[Connection],
    send: Callable[[Connection], Awaitable[Reply]],
    due: float,
    latencies: list[float],
) -> None:
    """One request sent at `due` (open loop) on the next free connection; latency counted
    from `due`, so time spent waiting for a connection counts."""
    await asyncio.sleep(max(0.0, due - time.perf_counter()))
    connection = await connections.get()
    try:
        reply = await send(connection)
    finally:
        connections.put_nowait(connection)
    latencies.append(time.perf_counter() - due)
    assert reply.status == 200, reply.body


async def submission_beside_long_fits(
    client: httpx.AsyncClient, url: str, auth: dict[str, str], pid: int | None, per_client: int
) -> None:
    """Phase 2 again while two long fits (20,000 × 64, k = 256, online) keep both workers busy,
    as a burst of real jobs would: the two run, the 640 new ones stay queued."""
    X = np.random.default_rng(3).standard_normal((20_000, 64))
    r = await client.post("/v1/datasets", content=npy(X), headers={"Content-Type": NPY})
    spec = {"dataset_id": r.json()["id"], "n_components": 256, "max_iter": 10_000, "tol": 0.0}
    spec["mode"] = "online"
    long_jobs = [(await client.post("/v1/jobs", json=spec)).json()["id"] for _ in range(2)]
    while True:
        states = [(await client.get(f"/v1/jobs/{j}")).json()["state"] for j in long_jobs]
        if states == ["running", "running"]:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # past the fits' start-up
    label = "while 2 long fits keep both workers busy"
    await submission_latency(client, url, auth, pid, per_client, label)
    queued = (await client.get("/v1/jobs", params={"status": "queued", "limit": 100})).json()
    for job_id in long_jobs + [job["id"] for job in queued["data"]]:
        await client.post(f"/v1/jobs/{job_id}/cancel")
    # the rest of the queue (beyond the first page) runs quickly: tiny fits
    await drain(client)


async def drain(client: httpx.AsyncClient) -> None:
    """Wait until no job is queued or running, so that phases do not overlap."""
    while True:
        counts = [
            (await client.get("/v1/jobs", params={"status": s, "limit": 1})).json()["count"]
            for s in ("queued", "running")
        ]
        if sum(counts) == 0:
            return
        await asyncio.sleep(0.5)


async def encode_latency(
    client: httpx.AsyncClient, url: str, auth: dict[str, str], pid: int | None, seconds: float
) -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((1024, 64))
    r = await client.post("/v1/datasets", content=npy(X), headers={"Content-Type": NPY})
    spec = {"dataset_id": r.json()["id"], "n_components": 128, "max_iter": 2, "alpha": 0.5}
    job = (await client.post("/v1/jobs", json=spec)).json()
    while job["state"] not in ("succeeded", "failed", "cancelled"):
        await asyncio.sleep(0.2)
        job = (await client.get(f"/v1/jobs/{job['id']}")).json()
    assert job["state"] == "succeeded", job
    path = f"/v1/models/{job['model_id']}/encode"
    rows = X[:16]
    npy_body = npy(rows)
    json_body = json.dumps({"data": rows.tolist()}).encode()
    senders: dict[str, Callable[[Connection], Awaitable[Reply]]] = {
        "npy": lambda c: c.request("POST", path, npy_body, {"Content-Type": NPY, "Accept": NPY}),
        "json": lambda c: c.request("POST", path, json_body, {"Content-Type": "application/json"}),
    }
    pool = [Connection(url, auth) for _ in range(16)]
    for connection in pool:
        await connection.__aenter__()
    try:
        for fmt, send in senders.items():
            for _ in range(20):  # warm up (compiled kernels, dictionary cache)
                assert (await send(pool[0])).status == 200
            connections: asyncio.Queue[Connection] = asyncio.Queue()
            for connection in pool:
                connections.put_nowait(connection)
            latencies: list[float] = []
            start = time.perf_counter() + 0.05
            with PeakRSS(pid) as usage:
                await asyncio.gather(
                    *(
                        _paced(connections, send, start + i / 100, latencies)
                        for i in range(int(100 * seconds))
                    )
                )
            print(
                f"encode 16×64 rows, k=128, {fmt} body, 100 req/s for {seconds:g} s: "
                f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms"
                + usage.describe(len(latencies))
            )
    finally:
        for connection in pool:
            await connection.__aexit__(None, None, None)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--key", default=KEY)
    parser.add_argument("--pid", type=int, help="API process id, for RSS (with --url)")
    parser.add_argument("--upload-mb", type=int, default=512)
    parser.add_argument("--jobs-per-client", type=int, default=20)
    parser.add_argument("--encode-seconds", type=float, default=10.0)
    parser.add_argument(
        "--skip-idle", action="store_true", help="skip the submission run without workers"
    )
    args = parser.parse_args()
    print(machine_line())
    process = None
    tmp = tempfile.TemporaryDirectory()
    url, pid = args.url, args.pid
    if url is None:
        process, url = start_server(Path(tmp.name) / "data")
        pid = process.pid
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {args.key}"}
    try:
        async with httpx.AsyncClient(
            base_url=url, headers=headers, timeout=120, limits=limits
        ) as client:
            await upload_throughput(client, url, headers, pid, args.upload_mb)
            label = "jobs running on the 2 workers meanwhile"
            await submission_latency(client, url, headers, pid, args.jobs_per_client, label)
            t0 = time.perf_counter()
            await drain(client)
            ran = time.perf_counter() - t0
            print(f"  (the {32 * args.jobs_per_client} jobs then ran to the end in {ran:.0f} s)")
            await encode_latency(client, url, headers, pid, args.encode_seconds)
            await submission_beside_long_fits(client, url, headers, pid, args.jobs_per_client)
        if process is not None:
            process.terminate()
            process.wait(60)
            process = None
        if args.url is None and not args.skip_idle:
            scheduler, address = start_idle_scheduler()
            try:
                process, url = start_server(Path(tmp.name) / "idle", address)
                async with httpx.AsyncClient(
                    base_url=url, headers=headers, timeout=120, limits=limits
                ) as client:
                    label = "no worker (jobs stay queued: the API alone)"
                    await submission_latency(
                        client, url, headers, process.pid, args.jobs_per_client, label
                    )
            finally:
                if process is not None:
                    process.terminate()
                    process.wait(60)
                    process = None
                scheduler.terminate()
                scheduler.wait(60)
    finally:
        if process is not None:
            process.terminate()
            process.wait(60)
        tmp.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
