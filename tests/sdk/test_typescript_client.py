"""The TypeScript SDK (openapi/clients/typescript): type-checked with tsc against the
generated types, and its end-to-end test run on Node against a real server (`npm test`)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from server_process import REPO, Server
from service_testing import ALICE_KEY

PACKAGE = REPO / "openapi" / "clients" / "typescript"


def test_typescript_sdk_end_to_end(server: Server) -> None:
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.skip("node and npm are not installed: the TypeScript SDK is not tested")
    if not (PACKAGE / "node_modules" / ".bin" / "tsc").exists():
        pytest.fail("TypeScript SDK dependencies missing: npm ci --prefix " + str(PACKAGE))
    env = {**os.environ, "SPARSECODING_URL": server.url, "SPARSECODING_API_KEY": ALICE_KEY}
    done = subprocess.run(
        [npm, "test"], cwd=PACKAGE, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout[-10000:] + done.stderr[-5000:]
    assert "# pass 2" in done.stdout and "# skipped 0" in done.stdout, done.stdout
