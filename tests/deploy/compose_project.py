"""The compose project of the container test (`test_containers.py`): podman and podman-compose
on docker-compose.yml, the API on 127.0.0.1, and the HTTP calls the test makes there."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "sparsecoding-e2e"
IMAGE = os.environ.get("SPARSECODING_IMAGE", "localhost/sparsecoding:latest")
GPU_IMAGE = os.environ.get("SPARSECODING_GPU_IMAGE", "localhost/sparsecoding-gpu:latest")
PODMAN = os.environ.get("PODMAN", "podman")
NPY = "application/x-npy"
DONE = {"succeeded", "failed", "cancelled"}
N_WORKERS = 2  # docker-compose.yml's replicas of `worker`


def run(*argv: str, timeout: float = 300, check: bool = True, **kw: Any) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def podman(*argv: str, **kw: Any) -> str:
    return run(PODMAN, *argv, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def started_at(inspect: dict[str, Any]) -> float:
    """A container's start as a Unix time, from podman's `2026-12-01T18:07:57.65260511Z`."""
    text = inspect["State"]["StartedAt"]
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", text)
    assert found, text
    stamp = dt.datetime.fromisoformat(found[1]).replace(tzinfo=dt.UTC)
    return stamp.timestamp() + float(found[2] or 0)


class Deployment:
    """The compose project: podman-compose on docker-compose.yml, and its API on loopback."""

    def __init__(self, workdir: Path) -> None:
        self.key = secrets.token_urlsafe(32)
        self.metrics_key = secrets.token_urlsafe(32)
        self.port = free_port()
        # What an operator's .env holds; given explicitly, so that one in the checkout is not
        # read (compose reads .env beside the compose file).
        self.env_file = workdir / "compose.env"
        self.env_file.write_text(
            f"SPARSECODING_API_KEYS=e2e:{self.key}\n"
            f"SPARSECODING_METRICS_KEY={self.metrics_key}\n"
            f"SPARSECODING_BIND=127.0.0.1\nSPARSECODING_PORT={self.port}\n"
            f"SPARSECODING_IMAGE={IMAGE}\n"
        )
        self.env_file.chmod(0o600)
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_at = 0.0  # when /readyz last said ready (Unix time)
        compose = os.environ.get("PODMAN_COMPOSE") or shutil.which("podman-compose")
        assert compose, "podman-compose is not installed (scripts/compose-test installs it)"
        self.compose_command = [compose, "--env-file", str(self.env_file), "-p", PROJECT]
        self.compose_command += ["-f", str(ROOT / "docker-compose.yml")]

    def compose(self, *argv: str, timeout: float = 300) -> str:
        return run(*self.compose_command, *argv, timeout=timeout, cwd=ROOT)

    def api(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def containers(self, service: str | None = None) -> list[dict[str, Any]]:
        """`podman inspect` of the project's containers (of one service), by name."""
        labels = ["--filter", f"label=com.docker.compose.project={PROJECT}"]
        if service is not None:
            labels += ["--filter", f"label=com.docker.compose.service={service}"]
        names = podman("ps", "-a", *labels, "--format", "{{.Names}}").split()
        if not names:
            return []
        return sorted(json.loads(podman("inspect", *names)), key=lambda c: c["Name"])

    def up(self) -> None:
        self.compose("up", "-d")
        self.wait_ready()

    def wait_ready(self, timeout: float = 180) -> dict[str, Any]:
        """/readyz once it says ready with every worker connected."""
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"{self.url}/readyz", timeout=5)
                last = r.text
                body = r.json()
                if r.status_code == 200 and body.get("workers") == N_WORKERS:
                    self.ready_at = time.time()
                    return dict(body)
            except (httpx.HTTPError, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.2)
        logs = {
            c["Name"]: podman("logs", "--tail", "20", c["Name"], check=False)
            for c in self.containers()
        }
        raise TimeoutError(f"not ready after {timeout} s: {last}\n{json.dumps(logs, indent=1)}")

    def down(self, *argv: str) -> None:
        self.compose("down", *argv)


def get_job(api: httpx.Client, job_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def wait_for_jobs(
    api: httpx.Client,
    ids: list[str],
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 300,
    seen: list[list[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [get_job(api, i) for i in ids]
        if seen is not None:
            seen.append(jobs)
        if until(jobs):
            return jobs
        time.sleep(0.1)
    raise TimeoutError(f"jobs not there after {timeout} s: {[get_job(api, i) for i in ids]}")


def upload_npy(api: httpx.Client, X: np.ndarray) -> str:
    r = api.post("/v1/datasets", content=npy_bytes(X), headers={"Content-Type": NPY})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def submit_job(api: httpx.Client, **spec: Any) -> str:
    r = api.post("/v1/jobs", json=spec)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def model_dictionary(api: httpx.Client, model_id: str) -> np.ndarray:
    r = api.get(f"/v1/models/{model_id}/dictionary", headers={"Accept": NPY})
    assert r.status_code == 200, r.text
    return np.load(io.BytesIO(r.content), allow_pickle=False)
