"""The first job of a fresh install: from launching `sparsecoding serve` to the job's first
progress event.

    PYTHONPATH=. .venv/bin/python -m benchmarks.first_job [--repeats 3] [--workers 2]

Each repeat runs three starts of the documented command, `sparsecoding serve --port P
--data-dir D` (stdout read for the printed API key):

- cold: a fresh data directory and a fresh, empty NUMBA_CACHE_DIR, which is what a fresh
  install has (no compiled kernels);
- warm: a fresh data directory, the numba cache the cold start left (a later first start);
- restart: the warm start's data directory again (every start after that).

As soon as `/healthz` answers, a small job is submitted (inline 200 × 16 float64 rows, as JSON
sends them, n_components 8, alpha 0.3) and its event stream followed until the first
`progress` event; once `/readyz` answers 200 (the kernels of both dtypes compiled, as on a
server that ran a while), the server gets SIGINT. Printed per kind of start: median seconds
from the launch to `/healthz`, to the 202 of the submission, to the job's `phase: compiling`
event (when it has one), to its first progress event and to `/readyz`, against the targets
for the first progress (15 s cold, 2 s later).
Measured on one machine in one run; the figures are wall-clock times of a 2-core VM, so read
them as medians, not as constants.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.common import machine_line, median, table

TARGETS = {"cold": 15.0, "warm": 2.0, "restart": 2.0}
JOB = {"n_components": 8, "alpha": 0.3, "max_iter": 50, "random_state": 0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sparsecoding() -> str:
    script = Path(sys.executable).parent / "sparsecoding"
    if not script.exists():
        raise SystemExit(f"{script} is missing: pip install -e . first")
    return str(script)


def one_start(
    data_dir: Path, numba_cache: Path, workers: int, key: str | None = None
) -> tuple[dict[str, float], str]:
    """Seconds from launch to each milestone of one start (see the module docstring), and the
    API key used: the one the start printed, else `key` (a restart prints none)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(numba_cache)}
    env = {k: v for k, v in env.items() if not k.startswith("SPARSECODING_")}
    launched = time.perf_counter()
    process = subprocess.Popen(
        [_sparsecoding(), "serve", "--port", str(port), "--data-dir", str(data_dir),
         "--workers", str(workers)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    printed: list[str] = []
    reader = threading.Thread(target=lambda: printed.extend(process.stdout or ()), daemon=True)
    reader.start()
    times: dict[str, float] = {}
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError("server exited:\n" + "".join(printed))
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        times["healthz"] = time.perf_counter() - launched
        key = key or _printed_key(printed, reader)
        headers = {"Authorization": f"Bearer {key}"}
        rows = np.random.default_rng(0).standard_normal((200, 16)).tolist()
        created = httpx.post(f"{url}/v1/jobs", json={"data": rows, **JOB}, headers=headers)
        created.raise_for_status()
        times["accepted"] = time.perf_counter() - launched
        job_id = created.json()["id"]
        with httpx.stream(
            "GET", f"{url}/v1/jobs/{job_id}/events", headers=headers, timeout=120
        ) as events:
            kind = None
            for line in events.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind == "phase":
                    if json.loads(line.removeprefix("data: "))["phase"] == "compiling":
                        times.setdefault("compiling", time.perf_counter() - launched)
                elif line.startswith("data: ") and kind in ("progress", "status"):
                    times["progress"] = time.perf_counter() - launched
                    break
        # Stopped once ready (the kernels of both dtypes compiled), as a server that ran a
        # while would be: a later start then finds them all in the cache.
        while httpx.get(f"{url}/readyz", timeout=5).status_code != 200:
            time.sleep(0.05)
        times["ready"] = time.perf_counter() - launched
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(60)
    return times, key


def _printed_key(printed: list[str], reader: threading.Thread) -> str:
    """The key a first start printed (before it listens; the reader thread may lag)."""
    while reader.is_alive() or printed:
        for line in printed:
            found = re.search(r"API key for tenant 'default'.*: (\S+)$", line.strip())
            if found:
                return found.group(1)
        time.sleep(0.01)
    raise RuntimeError("the server printed no API key:\n" + "".join(printed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(machine_line())
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in TARGETS}
    for _ in range(args.repeats):
        root = Path(tempfile.mkdtemp(prefix="first-job-"))
        try:
            cold, _ = one_start(root / "data-cold", root / "numba", args.workers)
            warm, key = one_start(root / "data-warm", root / "numba", args.workers)
            restart, _ = one_start(root / "data-warm", root / "numba", args.workers, key)
            for kind, times in (("cold", cold), ("warm", warm), ("restart", restart)):
                runs[kind].append(times)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    rows = []
    for kind, results in runs.items():
        cells = [kind]
        for milestone in ("healthz", "accepted", "compiling", "progress", "ready"):
            values = [r[milestone] for r in results if milestone in r]
            cells.append(f"{median(values):.2f}" if values else "—")
        progress = median([r["progress"] for r in results])
        cells.append(f"≤ {TARGETS[kind]:g}")
        cells.append("met" if progress <= TARGETS[kind] else "NOT met")
        rows.append(cells)
    print(f"\nmedians of {args.repeats} starts each, seconds from launching `sparsecoding serve`:")
    print(
        table(
            [
                "start",
                "/healthz",
                "job 202",
                "phase compiling",
                "first progress",
                "/readyz",
                "target",
                "",
            ],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
