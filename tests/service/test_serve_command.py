"""`sparsecoding serve` as a user runs it: its help and flags, Ctrl-C and SIGTERM sent to its
process group as a terminal sends them, `sparsecoding new-key`, and a fresh install's first
job (an empty numba cache: the kernels compile while the job waits, and the job says so)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_process import Server, console_script
from service_testing import ALICE_KEY, API_KEYS, auth, matrix, parse_sse

pytestmark = pytest.mark.slow

# About 5 s on one core: caught running, and finished after a restart.
X_LONG = matrix(1000, 32, seed=1)
LONG = {"n_components": 16, "max_iter": 4000, "tol": 0.0, "alpha": 0.2, "random_state": 0}
TRACEBACK_WORDS = ("Traceback", "KeyboardInterrupt", "CancelledError", "ERROR")


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [console_script(), "serve", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_flag_with_its_default() -> None:
    for flag in ("--help", "-h"):
        done = _serve(flag)
        assert done.returncode == 0, done.stderr
        text = " ".join(done.stdout.split())  # as printed, less the wrapping
        for option, default in (
            ("--host", "127.0.0.1"),
            ("--port", "8000"),
            ("--data-dir", "./data"),
            ("--workers", "2"),
        ):
            assert option in text and f"(default {default})" in text, done.stdout
    unknown = _serve("--prot", "8000")
    assert unknown.returncode == 2 and "--prot" in unknown.stderr


def test_unusable_settings_are_named_without_a_traceback(tmp_path: Path) -> None:
    for args, env, words in (
        (["--port", "99999"], {}, "port (--port or SPARSECODING_PORT): Input should be less"),
        ([], {"SPARSECODING_WORKERS": "none"}, "workers (--workers or SPARSECODING_WORKERS)"),
        ([], {"SPARSECODING_API_KEYS": "alice:short"}, "the key of tenant 'alice' is unsafe"),
    ):
        done = subprocess.run(
            [console_script(), "serve", "--data-dir", str(tmp_path / "data"), *args],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert words in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert "alice:short" not in done.stderr  # a key is never echoed


def _submit(client: httpx.Client, **spec: object) -> str:
    r = client.post("/v1/jobs", json={"data": X_LONG.tolist(), **spec})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _wait(
    client: httpx.Client, job_id: str, until: set[str], timeout: float = 90
) -> dict[str, Any]:
    """Poll the job until its state is in `until` (a running one: once it has progress)."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in until and (job["state"] != "running" or job["progress"]):
            return dict(job)
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGINT, 128 + signal.SIGINT), (signal.SIGTERM, -signal.SIGTERM)]
)
def test_a_stop_signal_to_the_process_group_stops_cleanly(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    """The server, its workers and an open event stream stop within seconds; one line says
    what became of the running job; no traceback; the job resumes at the next start."""
    server = Server(tmp_path / "data", {"SPARSECODING_API_KEYS": API_KEYS})
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers=auth(ALICE_KEY), timeout=30) as client:
            job_id = _submit(client, **LONG)
            _wait(client, job_id, {"running"})
            streamed: list[str] = []

            def follow() -> None:
                with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=60) as r:
                    streamed.extend(r.iter_text())

            stream = threading.Thread(target=follow)
            stream.start()
            code, log = server.interrupt(sig, timeout=30)
            stream.join(15)
            assert not stream.is_alive(), "the event stream outlived the server"
        assert code == status, log
        assert not [word for word in TRACEBACK_WORDS if word in log], log
        assert f"1 running job(s) ({job_id}) queued again" in log, log
        assert all(e["event"] != "status" for e in parse_sse("".join(streamed)))

        server.start()
        with httpx.Client(base_url=server.url, headers=auth(ALICE_KEY), timeout=30) as client:
            done = _wait(client, job_id, {"succeeded", "failed", "cancelled"})
        assert done["state"] == "succeeded" and done["attempts"] == 1, done  # not counted
    finally:
        server.stop()


def test_a_lost_key_is_replaced_while_the_service_runs(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")  # no keys configured: serve creates and prints one
    try:
        first = server.printed_key(server.start())
        server.stop()
        printed = server.start()
        assert "API key for tenant" not in printed
        assert f"sparsecoding new-key --data-dir {server.data_dir}" in printed, printed
        made = subprocess.run(
            [console_script(), "new-key", "--data-dir", str(server.data_dir)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        second = made.stdout.strip().rsplit(" ", 1)[-1]
        assert second != first and second not in (server.data_dir / "api_keys").read_text()
        for key in (first, second):  # the new one works on its first request
            assert httpx.get(f"{server.url}/v1/jobs", headers=auth(key)).status_code == 200
        refused = subprocess.run(
            [console_script(), "new-key", "--data-dir", str(server.data_dir), "--tenant", "a b"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert refused.returncode == 2 and "not a tenant name" in refused.stderr
    finally:
        server.stop()


def test_the_first_job_of_a_fresh_install_waits_for_the_kernels_and_says_so(
    tmp_path: Path,
) -> None:
    """An empty numba cache, a job submitted as soon as /healthz answers: /readyz and the
    job's event stream say the kernels are compiling; then the job fits and succeeds."""
    env = {"SPARSECODING_API_KEYS": API_KEYS, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    server = Server(tmp_path / "data", env)
    server.start(ready=False)
    try:
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["kernels"] == "compiling"
        assert "compiling the CPU kernels" in ready.json()["detail"]
        with httpx.Client(base_url=server.url, headers=auth(ALICE_KEY), timeout=120) as client:
            r = client.post(
                "/v1/jobs",
                json={"data": matrix(200, 16).tolist(), "n_components": 8, "max_iter": 5},
            )
            assert r.status_code == 202, r.text
            events = parse_sse(client.get(f"/v1/jobs/{r.json()['id']}/events").text)
        kinds = [e["event"] for e in events]
        phases = [json.loads(e["data"])["phase"] for e in events if e["event"] == "phase"]
        assert phases == ["compiling", "fitting"], events
        assert kinds.index("phase") < kinds.index("progress") and kinds[-1] == "status"
        assert json.loads(events[-1]["data"])["state"] == "succeeded"
        compiling = json.loads(next(e["data"] for e in events if e["event"] == "phase"))
        assert "first job after an install" in compiling["message"]
        _eventually_ready(server)
    finally:
        server.stop()


def _eventually_ready(server: Server, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (r := httpx.get(f"{server.url}/readyz")).status_code != 200:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)
    assert r.json()["kernels"] == "ready"


def test_ctrl_c_while_the_workers_are_still_starting_is_clean(tmp_path: Path) -> None:
    """/healthz answers before the embedded workers are up; a Ctrl-C then must not catch a
    worker process half-started (their Python ignores it from its first instruction)."""
    server = Server(tmp_path / "data", {"SPARSECODING_API_KEYS": API_KEYS})
    server.start(ready=False)
    code, log = server.interrupt(signal.SIGINT, timeout=30)
    assert code == 128 + signal.SIGINT, log
    assert not [word for word in TRACEBACK_WORDS if word in log], log
