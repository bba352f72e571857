"""Everything a GPU machine has to show, in one run of at most 10 minutes, as one table.

    scripts/gpu-check            # on the GPU machine: exit 0 only when every check passes
    scripts/gpu-check --cpu      # the CPU path: the same checks where a CPU can make them

On the GPU machine of this workplace (no network): `scripts/gpu-wheels` here first, then the
command its header gives there.

Rows: CuPy usable (or why not); every `gpu`-marked test (none may skip on a GPU); CuPy/NumPy
agreement (the same fit and encode in float32 on both backends, objectives within 1e-5
relative); the HTTP API (`sparsecoding serve` on loopback, a `backend="cupy"` job run by a
worker with a GPU, a NumPy job beside it); and `benchmarks.p2_gpu` (time to SPAMS's 60-s F,
the code step against a float32 GEMM, peak device memory, host↔device traffic per epoch),
whose figures are measurements with their targets, not pass/fail. On the CPU path the GPU
tests skip, the cupy job must be refused (409) and P2 is the `--quick --backend numpy` run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

import solvers
from benchmarks.common import machine_line, table
from benchmarks.data import initial_dictionary, p1_patches

AGREEMENT = 1e-5  # relative objective difference allowed between CuPy and NumPy (float32)
P2_GPU_ARGS = ["--online-budgets", "0.5", "1", "2", "3", "5", "--batch-budgets", "1", "2", "3", "5"]
P2_CPU_ARGS = ["--quick", "--backend", "numpy"]
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Check:
    name: str
    status: str  # PASS, FAIL or "measured"
    detail: str


def cupy_row() -> dict[str, Any]:
    return next(row for row in solvers.available_backends() if row["name"] == "cupy")


def check_device(gpu: bool) -> Check:
    row = cupy_row()
    if row["available"]:
        gib = row["memory_bytes"] / 2**30
        return Check("CuPy usable", "PASS", f"{row['device']}, {gib:.0f} GiB")
    return Check("CuPy usable", "FAIL" if gpu else "n/a (--cpu)", str(row["reason"]))


def check_gpu_tests(gpu: bool, timeout: float) -> Check:
    """Every `gpu`-marked test of the suite: on a GPU none fails or skips."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "gpu.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"]
        try:
            subprocess.run(
                [*command, f"--junitxml={report}", "tests/solvers"], cwd=ROOT, timeout=timeout,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return Check("gpu tests", "FAIL", f"still running after {timeout:.0f} s")
        if not report.exists():
            return Check("gpu tests", "FAIL", "pytest wrote no report")
        suite = ElementTree.parse(report).getroot().find("testsuite")
        assert suite is not None
        counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    failed = counts["failures"] + counts["errors"]
    passed = counts["tests"] - failed - counts["skipped"]
    detail = f"{passed} passed, {counts['skipped']} skipped, {failed} failed"
    ok = failed == 0 and (not gpu or (counts["skipped"] == 0 and passed > 0))
    return Check("gpu tests", "PASS" if ok else "FAIL", detail)


def check_agreement() -> Check:
    """A batch FISTA fit and an encode in float32 on both backends, from the same start."""
    if not cupy_row()["available"]:
        return Check("CuPy/NumPy agreement", "n/a", "cupy unavailable: numpy only")
    X = p1_patches().astype(np.float32)
    W0 = initial_dictionary(X, 128)
    common = {"init": W0, "alpha": 1.0, "mode": "batch", "code_solver": "fista", "max_iter": 5}
    fits = {
        name: solvers.fit(X, 128, backend=name, tol=0.0, return_codes=False, **common)
        for name in ("numpy", "cupy")
    }
    fit_gap = abs(fits["cupy"].objective - fits["numpy"].objective) / fits["numpy"].objective
    W = fits["numpy"].dictionary
    objectives = {
        name: solvers.objective(X, solvers.encode(X, W, alpha=1.0, backend=name), W, 1.0)
        for name in ("numpy", "cupy")
    }
    encode_gap = abs(objectives["cupy"] - objectives["numpy"]) / objectives["numpy"]
    ok = max(fit_gap, encode_gap) <= AGREEMENT
    detail = (
        f"fit (batch, fista, 5 iterations) {fit_gap:.1e}, encode (default solvers: cd / fista) "
        f"{encode_gap:.1e} relative (limit {AGREEMENT:g})"
    )
    return Check("CuPy/NumPy agreement", "PASS" if ok else "FAIL", detail)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_job(api: httpx.Client, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in {"succeeded", "failed", "cancelled"}:
            return dict(job)
        time.sleep(0.2)
    return dict(api.get(f"/v1/jobs/{job_id}").json())


def check_http(gpu: bool, timeout: float) -> Check:
    """`sparsecoding serve` as documented; a cupy job must run on a worker with a GPU."""
    key = secrets.token_urlsafe(24)
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SPARSECODING_API_KEYS": f"gpucheck:{key}"}
        script = Path(sys.executable).with_name("sparsecoding")  # as the README installs it
        sparsecoding = [str(script)] if script.exists() else [sys.executable, "-m", "service"]
        command = [*sparsecoding, "serve", "--port", str(port), "--data-dir", f"{tmp}/data"]
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            return _http_checks(f"http://127.0.0.1:{port}", key, gpu, timeout)
        except (httpx.HTTPError, TimeoutError, KeyError) as exc:
            return Check("HTTP backend per request", "FAIL", f"{type(exc).__name__}: {exc}")
        finally:
            process.terminate()
            process.wait(30)


def _http_checks(url: str, key: str, gpu: bool, timeout: float) -> Check:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as api:
        while True:
            try:
                if api.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the service did not become ready")
            time.sleep(0.3)
        offered = api.get("/v1/backends").json()["data"]
        gpu_workers = {w for b in offered if b["name"] == "cupy" for w in b.get("workers", [])}
        X = np.random.default_rng(0).standard_normal((500, 16)).round(6).tolist()
        spec = {"data": X, "n_components": 8, "max_iter": 5, "random_state": 0}
        numpy_job = _wait_for_job(api, api.post("/v1/jobs", json=spec).json()["id"], timeout)
        cupy_reply = api.post("/v1/jobs", json={**spec, "backend": "cupy"})
        if not gpu:
            ok = cupy_reply.status_code == 409 and numpy_job["state"] == "succeeded"
            detail = f"numpy job {numpy_job['state']}; cupy job refused ({cupy_reply.status_code})"
            return Check("HTTP backend per request", "PASS" if ok else "FAIL", detail)
        cupy_job = _wait_for_job(api, cupy_reply.json()["id"], timeout)
    ok = (
        numpy_job["state"] == cupy_job["state"] == "succeeded"
        and cupy_job.get("worker") in gpu_workers
    )
    detail = (
        f"numpy job {numpy_job['state']}; cupy job {cupy_job['state']} on "
        f"{cupy_job.get('worker')} (GPU workers: {len(gpu_workers)})"
    )
    return Check("HTTP backend per request", "PASS" if ok else "FAIL", detail)


def check_p2(gpu: bool, timeout: float) -> list[Check]:
    """`benchmarks.p2_gpu`, its figures read back from its JSON summary."""
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "p2.json"
        args = P2_GPU_ARGS if gpu else P2_CPU_ARGS
        command = [sys.executable, "-m", "benchmarks.p2_gpu", *args, "--summary", str(summary_path)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        try:
            done = subprocess.run(command, cwd=ROOT, env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return [Check("P2 benchmark", "FAIL", f"still running after {timeout:.0f} s")]
        if done.returncode != 0 or not summary_path.exists():
            return [Check("P2 benchmark", "FAIL", f"exit status {done.returncode}")]
        s = json.loads(summary_path.read_text())
    target_s = "≤ 3 s" if gpu else "(GPU target ≤ 3 s)"
    return [
        Check(
            "P2: time to SPAMS's longest-budget F",
            "measured",
            f"{s['time_to_spams_F_s']:.2f} s vs SPAMS {s['spams_s']:.0f} s: "
            f"{s['speedup']:.1f}× ({s.get('best_setting', 'not reached')}); target {target_s}",
        ),
        Check(
            "P2: code step vs float32 GEMM",
            "measured",
            f"{s['code_step_tflops']:.2f} of {s['gemm_tflops']:.2f} TFLOP/s "
            f"({s['code_step_of_gemm']:.0%}; target ≥ 60%), "
            f"{s['fista_iterations_per_row']:.1f} FISTA iterations per row",
        ),
        Check(
            "P2: one online epoch",
            "measured",
            f"peak device memory {s['peak_bytes'] / 2**30:.2f} GiB; host→device "
            f"{s['to_device_per_X']:.2f}× X, device→host {s['to_host_bytes'] / 2**20:.1f} MiB "
            "(target: X once, then the dictionary and statistics)",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="the CPU path (no GPU expected)")
    parser.add_argument("--out", help="also write the table (Markdown) to this file")
    args = parser.parse_args()
    gpu = not args.cpu
    started = time.perf_counter()
    print(machine_line(), flush=True)
    # Each row is printed as it is known, so that a run stopped at the device's 10-minute
    # limit still shows what it measured; the budgets keep the whole under about 9 minutes.
    checks: list[Check] = []
    steps = (
        lambda: [check_device(gpu)],
        lambda: [check_gpu_tests(gpu, timeout=180)],
        lambda: [check_agreement()],
        lambda: [check_http(gpu, timeout=90)],
        lambda: check_p2(gpu, timeout=280),
    )
    for step in steps:
        for check in step():
            checks.append(check)
            print(f"# {check.name}: {check.status} — {check.detail}", flush=True)
    text = table(["check", "result", "detail"], [[c.name, c.status, c.detail] for c in checks])
    text += f"\n\n{'GPU' if gpu else 'CPU'} path, {time.perf_counter() - started:.0f} s"
    print(f"\n{text}")
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 1 if any(c.status == "FAIL" for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
