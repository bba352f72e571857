"""Schemathesis against a real server with the committed description: every operation, every
phase (examples, coverage, fuzzing, stateful), positive and negative data, every check
(openapi/schemathesis.toml says where one cannot apply and why) — no 5xx, no response that
violates the description, no undocumented status or content type. Bounded: MAX_EXAMPLES per
operation, a fixed seed, so it stays fast and reproducible.

It runs the `schemathesis` command: its pytest plugin does not work with this pytest (9).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_process import REPO, Server
from service_testing import API_KEYS, BOB_KEY

pytest.importorskip("schemathesis")

MAX_EXAMPLES = 12
SEED = 1


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Its own server: what the fuzzer queues dies with it, away from the other tests."""
    env = {"SPARSECODING_API_KEYS": API_KEYS, "SPARSECODING_MAX_QUEUED_JOBS": "4"}
    server = Server(tmp_path_factory.mktemp("fuzz") / "data", env)
    server.start()
    yield server
    server.stop()


def test_api_conforms_to_its_description(fuzz_server: Server, tmp_path: Path) -> None:
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert command, "schemathesis is installed but its command is not next to python"
    env = {
        **os.environ,
        "SPARSECODING_API_KEY": BOB_KEY,
        "SCHEMATHESIS_HOOKS": "fuzz_hooks",
        "PYTHONPATH": str(Path(__file__).parent),
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [command, "--config-file", "openapi/schemathesis.toml", "run", "openapi/openapi.json",
         "--url", fuzz_server.url, "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
         "--no-shrink", "--request-timeout", "30", "--report-dir", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
